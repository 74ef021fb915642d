"""Observed children -> the Formation's status (pure; the clock is passed in).

Ready is computed by a chain of checks (cert-manager's style): the spec must be valid, the
children applied, and every process type's Deployment must have observed its latest generation
and have all its dynos updated and available.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dynoform.api import conditions as c
from dynoform.api.autoscaling import AutoscalerStatus
from dynoform.api.status import SleepState as State
from dynoform.api.v1alpha1 import (
    HISTORY_MAX,
    Condition,
    Formation,
    FormationChange,
    FormationSpec,
    FormationStatus,
    JobStatus,
    ProcessStatus,
    ScaleWindowStatus,
)
from dynoform.core import spread

Verdict = tuple[bool, str, str]  # (ok, reason, message)


@dataclass(frozen=True)
class Phases:
    """What the release phase and the autoscalers add to status; None: not in play."""

    released_image: str | None = None
    release: Verdict | None = None  # the Released condition (dynoform.core.release)
    autoscaling: Verdict | None = None  # the Autoscaling condition (dynoform.core.scaling)
    autoscalers: Mapping[str, AutoscalerStatus] = field(default_factory=dict)
    jobs: Mapping[str, JobStatus] = field(default_factory=dict)  # by scheduled job
    scale_window: ScaleWindowStatus | None = None  # the window in force (dynoform.core.windows)
    sleep: Verdict | None = None  # the Sleeping condition (dynoform.core.sleep)
    sleeping: Mapping[str, State] = field(default_factory=dict)  # eco web: Sleeping or Awake


@dataclass(frozen=True)
class Observed:
    """What the cluster says of a Formation's children and dynos."""

    deployments: Mapping[str, Any] = field(default_factory=dict)  # by process type
    # The zone of each Running dyno, per process type; None: the pods are not judged.
    zones: Mapping[str, Sequence[str]] | None = None
    cluster_zones: int = 0  # how many zones the cluster's nodes are in
    # Per type: Running dynos whose readiness probe fails (web: not answering on $PORT).
    not_answering: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a reconcile did (ok, reason, message of its apply step), when, who made the
    formation what it is (for the history), and what the release phase and autoscalers say."""

    reconciled: Verdict
    now: str
    by: str | None = None
    phases: Phases = field(default_factory=Phases)


def summary(formation: Formation) -> str:
    """Heroku's formation form, sorted by type: `web=3:standard-2x worker=2:standard-1x`; an
    autoscaled type shows its bounds (`web=2..10:standard-2x`)."""
    spec = formation.spec
    return " ".join(f"{t}={_count(spec, t)}:{spec.size_of(t)}" for t in sorted(spec.processes))


def _count(spec: FormationSpec, ptype: str) -> str:
    scaling = spec.autoscaling_of(ptype)
    return f"{scaling.min}..{scaling.max}" if scaling else str(spec.quantity_of(ptype))


def scale_message(formation: Formation, by: str | None = None) -> str:
    """Heroku's log line for a formation change: `Scale to web=3, worker=2 by alice@example.com`.

    The user is left out when no admission stamp vouches for it.
    """
    spec = formation.spec
    line = "Scale to " + ", ".join(f"{t}={_count(spec, t)}" for t in sorted(spec.processes))
    return f"{line} by {by}" if by else line


def process_status(
    formation: Formation,
    ptype: str,
    deployment: Mapping[str, Any] | None,
    autoscaler: AutoscalerStatus | None = None,
    sleep: State | None = None,
) -> ProcessStatus:
    """The type's figures; an autoscaled type wants what its autoscaler asks for, a sleeping
    one no dyno."""
    st = (deployment or {}).get("status") or {}
    desired = autoscaler.current if autoscaler else formation.spec.quantity_of(ptype)
    return ProcessStatus(
        size=formation.spec.size_of(ptype),
        desired=0 if sleep == "Sleeping" else desired,
        ready=int(st.get("readyReplicas", 0)),
        updated=int(st.get("updatedReplicas", 0)),
        available=int(st.get("availableReplicas", 0)),
        autoscaler=autoscaler,
        sleep=sleep,
    )


def _rolled_out(ps: ProcessStatus, deployment: Mapping[str, Any] | None) -> bool:
    if deployment is None:
        return False
    generation = deployment.get("metadata", {}).get("generation")
    observed = (deployment.get("status") or {}).get("observedGeneration")
    total = int((deployment.get("status") or {}).get("replicas", 0))
    return (
        observed == generation
        and ps.updated >= ps.desired
        and ps.available >= ps.desired
        and total == ps.desired
    )


def readiness(
    formation: Formation,
    processes: Mapping[str, ProcessStatus],
    deployments: Mapping[str, Any],
    not_answering: Mapping[str, int] | None = None,
) -> tuple[bool, str, str]:
    """(ready, reason, message) from the process types' figures; `not_answering` says why
    some dynos that run are not available."""
    waiting = [
        f"{t}: {ps.available}/{ps.desired} available" + _why(formation, t, not_answering)
        for t, ps in sorted(processes.items())
        if not _rolled_out(ps, deployments.get(t))
    ]
    if waiting:
        return False, c.PROGRESSING, "Waiting for dynos: " + "; ".join(waiting)
    if all(ps.desired == 0 for ps in processes.values()):
        return True, c.SCALED_TO_ZERO, "Every process type is scaled to 0."
    total = sum(ps.desired for ps in processes.values())
    return True, c.AVAILABLE, f"All {total} dynos are available."


def _why(formation: Formation, ptype: str, not_answering: Mapping[str, int] | None) -> str:
    count = (not_answering or {}).get(ptype, 0)
    port = formation.spec.port_of(ptype)
    if not count or port is None:
        return ""
    dynos = "1 dyno runs but does not" if count == 1 else f"{count} dynos run but do not"
    return f" ({dynos} answer on $PORT {port} yet)"


def build_status(formation: Formation, observed: Observed, outcome: Outcome) -> FormationStatus:
    """The new status of `formation` as applied (a scale window's quantities in place of the
    spec's while one is in force: dynoform.core.windows.applied).

    A spec that could not be applied leaves the running dynos as they are,
    and so what status says of them; Ready turns False so that `kubectl wait` does not pass."""
    old = formation.status or FormationStatus()
    ok, reason, message = outcome.reconciled
    now, gen = outcome.now, formation.generation
    conds = c.set_condition(
        list(old.conditions or []), _cond(c.RECONCILED, ok, reason, message, now, gen)
    )
    if not ok:
        conds = c.set_condition(conds, _cond(c.READY, False, reason, message, now, gen))
        return old.model_copy(update={"observed_generation": gen, "conditions": conds})
    phases = outcome.phases
    processes = {
        t: process_status(
            formation,
            t,
            observed.deployments.get(t),
            phases.autoscalers.get(t),
            phases.sleeping.get(t),
        )
        for t in formation.spec.processes
    }
    verdicts: dict[str, Verdict | None] = {c.READY: _ready(formation, processes, observed, phases)}
    verdicts |= {c.RELEASED: phases.release, c.AUTOSCALING: phases.autoscaling}
    verdicts |= {c.SLEEPING: phases.sleep}
    if observed.zones is not None:
        live = _live(formation, processes)
        redundancy = spread.zone_redundancy(live, observed.zones, observed.cluster_zones)
        advice = spread.advice(formation)
        # None here: rolling out, the last verdict stands (not removed).
        for ctype, verdict in ((c.ZONE_REDUNDANT, redundancy), (c.REDUNDANCY_ADVICE, advice)):
            if verdict is not None:
                verdicts[ctype] = verdict
    for ctype, maybe in verdicts.items():
        if maybe is None:
            conds = c.remove_condition(conds, ctype)
        else:
            conds = c.set_condition(conds, _cond(ctype, *maybe, now, gen))
    return FormationStatus(
        observed_generation=gen,
        formation=summary(formation),
        processes=processes,
        jobs=dict(phases.jobs) or None,
        scale_window=phases.scale_window,
        released_image=phases.released_image,
        history=_history(old, summary(formation), now, outcome.by),
        conditions=conds,
    )


def _ready(
    formation: Formation,
    processes: Mapping[str, ProcessStatus],
    observed: Observed,
    phases: Phases,
) -> Verdict:
    if phases.release is not None and not phases.release[0]:
        return phases.release  # the dynos are held back from spec.image
    return readiness(formation, processes, observed.deployments, observed.not_answering)


def _live(formation: Formation, processes: Mapping[str, ProcessStatus]) -> Formation:
    """The formation with each autoscaled type at the count its autoscaler asks for now, and a
    sleeping one at 0: the number of dynos to judge the spread on."""
    spec = formation.spec
    changed = {
        t: spec.processes[t].model_copy(update={"quantity": ps.desired})
        for t, ps in processes.items()
        if ps.autoscaler is not None or ps.sleep == "Sleeping"
    }
    if not changed:
        return formation
    live = spec.model_copy(update={"processes": {**spec.processes, **changed}})
    return formation.model_copy(update={"spec": live})


def release_news(old: FormationStatus, new: FormationStatus) -> list[tuple[str, str, str]]:
    """(reason, message, event type) when the release phase moved on: started, failed or
    succeeded (a Warning for a failure)."""
    before, after = c.find(old.conditions, c.RELEASED), c.find(new.conditions, c.RELEASED)
    if after is None or (
        before is not None
        and (before.reason, before.message)
        == (
            after.reason,
            after.message,
        )
    ):
        return []
    etype = "Warning" if after.reason == c.RELEASE_FAILED else "Normal"
    return [(after.reason, after.message, etype)]


def redundancy_news(old: FormationStatus, new: FormationStatus) -> list[tuple[str, str, str]]:
    """(reason, message, event type) for each redundancy condition that flipped: a Warning when
    redundancy is lost or advised (once per flip), a Normal event when it comes back."""
    news = []
    for ctype in (c.ZONE_REDUNDANT, c.REDUNDANCY_ADVICE, c.AUTOSCALING):
        before, after = c.find(old.conditions, ctype), c.find(new.conditions, ctype)
        if after is None or (before is not None and before.status == after.status):
            continue
        if after.status == "False":
            news.append((after.reason, after.message, "Warning"))
        elif before is not None:  # back to True; a first True is no news
            news.append((after.reason, after.message, "Normal"))
    return news


def _history(
    old: FormationStatus, formation: str, now: str, by: str | None
) -> list[FormationChange]:
    history = list(old.history or [])
    if formation != old.formation:
        history.append(FormationChange(time=now, formation=formation, by=by))
    return history[-HISTORY_MAX:]


def _cond(ctype: str, ok: bool, reason: str, message: str, now: str, gen: int) -> Condition:
    return Condition(
        type=ctype,
        status="True" if ok else "False",
        reason=reason,
        message=message,
        last_transition_time=now,
        observed_generation=gen,
    )
