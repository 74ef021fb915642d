"""What the autoscalers do (pure): their bounds and counts for status, and the Autoscaling
condition.

The count an autoscaler asks for is the Deployment's `spec.replicas`, which it owns; so it reads
the same for a HorizontalPodAutoscaler and for the HPA that KEDA makes from a ScaledObject. The
condition is True while every autoscaled type has an autoscaler able to scale, and False, naming
the type, when KEDA is missing for a queue target or an autoscaler says it cannot scale (an
HPA's ScalingActive=False, e.g. no metrics server; a ScaledObject not Ready).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dynoform.api import conditions as c
from dynoform.api.autoscaling import HPA, SCALED_OBJECT, AutoscalerStatus
from dynoform.api.v1alpha1 import Formation

Verdict = tuple[bool, str, str]  # (ok, reason, message)
Obj = Mapping[str, Any]


def autoscaler_status(
    formation: Formation, ptype: str, autoscaler: Obj | None, deployment: Obj | None
) -> AutoscalerStatus | None:
    scaling = formation.spec.autoscaling_of(ptype)
    if scaling is None or autoscaler is None or deployment is None:
        return None
    replicas = (deployment.get("spec") or {}).get("replicas")
    current = int(replicas) if replicas is not None else formation.spec.start_of(ptype)
    return AutoscalerStatus(
        kind=str(autoscaler.get("kind") or scaling.kind),
        min=scaling.min,
        max=scaling.max,
        current=current,
    )


def verdict(formation: Formation, autoscalers: Mapping[str, Obj], keda: bool) -> Verdict | None:
    """The Autoscaling condition; None when no type is autoscaled. `autoscalers`: the observed
    HPA or ScaledObject of each type; `keda`: whether the cluster has ScaledObjects."""
    scaled = {
        t: a for t in sorted(formation.spec.processes) if (a := formation.spec.autoscaling_of(t))
    }
    if not scaled:
        return None
    faults: list[tuple[str, str]] = []
    for ptype in scaled:
        fault = _fault(formation, ptype, autoscalers.get(ptype), keda)
        if fault is not None:
            faults.append(fault)
    if faults:
        return False, faults[0][0], "; ".join(message for _, message in faults)
    described = "; ".join(f"{t} {a.describe()}" for t, a in scaled.items())
    return True, c.AUTOSCALERS_ACTIVE, f"Autoscaling {described}."


def _fault(formation: Formation, ptype: str, obj: Obj | None, keda: bool) -> tuple[str, str] | None:
    scaling = formation.spec.autoscaling_of(ptype)
    if scaling is None:
        return None
    if scaling.kind == SCALED_OBJECT and not keda:
        return c.KEDA_NOT_INSTALLED, (
            f"{ptype}: a queue target needs KEDA, and this cluster has no ScaledObject "
            f"(scaledobjects.keda.sh); {ptype} runs its quantity, "
            f"{formation.spec.quantity_of(ptype)}"
        )
    if obj is None:
        return None  # being created: nothing to judge yet
    ctype = "ScalingActive" if scaling.kind == HPA else "Ready"
    cond = _condition(obj, ctype)
    if scaling.kind == HPA and (cond is None or cond.get("status") != "False"):
        return None  # the HPA controller has not looked yet, or it can scale
    if scaling.kind == SCALED_OBJECT and cond is not None and cond.get("status") == "True":
        return None
    name = (obj.get("metadata") or {}).get("name", "")
    said = f"{cond.get('reason')}: {cond.get('message')}" if cond else "not taken up by KEDA yet"
    return c.AUTOSCALER_INACTIVE, f"{ptype}: {scaling.kind} {name} cannot scale ({said})"


def _condition(obj: Obj, ctype: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None
