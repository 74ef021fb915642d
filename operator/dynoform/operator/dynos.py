"""Where a Formation's dynos run and how they fare: the pods' side of the cache.

Pods are many, so each is held as a small tuple of strings and bools (the GC does not track
it), shaped on receipt by `slim_pod`; nodes only for their zone. Status reads these for the
verified spread (each Running dyno's zone), readiness (dynos that run but fail their readiness
probe) and the release phase (how its Job's pod failed).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

from dynoform.api.labels import LABEL_FORMATION, LABEL_TYPE

Key = tuple[str, str]  # (namespace, formation name)
Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"


def slim_pod(pod: Obj) -> Obj:
    """What the verdict on spread needs of a dyno's pod, and no more (there are many pods)."""
    meta, labels = pod["metadata"], pod["metadata"].get("labels") or {}
    slim_meta = {
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "labels": {k: labels[k] for k in (LABEL_FORMATION, LABEL_TYPE) if k in labels},
    }
    if meta.get("deletionTimestamp"):
        slim_meta["deletionTimestamp"] = meta["deletionTimestamp"]
    status = pod.get("status") or {}
    slim_status: Obj = {"phase": status.get("phase")}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    if ready:
        slim_status["conditions"] = [{"type": "Ready", "status": ready[0].get("status")}]
    if failure := _failure(status):
        slim_status["failure"] = failure
    return {
        "kind": "Pod",
        "metadata": slim_meta,
        "spec": {"nodeName": (pod.get("spec") or {}).get("nodeName")},
        "status": slim_status,
    }


def _failure(status: Obj) -> str:
    """`exit N: message` of the first container that ended with a non-zero code ("" if none).
    The release Job's container sets terminationMessagePolicy FallbackToLogsOnError, so its
    message is the last lines of its log."""
    if "failure" in status:  # already slimmed
        return str(status["failure"])
    for cs in status.get("containerStatuses") or []:
        ended = (cs.get("state") or {}).get("terminated") or {}
        if ended.get("exitCode"):
            return f"exit {ended['exitCode']}: {(ended.get('message') or '').strip()}".strip()
    return ""


def slim_node(node: Obj) -> Obj:
    labels = node["metadata"].get("labels") or {}
    return {
        "kind": "Node",
        "metadata": {"name": node["metadata"]["name"], "labels": {ZONE: labels.get(ZONE)}},
    }


class Pod(NamedTuple):
    """What status needs of one pod: where it runs (spread), whether it answers (readiness),
    and how it ended when it failed (a release command's last log lines). Strings and bools
    only: the GC does not track it."""

    ptype: str
    node: str
    phase: str
    terminating: bool
    ready: bool = False
    failure: str = ""  # `exit N: <termination message>` of a container that failed


def owner_key(child: Obj) -> Key | None:
    meta = child["metadata"]
    name = (meta.get("labels") or {}).get(LABEL_FORMATION)
    return (meta.get("namespace", ""), name) if name else None


class Dynos:
    def __init__(self) -> None:
        self.pods: defaultdict[Key, dict[str, Pod]] = defaultdict(dict)
        self.zones: dict[str, str | None] = {}  # node name -> zone

    def set_pod(self, pod: Obj) -> Key | None:
        owner = owner_key(pod)
        if owner is not None:
            meta, status = pod["metadata"], pod.get("status") or {}
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
            self.pods[owner][meta["name"]] = Pod(
                (meta.get("labels") or {}).get(LABEL_TYPE, ""),
                (pod.get("spec") or {}).get("nodeName") or "",
                status.get("phase") or "",
                bool(meta.get("deletionTimestamp")),
                ready,
                _failure(status),
            )
        return owner

    def drop_pod(self, pod: Obj) -> Key | None:
        owner = owner_key(pod)
        if owner is not None:
            self.pods.get(owner, {}).pop(pod["metadata"]["name"], None)
        return owner

    def replace_pods(self, namespace: str | None, pods: list[Obj]) -> set[Key]:
        stale = {k for k in self.pods if namespace is None or k[0] == namespace}
        for key in stale:
            del self.pods[key]
        return stale | {o for o in (self.set_pod(p) for p in pods) if o is not None}

    def replace_zones(self, nodes: list[Obj]) -> None:
        self.zones = {n["metadata"]["name"]: _zone(n) for n in nodes}

    def node_event(self, etype: str, node: Obj) -> bool:
        """Take a node's event; whether its zone changed (appeared, moved or went)."""
        name = node["metadata"]["name"]
        before = self.zones.get(name)
        if etype == "DELETED":
            self.zones.pop(name, None)
            return True
        self.zones[name] = _zone(node)
        return before != self.zones[name]

    def zones_by_type(self, key: Key) -> dict[str, list[str]]:
        """The zone of each Running, not terminating dyno of a Formation, per process type."""
        out: dict[str, list[str]] = {}
        for pod in self.pods.get(key, {}).values():
            zone = self.zones.get(pod.node)
            if pod.phase == "Running" and zone and not pod.terminating:
                out.setdefault(pod.ptype, []).append(zone)
        return out

    def not_answering(self, key: Key) -> dict[str, int]:
        """Per process type, the Running dynos (not terminating) whose readiness probe fails:
        for a web type, a process that does not answer on $PORT."""
        out: dict[str, int] = {}
        for pod in self.pods.get(key, {}).values():
            if pod.ptype and pod.phase == "Running" and not pod.ready and not pod.terminating:
                out[pod.ptype] = out.get(pod.ptype, 0) + 1
        return out

    def failure_of(self, key: Key, job: str) -> str:
        """How the pod of Job `job` failed ("" if it did not, or is gone)."""
        for name, pod in self.pods.get(key, {}).items():
            if name.startswith(f"{job}-") and pod.failure:
                return pod.failure
        return ""

    def cluster_zones(self) -> int:
        return len({z for z in self.zones.values() if z})


def _zone(node: Obj) -> str | None:
    zone = (node["metadata"].get("labels") or {}).get(ZONE)
    return str(zone) if zone else None
