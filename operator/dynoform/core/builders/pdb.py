"""Formation + process type -> PodDisruptionBudget (pure).

A budget of one unavailable dyno keeps a type with two or more dynos serving through node
drains. A singleton or a type with a single dyno gets none: a budget there would block drains.
An autoscaled type gets one when its autoscaler may run two or more.
"""

from __future__ import annotations

from dynoform.api.v1alpha1 import Formation
from dynoform.core.builders.meta import Manifest, metadata, selector


def build_pdb(formation: Formation, ptype: str) -> Manifest | None:
    spec = formation.spec
    if spec.is_singleton(ptype) or spec.most_of(ptype) < 2:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(formation, ptype),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(formation, ptype)}},
    }
