"""The one orchestration: build -> apply -> prune -> observe -> status, per Formation key.

Level-based, as controller-runtime's reconcilers are: every trigger (a Formation event, a
child's event, a DynoSize change, the periodic resync, a retry) enqueues the Formation's key,
and `reconcile(key)` compares the desired children with the cached observed ones. Only a
difference causes a write, so a resync or a restart over a converged cluster writes nothing.
Reconciles wait until the caches have loaded, so a restart never mistakes "not listed yet" for
"missing".
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from dynoform.admission import changed_by
from dynoform.api import conditions as c
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation, FormationStatus, describe
from dynoform.builders.formation import build_children
from dynoform.builders.meta import CHILD_LABELS
from dynoform.cache import Cache, ChildKey, Key, Obj, key_of
from dynoform.compare import needs_apply, stamp
from dynoform.kube import RESOURCES, Kube, KubeError, NotFound
from dynoform.sizes import Catalog, SizeError, check
from dynoform.status import build_status, scale_message
from dynoform.workqueue import WorkQueue

log = logging.getLogger("dynoform.reconcile")
CHILD_KINDS = tuple(RESOURCES)


class NameConflict(Exception):
    """A child's name is taken by an object this Formation does not own."""


class Controller:
    """Caches, the work queue and the reconcile; handlers feed it events."""

    def __init__(
        self,
        kube: Kube,
        namespaces: Sequence[str] = (),
        now: Callable[[], str] = c.now_rfc3339,
        workers: int = 8,
        resync_seconds: float = 300.0,
    ) -> None:
        self.kube = kube
        # Empty: every namespace, one informer per child kind; else one per kind and namespace.
        self.namespaces: list[str | None] = list(namespaces) or [None]
        self.now = now
        self.cache = Cache()
        self.queue: WorkQueue[Key] = WorkQueue(self.reconcile, workers=workers)
        self.resync_seconds = resync_seconds
        self._synced: dict[tuple[str, str | None], asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for kind in CHILD_KINDS:
            for ns in self.namespaces:
                self._synced[kind, ns] = asyncio.Event()
                replace = functools.partial(self._replace, ns)
                self._spawn(self.kube.inform(kind, CHILD_LABELS, replace, self._child_event, ns))
        self._synced["DynoSize", None] = asyncio.Event()
        replace_sizes = functools.partial(self._replace, None)
        self._spawn(self.kube.inform("DynoSize", {}, replace_sizes, self._size_event))
        self._spawn(self._resync())
        self._spawn(self._announce_sync())
        self.queue.start()

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.create_task(coro))

    async def stop(self) -> None:
        await self.queue.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_synced(self) -> None:
        await asyncio.gather(*(e.wait() for e in self._synced.values()))

    async def _announce_sync(self) -> None:
        """Log when the caches have loaded, then when the first pass over every Formation is
        done (the queue drained and no new Formation listed for a second): the restart figure
        of the benchmarks."""
        started = asyncio.get_running_loop().time()
        await self.wait_synced()
        kids = sum(len(k) for k in self.cache.children.values())
        log.info(
            "Caches synced: %d formations, %d children, %d dyno sizes",
            len(self.cache.formations),
            kids,
            len(self.cache.sizes),
        )
        seen, quiet = -1, 0.0
        while quiet < 1.0:
            await asyncio.sleep(0.1)
            busy = not self.queue.idle() or len(self.cache.formations) != seen
            seen, quiet = len(self.cache.formations), 0.0 if busy else quiet + 0.1
        elapsed = asyncio.get_running_loop().time() - started - quiet
        log.info(
            "First pass done: %d formations in %.1f s since start, %d writes",
            seen,
            elapsed,
            self.kube.writes,
        )

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)
            for key in list(self.cache.formations):
                self.queue.add(key)

    # -- feeding the caches ----------------------------------------------------------------

    def formation_event(self, etype: str | None, obj: Obj) -> None:
        key = key_of(obj)
        if etype == "DELETED":
            self.cache.drop_formation(key)
            return
        old = self.cache.formations.get(key)
        self.cache.set_formation(obj)
        # Our own status writes come back as events: they change neither spec nor identity.
        if old is None or _generation(old) != _generation(obj) or _uid(old) != _uid(obj):
            self.queue.add(key)

    def _replace(self, namespace: str | None, kind: str, objs: list[Obj]) -> None:
        """A fresh listing of `kind` in `namespace` (None: all, or cluster-scoped)."""
        if kind == "DynoSize":
            self.cache.set_sizes(objs)
            touched = set(self.cache.formations)
        else:
            if namespace is not None:  # Keep what the other namespaces' informers listed.
                objs = [*objs, *self._children_outside(kind, namespace)]
            touched = self.cache.replace_children(kind, objs)
        self._synced[kind, namespace].set()
        for key in touched:
            self.queue.add(key)

    def _children_outside(self, kind: str, namespace: str) -> list[Obj]:
        return [
            obj
            for (ns, _), kids in self.cache.children.items()
            if ns != namespace
            for (k, _), obj in kids.items()
            if k == kind
        ]

    def _child_event(self, etype: str, obj: Obj) -> None:
        owner = self.cache.drop_child(obj) if etype == "DELETED" else self.cache.set_child(obj)
        if owner is not None and owner in self.cache.formations:
            self.queue.add(owner)

    def _size_event(self, etype: str, obj: Obj) -> None:
        if etype == "DELETED":
            self.cache.drop_size(obj)
        else:
            self.cache.set_size(obj)
        for key in self.cache.users_of_size(obj["metadata"]["name"]):
            self.queue.add(key)

    # -- the reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: Key) -> None:
        await self.wait_synced()
        body = self.cache.formations.get(key)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return  # Garbage collection removes the children through their owner references.
        try:
            formation = Formation.model_validate(body)
            sizes = check(formation.spec, Catalog(self.cache.sizes))
        except ValidationError as exc:
            await self._report(body, (False, c.INVALID_SPEC, describe(exc)))
            return
        except SizeError as exc:
            await self._report(body, (False, exc.reason, str(exc)))
            return
        outcome = await self._converge(formation, sizes)
        await self._report(body, outcome, formation)

    async def _converge(
        self, formation: Formation, sizes: dict[str, DynoSizeSpec]
    ) -> tuple[bool, str, str]:
        key = (formation.namespace, formation.name)
        desired = [stamp(b) for b in build_children(formation, sizes)]
        observed = dict(self.cache.children.get(key, {}))
        try:
            # Children are independent: apply them at once (the client bounds what is in flight).
            await asyncio.gather(
                *(self._apply_one(formation, b, observed.get(_ck(b))) for b in desired)
            )
            await self._prune(formation, observed, {_ck(b) for b in desired})
        except NameConflict as exc:
            return False, c.NAME_CONFLICT, str(exc)
        except KubeError as exc:
            if exc.transient:
                raise
            return False, c.API_ERROR, str(exc)
        return True, c.APPLIED, f"{len(desired)} objects in sync."

    async def _apply_one(self, formation: Formation, body: Obj, observed: Obj | None) -> None:
        if observed is None:
            # Not in our label-scoped cache: an object of that name may still exist unlabelled.
            meta = body["metadata"]
            observed = await self.kube.get(body["kind"], meta["namespace"], meta["name"])
            if observed is not None and not _owned_by(observed, formation):
                raise NameConflict(
                    f"{body['kind']} {meta['name']} already exists and is not owned by this "
                    "Formation; dynoform will not take it over. Delete or rename it."
                )
        elif not _owned_by(observed, formation):
            raise NameConflict(
                f"{body['kind']} {body['metadata']['name']} carries dynoform's labels but is not "
                "owned by this Formation; dynoform will not take it over."
            )
        if needs_apply(body, observed):
            applied = await self.kube.apply(body)
            applied.setdefault("kind", body["kind"])
            self.cache.set_child(applied)
            log.info("Applied %s %s/%s", body["kind"], *key_of(body))

    async def _prune(
        self, formation: Formation, observed: dict[ChildKey, Obj], keep: set[ChildKey]
    ) -> None:
        for ck, obj in observed.items():
            if ck not in keep and _owned_by(obj, formation):
                await self.kube.delete(ck[0], formation.namespace, ck[1])
                self.cache.drop_child(obj)
                log.info(
                    "Deleted %s %s/%s (process type removed)", ck[0], formation.namespace, ck[1]
                )

    async def _report(
        self, body: Obj, outcome: tuple[bool, str, str], formation: Formation | None = None
    ) -> None:
        """Write status when it changed, and the Events that go with the change."""
        old = _parse_status(body)
        current = formation or _status_only(body, old)
        deployments = self._deployments(current) if formation else {}
        by = changed_by(formation) if formation else None
        new = build_status(current, deployments, outcome, self.now(), by)
        before, after = old.wire(), new.wire()
        if after == before:
            return
        ns, name = key_of(body)
        log.debug("Status of %s/%s changed: %s", ns, name, _changed(before, after))
        try:
            await self.kube.apply_status(name, ns, after)
        except NotFound:
            return  # Deleted meanwhile: its DELETED event drops it from the cache.
        body["status"] = after  # Our cache now; the watch event will agree.
        await self._events(body, old, new, formation, outcome)

    async def _events(
        self,
        body: Obj,
        old: FormationStatus,
        new: FormationStatus,
        formation: Formation | None,
        outcome: tuple[bool, str, str],
    ) -> None:
        if formation is not None and new.formation != old.formation:
            message = scale_message(formation, changed_by(formation))
            await self._event(body, "Scaled", message, "Normal")
        ok, reason, message = outcome
        was = c.find(old.conditions, c.RECONCILED)
        if not ok and (was is None or was.reason != reason or was.message != message):
            await self._event(body, reason, message, "Warning")

    async def _event(self, body: Obj, reason: str, message: str, etype: str) -> None:
        # Events are best effort, as everywhere in Kubernetes: one that cannot be recorded (a
        # namespace being deleted, say) must not fail the reconcile that already succeeded.
        try:
            await self.kube.event(body, reason, message, etype)
        except KubeError as exc:
            log.warning("Event %s not recorded for %s/%s: %s", reason, *key_of(body), exc)

    def _deployments(self, formation: Formation) -> dict[str, Obj]:
        kids = self.cache.children.get((formation.namespace, formation.name), {})
        out = {}
        for ptype in formation.spec.processes:
            dep = kids.get(("Deployment", f"{formation.name}-{ptype}"))
            if dep is not None:
                out[ptype] = dep
        return out


def _changed(before: Obj, after: Obj) -> Obj:
    return {k: after.get(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def _ck(body: Obj) -> ChildKey:
    return body["kind"], body["metadata"]["name"]


def _owned_by(obj: Obj, formation: Formation) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    uid = formation.metadata.get("uid")
    return any(r.get("uid") == uid and r.get("controller") for r in refs)


def _generation(obj: Obj) -> Any:
    return obj["metadata"].get("generation")


def _uid(obj: Obj) -> Any:
    return obj["metadata"].get("uid")


def _parse_status(body: Obj) -> FormationStatus:
    try:
        return FormationStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return FormationStatus()


def _status_only(body: Obj, status: FormationStatus) -> Formation:
    """A stand-in Formation for a spec that does not parse: only identity and status count."""
    return Formation.model_construct(metadata=body["metadata"], status=status)  # type: ignore[call-arg]
