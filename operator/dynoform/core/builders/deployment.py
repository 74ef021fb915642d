"""Formation + process type -> Deployment (pure).

The pod is a dyno's (dynoform.api.dyno); the Deployment adds how many, how they roll out
(singletons by Recreate, so two never run at once; others surge first) and how they spread
across zones and hosts.
"""

from __future__ import annotations

from typing import Any

from dynoform.api.dyno import dyno_pod
from dynoform.api.labels import LABEL_SIZE
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation
from dynoform.core.builders.meta import Manifest, labels, metadata, selector

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def build_deployment(
    formation: Formation, ptype: str, size: DynoSizeSpec, autoscaled: bool = False
) -> Manifest:
    """`autoscaled`: an autoscaler owns the replicas, so the body leaves them out (a server-side
    apply that set them would take them back from it on every change)."""
    spec = formation.spec
    singleton = spec.is_singleton(ptype)
    pod_labels = {**labels(formation, ptype), LABEL_SIZE: spec.size_of(ptype)}
    body: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(formation, ptype)},
        "strategy": _strategy(singleton),
        "template": {"metadata": {"labels": pod_labels}, "spec": _pod(formation, ptype, size)},
    }
    if not autoscaled:
        body = {"replicas": spec.quantity_of(ptype), **body}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(formation, ptype),
        "spec": body,
    }


def _strategy(singleton: bool) -> dict[str, Any]:
    if singleton:
        return {"type": "Recreate"}
    # Surge first, so a rollout never drops below the declared quantity.
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}


def _spread(formation: Formation, ptype: str, key: str) -> dict[str, Any]:
    return {
        "maxSkew": 1,
        "topologyKey": key,
        "whenUnsatisfiable": formation.spec.spread.when_unsatisfiable,
        "labelSelector": {"matchLabels": selector(formation, ptype)},
        # Spread each rollout's pods on their own, so old pods do not skew the new ones.
        "matchLabelKeys": ["pod-template-hash"],
        # Count only nodes a dyno may run on. The default (Ignore) counts tainted nodes too,
        # such as control-plane nodes or another size's dedicated pool: each is a host with no
        # dyno, and under DoNotSchedule that caps every other host at one dyno per type.
        # https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
        "nodeTaintsPolicy": "Honor",
    }


def _pod(formation: Formation, ptype: str, size: DynoSizeSpec) -> dict[str, Any]:
    spread = [_spread(formation, ptype, ZONE), _spread(formation, ptype, HOST)]
    return {**dyno_pod(formation, ptype, size), "topologySpreadConstraints": spread}
