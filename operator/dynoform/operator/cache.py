"""The operator's view of the cluster: Formations, their children and the DynoSizes.

Fed by watches (kopf for Formations, the runtime's informers for the rest); read by the reconciler,
which therefore never lists or gets what it already knows. Pure bookkeeping, no I/O.

What is held for long is held flat: Formations and children as compressed compact JSON
(bytes), pods as tuples of strings. Nested dicts would cost more memory, and every one of them is
a container the garbage collector walks on each full collection: with 1,000 Formations as dicts a
full collection paused the loop (webhooks, watches, reconciles) for 100-270 ms. Compressed, a
Deployment as the API server returns it takes a third of its JSON; it is inflated only for the
Formation being reconciled (tens of microseconds).
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from typing import Any

from dynoform.api.process import default_size
from dynoform.api.v1alpha1 import DynoSize, DynoSizeSpec
from dynoform.operator.dynos import Dynos, Key, Obj, owner_key

ChildKey = tuple[str, str]  # (kind, name)
Name = tuple[str, str, str]  # (kind, namespace, name): a name a child would take


def _pack(obj: Obj) -> bytes:
    # Level 1: most of the saving at a fraction of the default level's time.
    return zlib.compress(json.dumps(obj, separators=(",", ":")).encode(), 1)


def _unpack(packed: bytes) -> Any:
    return json.loads(zlib.decompress(packed))


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


class Cache:
    def __init__(self) -> None:
        # Decoded only for the Formation being reconciled (`formation`); the keys are the set
        # of Formations known.
        self.formations: dict[Key, bytes] = {}
        # Children are kept as compact JSON and decoded only for the Formation being reconciled:
        # a Deployment as nested Python dicts costs tens of KB, as JSON about 4 KB.
        self.children: defaultdict[Key, dict[ChildKey, bytes]] = defaultdict(dict)
        self.sizes: dict[str, DynoSizeSpec] = {}
        # Each DynoSize's status.catalog as last seen (dynoform.operator.catalog keeps it true).
        self.size_indexes: dict[str, Any] = {}
        self.dynos = Dynos()  # the pods of our dynos, and the zones of the nodes they run on
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
        return None if packed is None else dict(_unpack(packed))

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
        return None if packed is None else dict(_unpack(packed)["metadata"])

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
        return {ck: _unpack(packed) for ck, packed in self.children.get(key, {}).items()}

    def children_outside(self, kind: str, namespace: str) -> list[Obj]:
        """Every cached child of `kind` not in `namespace` (decoded)."""
        return [
            _unpack(packed)
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
        self.sizes, self.size_indexes = {}, {}
        for obj in objs:
            self.set_size(obj)

    def set_size(self, obj: Obj) -> None:
        try:
            size = DynoSize.model_validate(obj)
        except ValueError:
            return  # The CRD's schema refuses such objects; ignore one that slipped through.
        self.sizes[size.name] = size.spec
        self.size_indexes[size.name] = (obj.get("status") or {}).get("catalog")

    def drop_size(self, obj: Obj) -> None:
        self.sizes.pop(obj["metadata"]["name"], None)
        self.size_indexes.pop(obj["metadata"]["name"], None)

    def users_of_size(self, name: str) -> list[Key]:
        users = []
        for key, packed in self.formations.items():
            spec = _unpack(packed).get("spec") or {}
            processes = spec.get("processes") or {}
            named = {str(p["size"]).lower() for p in processes.values() if (p or {}).get("size")}
            unnamed = any(not (p or {}).get("size") for p in processes.values())
            # Scheduled jobs use sizes too (one that names none takes the types' default), but
            # do not decide the default: that is the process types' tier.
            jobs = [j or {} for j in (spec.get("jobs") or {}).values()]
            if any(str(j.get("size", "")).lower() == name for j in jobs):
                users.append(key)
                continue
            unnamed = unnamed or any(not j.get("size") for j in jobs)
            if name in named or (unnamed and name == default_size(named)):
                users.append(key)
        return users
