"""Redundancy you can see (pure): where each type's Running dynos really are, and Heroku's advice.

Topology spread constraints ask for redundancy; `ScheduleAnyway` may still put every dyno in one
zone when the others are full or cordoned. `zone_redundancy` judges from the zones of the nodes
the Running pods are on; `advice` is Heroku's "run at least two web dynos", a warning only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from dynoform.api import conditions as c
from dynoform.api.v1alpha1 import Formation

Verdict = tuple[bool, str, str]  # (ok, reason, message)


def zone_redundancy(
    formation: Formation, zones_by_type: Mapping[str, Sequence[str]], cluster_zones: int
) -> Verdict | None:
    """True when every non-singleton type with 2+ dynos runs in at least two zones (or in as many
    as the cluster has, when fewer). `zones_by_type`: the zone of each Running dyno, per type.

    None while such a type is rolling out (its Running dynos are not its quantity): half-started
    dynos may sit in one zone for a moment, and a verdict on them would flap.
    """
    spec = formation.spec
    need = min(2, cluster_zones)
    judged = [
        t for t in sorted(spec.processes) if not spec.is_singleton(t) and spec.quantity_of(t) >= 2
    ]
    if any(len(zones_by_type.get(t, ())) != spec.quantity_of(t) for t in judged):
        return None
    faults = []
    for ptype in judged:
        zones = Counter(zones_by_type[ptype])
        if len(zones) < need:
            zone, count = zones.most_common(1)[0]
            faults.append(f"{ptype}: {count} of {sum(zones.values())} dynos in {zone}")
    if faults:
        return False, c.NOT_SPREAD, "; ".join(faults)
    return True, c.SPREAD, f"Types with 2 or more dynos run in at least {need} zones."


def advice(formation: Formation) -> Verdict:
    """Heroku: run at least two web dynos (and two of any type marked critical); an autoscaled
    type is judged on the fewest it may run."""
    spec = formation.spec
    single = [
        t
        for t in sorted(spec.processes)
        if spec.is_critical(t) and not spec.is_singleton(t) and spec.floor_of(t) < 2
    ]
    if not single:
        return True, c.ADVICE_FOLLOWED, "Critical types run at least two dynos."
    names = " and ".join(single)
    return False, c.SINGLE_DYNO, f"Run at least two {names} dynos for redundancy."
