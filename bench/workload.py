"""The benchmark's Formations and the children they should get (pure).

Each Formation is web=2, worker=1, clock=1: three Deployments, web's Service and web's PDB.
"""

from __future__ import annotations

from typing import Any

from dynoform.api.sizes import Catalog, check
from dynoform.api.v1alpha1 import Formation
from dynoform.core.builders.formation import build_children

IMAGE = "registry.example.com/bench:v1"
CHILDREN_PER_FORMATION = 5
PODS_PER_FORMATION = 4


def formation(name: str, namespace: str, web: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "Formation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "image": IMAGE,
            "processes": {
                "web": {"command": "bundle exec puma -p $PORT", "quantity": web},
                "worker": {"command": "bundle exec sidekiq", "quantity": 1},
                "clock": {"command": "bundle exec clockwork clock.rb", "quantity": 1},
            },
        },
    }


def names(n: int) -> list[str]:
    return [f"app-{i:05d}" for i in range(n)]


def children(name: str, namespace: str, uid: str | None = None) -> list[dict[str, Any]]:
    """What the operator would apply; without a uid, ownerless (the baseline's bodies)."""
    body = formation(name, namespace)
    body["metadata"]["uid"] = uid or "baseline"
    f = Formation.model_validate(body)
    kids = build_children(f, check(f.spec, Catalog()))
    if uid is None:
        for kid in kids:
            del kid["metadata"]["ownerReferences"]
    return kids
