"""The fake Nodes that kwok runs, and what "the cluster is ready" means.

Owns the Node manifests (pure) and the readiness predicate. The Nodes are plain `v1.Node` objects
that kwok manages (`--manage-all-nodes`): its stages mark them Ready, keep their Leases fresh and
turn Pods bound to them Running. Status (capacity, allocatable) set at creation is kept by the API
server and preserved by kwok's node-initialize stage.

A new Node gets the `node.kubernetes.io/not-ready:NoSchedule` taint from the TaintNodesByCondition
admission plugin; only the controller-manager's node-lifecycle controller removes it, once the
Node is Ready. So "Ready and untainted" proves that kwok and the controller-manager both work.
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-nodes-by-condition
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ZONES = ("zone-a", "zone-b", "zone-c")
NODES_PER_ZONE = 2
REGION = "local"
CAPACITY = {"cpu": "64", "memory": "512Gi", "pods": "250", "ephemeral-storage": "1Ti"}
FAKE_ANNOTATION = "kwok.x-k8s.io/node"  # = fake: kwok manages exactly these Nodes
NOT_READY_TAINTS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})


@dataclass(frozen=True)
class NodeSpec:
    name: str
    zone: str
    capacity: tuple[tuple[str, str], ...] = tuple(CAPACITY.items())


def default_nodes(zones: Sequence[str] = ZONES, per_zone: int = NODES_PER_ZONE) -> list[NodeSpec]:
    """kwok-zone-a-1, kwok-zone-a-2, kwok-zone-b-1, ..."""
    return [NodeSpec(f"kwok-{zone}-{i}", zone) for zone in zones for i in range(1, per_zone + 1)]


def node_manifest(spec: NodeSpec) -> dict[str, Any]:
    """A fake Node in `spec.zone`, with the labels a cloud provider's Node would carry."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": {
                "kubernetes.io/hostname": spec.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/region": REGION,
                "topology.kubernetes.io/zone": spec.zone,
                "type": "kwok",
            },
            "annotations": {FAKE_ANNOTATION: "fake"},
        },
        "spec": {"providerID": f"kwok://{spec.name}"},
        "status": {"capacity": dict(spec.capacity), "allocatable": dict(spec.capacity)},
    }


def is_ready(node: dict[str, Any]) -> bool:
    """The Node's Ready condition is True and no not-ready/unreachable taint remains."""
    conditions = node.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    taints = node.get("spec", {}).get("taints") or []
    return ready and not any(t.get("key") in NOT_READY_TAINTS for t in taints)


def unready(nodes: Iterable[dict[str, Any]], expected: Iterable[str]) -> list[str]:
    """Names in `expected` that are missing from `nodes` or not ready yet."""
    ready = {n["metadata"]["name"] for n in nodes if is_ready(n)}
    return sorted(set(expected) - ready)
