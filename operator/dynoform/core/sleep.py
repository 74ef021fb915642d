"""Whether an eco web type sleeps or is awake, for status (pure).

The KEDA HTTP add-on holds the type's Deployment at 0 replicas while it sleeps and scales it to
1 when a request comes; so the Deployment's `spec.replicas` says which, whoever wrote it. The
Sleeping condition says the same for `kubectl wait` and `dyno ps`, and, without the add-on, why
the type runs awake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dynoform.api import conditions as c
from dynoform.api.labels import child_name
from dynoform.api.process import SLEEPING_TYPE
from dynoform.api.status import SleepState as State
from dynoform.api.v1alpha1 import Formation
from dynoform.core.builders.sleep import SLEEP_AFTER_SECONDS, hosts_of, sleeps

Verdict = tuple[bool, str, str]  # (ok, reason, message)
HTTP_ADD_ON_CRD = "httpscaledobjects.http.keda.sh"


def state(
    formation: Formation, ptype: str, deployment: Mapping[str, Any] | None, http_add_on: bool
) -> State | None:
    """Sleeping when the add-on holds the type at 0 dynos, Awake otherwise; None for a type
    that does not sleep here (or whose Deployment is not there yet)."""
    if deployment is None or not sleeps(formation, ptype, http_add_on):
        return None
    replicas = (deployment.get("spec") or {}).get("replicas")
    return "Sleeping" if replicas == 0 else "Awake"


def verdict(
    formation: Formation, deployments: Mapping[str, Mapping[str, Any]], http_add_on: bool
) -> Verdict | None:
    """The Sleeping condition; None when no type would sleep."""
    ptype = SLEEPING_TYPE
    if ptype not in formation.spec.processes or not formation.spec.sleeps(ptype):
        return None
    if not http_add_on:
        return (
            False,
            c.HTTP_ADD_ON_NOT_INSTALLED,
            (
                f"{ptype}: an eco web type sleeps through the KEDA HTTP add-on, and this cluster "
                f"has no HTTPScaledObject ({HTTP_ADD_ON_CRD}); {ptype} runs awake, "
                f"{formation.spec.quantity_of(ptype)} dyno"
            ),
        )
    now = state(formation, ptype, deployments.get(ptype), http_add_on)
    minutes = SLEEP_AFTER_SECONDS // 60
    hosts = ", ".join(hosts_of(formation, ptype))
    through = (
        f"through the KEDA HTTP add-on's interceptor (HTTPScaledObject "
        f"{child_name(formation, ptype)}, hosts {hosts})"
    )
    if now == "Sleeping":
        return True, c.ASLEEP, f"{ptype} sleeps; the next request {through} wakes it."
    return (
        False,
        c.AWAKE,
        (f"{ptype} is awake; it sleeps after {minutes} minutes without requests {through}."),
    )
