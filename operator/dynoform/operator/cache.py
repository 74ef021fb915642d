"""The operator's view of the cluster: Formations, their children and the DynoSizes.

Fed by watches (kopf for Formations, kube.Kube.inform for the rest); read by the reconciler,
which therefore never lists or gets what it already knows. Pure bookkeeping, no I/O.

What is held for long is held flat: Formations and children as compact JSON (bytes), pods as
tuples of strings. Nested dicts would cost more memory, and every one of them is a container
the garbage collector walks on each full collection: with 1,000 Formations as dicts a full
collection paused the loop (webhooks, watches, reconciles) for 100-270 ms.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, NamedTuple

from dynoform.api.labels import LABEL_FORMATION, LABEL_TYPE
from dynoform.api.v1alpha1 import DEFAULT_SIZE, DynoSize, DynoSizeSpec

Key = tuple[str, str]  # (namespace, formation name)
ChildKey = tuple[str, str]  # (kind, name)
Name = tuple[str, str, str]  # (kind, namespace, name): a name a child would take
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


def _pack(obj: Obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def slim_crd(crd: Obj) -> Obj:
    """Whether a CRD is there and established: all the Controller asks of one. A CRD being
    deleted counts as gone at once: its objects are being deleted, and new ones are refused."""
    conditions = (crd.get("status") or {}).get("conditions") or []
    established = not crd["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Established" and c.get("status") == "True" for c in conditions
    )
    return {
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd["metadata"]["name"]},
        "established": established,
    }


def child_key(obj: Obj) -> ChildKey:
    return obj["kind"], obj["metadata"]["name"]


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def name_of(obj: Obj) -> Name:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def _controller_uid(obj: Obj) -> str:
    refs = obj["metadata"].get("ownerReferences") or []
    return next((str(r.get("uid", "")) for r in refs if r.get("controller")), "")


def owner_key(child: Obj) -> Key | None:
    meta = child["metadata"]
    name = (meta.get("labels") or {}).get(LABEL_FORMATION)
    return (meta.get("namespace", ""), name) if name else None


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


class Cache:
    def __init__(self) -> None:
        # Decoded only for the Formation being reconciled (`formation`); the keys are the set
        # of Formations known.
        self.formations: dict[Key, bytes] = {}
        # Children are kept as compact JSON and decoded only for the Formation being reconciled:
        # a Deployment as nested Python dicts costs tens of KB, as JSON about 4 KB.
        self.children: defaultdict[Key, dict[ChildKey, bytes]] = defaultdict(dict)
        self.sizes: dict[str, DynoSizeSpec] = {}
        self.pods: defaultdict[Key, dict[str, Pod]] = defaultdict(dict)
        self.zones: dict[str, str | None] = {}  # node name -> zone
        # Optional child kinds whose CRD the cluster has (kube.OPTIONAL_KINDS), e.g. ScaledObject.
        self.served: set[str] = set()
        # Who holds the names our children would take, so that a new child's name is known to
        # be free without a read: names of our labelled children -> their Formation; names of
        # objects of child kinds without our label (a metadata-only watch) -> the uid of their
        # controller, if any ("" when none).
        self.holders: dict[Name, Key] = {}
        self.foreign: dict[Name, str] = {}
        # Names a Formation has claimed and is applying: held at once, so that another
        # Formation's reconcile (the same name from "a" + "b-web" and "a-b" + "web") meets them
        # before either child exists (see `reserve`).
        self.reserved: dict[Key, set[Name]] = {}

    def formation(self, key: Key) -> Obj | None:
        """The cached Formation (a fresh dict, the caller's to change), or None."""
        packed = self.formations.get(key)
        return None if packed is None else dict(json.loads(packed))

    def set_formation(self, obj: Obj) -> None:
        meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
        self.formations[key_of(obj)] = _pack({**obj, "metadata": meta})

    def set_formation_status(self, key: Key, status: Obj) -> None:
        """Our status write, known before its watch event comes back."""
        body = self.formation(key)
        if body is not None:
            self.formations[key] = _pack({**body, "status": status})

    def drop_formation(self, key: Key) -> None:
        self.formations.pop(key, None)
        self.reserve(key, set())
        self.reserved.pop(key, None)

    def reserve(self, key: Key, names: set[Name]) -> None:
        """Hold `names` for the Formation `key` (it has claimed them and applies its children),
        and let go of the names it held before but no longer wants and has no child of."""
        kids = self.children.get(key, {})
        for n in self.reserved.get(key, set()) - names:
            if self.holders.get(n) == key and (n[0], n[2]) not in kids:
                del self.holders[n]
        for n in names:
            self.holders.setdefault(n, key)
        self.reserved[key] = names

    def set_child(self, obj: Obj) -> Key | None:
        owner = owner_key(obj)
        if owner is not None:
            self.children[owner][child_key(obj)] = _pack(obj)
            self.holders[name_of(obj)] = owner
        else:  # our label but no Formation's: not ours to take either
            self.set_foreign(obj)
        return owner

    def _cached_meta(self, obj: Obj) -> Obj | None:
        """The metadata of the cached version of this child, if any."""
        owner = owner_key(obj)
        packed = None if owner is None else self.children.get(owner, {}).get(child_key(obj))
        return None if packed is None else dict(json.loads(packed)["metadata"])

    def same_generation(self, obj: Obj) -> bool:
        """Whether the cached version of this child has `obj`'s generation: then only its status
        (a rollout's progress) or its metadata changed, never its spec. False for a kind
        without generations (a Service) and for a child not cached."""
        generation = obj["metadata"].get("generation")
        cached = self._cached_meta(obj) if generation is not None else None
        return cached is not None and cached.get("generation") == generation

    def has_newer(self, obj: Obj) -> bool:
        """Whether the cache already holds a later version of this child than `obj`.

        An apply's response can be handled after the watch event of a later change (the
        controller's status update, say): taken as it is, it would set the cache back, and no
        further event might come to correct it. Resource versions are opaque by contract but
        etcd revisions in practice; when either is not a number, nothing is judged newer.
        """
        cached = self._cached_meta(obj)
        if cached is None:
            return False
        have = str(cached.get("resourceVersion", ""))
        want = str(obj["metadata"].get("resourceVersion", ""))
        return have.isdigit() and want.isdigit() and int(have) > int(want)

    def drop_child(self, obj: Obj) -> Key | None:
        owner = owner_key(obj)
        if owner is not None:
            kids = self.children.get(owner, {})
            kids.pop(child_key(obj), None)
            if not kids:
                self.children.pop(owner, None)
            if self.holders.get(name_of(obj)) == owner:
                del self.holders[name_of(obj)]
        return owner

    def set_foreign(self, obj: Obj) -> None:
        """An object of a child kind without our label (its metadata only)."""
        self.foreign[name_of(obj)] = _controller_uid(obj)

    def drop_foreign(self, obj: Obj) -> None:
        self.foreign.pop(name_of(obj), None)

    def replace_foreign(self, kind: str, namespace: str | None, objs: list[Obj]) -> None:
        """A fresh listing of the unlabelled objects of `kind` in `namespace` (None: all)."""
        self.foreign = {
            n: uid
            for n, uid in self.foreign.items()
            if n[0] != kind or (namespace is not None and n[1] != namespace)
        }
        for obj in objs:
            self.set_foreign(obj)

    def children_of(self, key: Key) -> dict[ChildKey, Obj]:
        return {ck: json.loads(packed) for ck, packed in self.children.get(key, {}).items()}

    def children_outside(self, kind: str, namespace: str) -> list[Obj]:
        """Every cached child of `kind` not in `namespace` (decoded)."""
        return [
            json.loads(packed)
            for (ns, _), kids in self.children.items()
            if ns != namespace
            for (k, _), packed in kids.items()
            if k == kind
        ]

    def replace_children(self, kind: str, objs: list[Obj]) -> set[Key]:
        """Swap in a fresh listing of one kind; returns the owners whose children changed."""
        before = {
            (owner, ck): obj
            for owner, kids in self.children.items()
            for ck, obj in kids.items()
            if ck[0] == kind
        }
        for owner, ck in before:
            self.children[owner].pop(ck, None)
            self.holders.pop((ck[0], owner[0], ck[1]), None)
        touched = {owner for owner, _ in before}
        for obj in objs:
            new_owner = self.set_child(obj)
            if new_owner is not None:
                touched.add(new_owner)
        for owner in [o for o, kids in self.children.items() if not kids]:
            del self.children[owner]
        return touched

    def set_sizes(self, objs: list[Obj]) -> None:
        self.sizes = {}
        for obj in objs:
            self.set_size(obj)

    def set_size(self, obj: Obj) -> None:
        try:
            size = DynoSize.model_validate(obj)
        except ValueError:
            return  # The CRD's schema refuses such objects; ignore one that slipped through.
        self.sizes[size.name] = size.spec

    def drop_size(self, obj: Obj) -> None:
        self.sizes.pop(obj["metadata"]["name"], None)

    # -- pods and nodes: where the dynos run ------------------------------------------------

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

    def users_of_size(self, name: str) -> list[Key]:
        users = []
        for key, packed in self.formations.items():
            processes = (json.loads(packed).get("spec") or {}).get("processes") or {}
            if any((p or {}).get("size", DEFAULT_SIZE) == name for p in processes.values()):
                users.append(key)
        return users
