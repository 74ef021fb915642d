"""Formation + process type -> its autoscaler: a HorizontalPodAutoscaler, or KEDA's ScaledObject
for a queue target (pure).

Either one owns the Deployment's replicas while it exists; the Deployment's body then leaves them
out (builders.deployment), and the reconcile hands them over (dynoform.operator.reconcile). KEDA's
ScaledObject makes an HPA of its own, so a type never gets both.
"""

from __future__ import annotations

from typing import Any

from dynoform.api.autoscaling import HPA, QUEUE_DEFAULT_METADATA, SCALED_OBJECT, Autoscaling
from dynoform.api.labels import child_name
from dynoform.api.v1alpha1 import Formation
from dynoform.core.builders.meta import Manifest, metadata


def autoscaler_kind(formation: Formation, ptype: str, keda: bool) -> str | None:
    """The kind that autoscales the type, or None: not autoscaled, or a queue target in a cluster
    without KEDA (the type then runs its quantity, and status says why)."""
    scaling = formation.spec.autoscaling_of(ptype)
    if scaling is None or (scaling.kind == SCALED_OBJECT and not keda):
        return None
    return scaling.kind


def build_autoscaler(formation: Formation, ptype: str, keda: bool) -> Manifest | None:
    kind = autoscaler_kind(formation, ptype, keda)
    scaling = formation.spec.autoscaling_of(ptype)
    if kind is None or scaling is None:
        return None
    if kind == HPA:
        return _hpa(formation, ptype, scaling)
    return _scaled_object(formation, ptype, scaling)


def _hpa(formation: Formation, ptype: str, scaling: Autoscaling) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": HPA,
        "metadata": metadata(formation, ptype),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": child_name(formation, ptype),
            },
            "minReplicas": scaling.min,
            "maxReplicas": scaling.max,
            "metrics": _metrics(scaling),
        },
    }


def _metrics(scaling: Autoscaling) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = []
    if scaling.cpu is not None:
        target = {"type": "Utilization", "averageUtilization": scaling.cpu}
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": target}})
    rt = scaling.response_time
    if rt is not None:
        metric: dict[str, Any] = {"name": rt.metric}
        if rt.selector:
            metric["selector"] = {"matchLabels": dict(rt.selector)}
        seconds = f"{rt.p95}m"  # the metric is in seconds: 500 ms is 500m
        if rt.source == "Pods":
            target = {"type": "AverageValue", "averageValue": seconds}
            metrics.append({"type": "Pods", "pods": {"metric": metric, "target": target}})
        else:
            target = {"type": "Value", "value": seconds}
            metrics.append({"type": "External", "external": {"metric": metric, "target": target}})
    return metrics


def _scaled_object(formation: Formation, ptype: str, scaling: Autoscaling) -> Manifest:
    queue = scaling.queue
    assert queue is not None  # the kind says so
    trigger: dict[str, Any] = {
        "type": queue.scaler,
        "metadata": {
            **QUEUE_DEFAULT_METADATA.get(queue.scaler, {}),
            **(queue.metadata or {}),
            queue.target_key: str(queue.length),
        },
    }
    if queue.authentication_ref:
        trigger["authenticationRef"] = {"name": queue.authentication_ref}
    triggers = [trigger]
    if scaling.cpu is not None:
        cpu = {"value": str(scaling.cpu)}
        triggers.append({"type": "cpu", "metricType": "Utilization", "metadata": cpu})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": SCALED_OBJECT,
        "metadata": metadata(formation, ptype),
        "spec": {
            "scaleTargetRef": {"name": child_name(formation, ptype)},
            "minReplicaCount": scaling.min,
            "maxReplicaCount": scaling.max,
            "triggers": triggers,
        },
    }
