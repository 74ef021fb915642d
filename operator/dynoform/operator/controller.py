"""The controller: caches fed by watches, the work queue, the resync, and who may reconcile.

Level-based, as controller-runtime's controllers are: every trigger (a Formation event, a
child's or a pod's event, a DynoSize or node change, the periodic resync, a retry) enqueues the
Formation's key, and the Reconciler compares what should be with what the caches hold. Reconciles
wait until every cache has loaded. With leader election, every replica keeps its caches warm
but only the Lease holder runs the workers.

Child kinds a cluster may not serve (KEDA's ScaledObject) are informed only while their CRD
exists: a watch of that one CRD, by name, starts and stops their informers and tells the
Reconciler (`cache.served`), so a cluster without KEDA costs nothing and fails nothing.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from dynoform.api import conditions as c
from dynoform.api.labels import CHILD_LABELS, LABEL_MANAGED_BY, MANAGED_BY
from dynoform.operator import metrics
from dynoform.operator.cache import Cache, key_of, slim_crd
from dynoform.operator.catalog import CATALOG_KEY, index_catalog
from dynoform.operator.dynos import Key, Obj, slim_node, slim_pod
from dynoform.operator.reconcile import Reconciler
from dynoform.runtime import metrics as runtime_metrics
from dynoform.runtime.election import Election
from dynoform.runtime.kube import Kube
from dynoform.runtime.resources import OPTIONAL_KINDS, RESOURCES
from dynoform.runtime.wire import trim
from dynoform.runtime.workqueue import WorkQueue

log = logging.getLogger("dynoform.operator.controller")
# A rollout's progress (a child's status, its pods) only changes the Formation's status: such
# events are folded over this window into one reconcile, so status is written once per window
# rather than once per dyno turning Ready. A change of a child's spec is handled at once.
STATUS_WINDOW = 1.0
CHILD_KINDS = tuple(k for k in RESOURCES if k not in OPTIONAL_KINDS)
# The objects of child kinds that are not ours: their names only (see Cache.foreign).
NOT_OURS = f"{LABEL_MANAGED_BY}!={MANAGED_BY}"


class Controller:
    """Caches, the work queue and the resync around one Reconciler; handlers feed it events."""

    def __init__(
        self,
        kube: Kube,
        namespaces: Sequence[str] = (),
        now: Callable[[], str] = c.now_rfc3339,
        workers: int = 8,
        resync_seconds: float = 300.0,
        election: Election | None = None,
    ) -> None:
        self.kube = kube
        # Empty: every namespace, one informer per child kind; else one per kind and namespace.
        self.namespaces: list[str | None] = list(namespaces) or [None]
        self.now = now
        self.cache = Cache()
        self.queue: WorkQueue[Key] = WorkQueue(self.reconcile, workers=workers)
        self.reconciler = Reconciler(
            kube, self.cache, now, report_later=self._report_later, wake=self.queue.wake
        )
        self.resync_seconds = resync_seconds
        # With an election, only the leader runs workers; every replica keeps its caches warm.
        self.election = election
        if election is None:
            runtime_metrics.leading(True)
        self.tally = metrics.FormationTally()
        self._synced: dict[tuple[str, str | None], asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._optional: dict[str, list[asyncio.Task[None]]] = {}  # kind -> its informers

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for ns in self.namespaces:
            for kind in CHILD_KINDS:
                self._spawn(self._inform_children(kind, ns))
                self._spawn(self._inform_names(kind, ns))
            # Our dynos' pods, for the verified spread (slimmed: there are many).
            self._synced["Pod", ns] = asyncio.Event()
            replace_pods = functools.partial(self._replace, ns)
            self._spawn(
                self.kube.inform("Pod", CHILD_LABELS, replace_pods, self._pod_event, ns, slim_pod)
            )
        for kind, on_event, shape in (
            ("DynoSize", self._size_event, trim),
            ("Node", self._node_event, slim_node),
        ):
            self._synced[kind, None] = asyncio.Event()
            replace = functools.partial(self._replace, None)
            self._spawn(self.kube.inform(kind, {}, replace, on_event, None, shape))
        for kind, crd in OPTIONAL_KINDS.items():
            self._synced[f"CRD {crd}", None] = asyncio.Event()
            on_list = functools.partial(self._crd_listed, kind, crd)
            on_crd = functools.partial(self._crd_event, kind)
            fields = {"metadata.name": crd}
            self._spawn(
                self.kube.inform(
                    "CustomResourceDefinition", {}, on_list, on_crd, None, slim_crd, fields
                )
            )
        self._spawn(self._resync())
        self._spawn(self._announce_sync())
        if self.election is None:
            self.queue.start()
        else:
            self._spawn(self.election.run(self.queue.start, self._stop_workers))

    def _stop_workers(self) -> None:
        self._spawn(self.queue.stop())

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.append(task)
        return task

    def _inform_children(self, kind: str, ns: str | None) -> Coroutine[Any, Any, None]:
        self._synced[kind, ns] = asyncio.Event()
        replace = functools.partial(self._replace, ns)
        return self.kube.inform(kind, CHILD_LABELS, replace, self._child_event, ns)

    def _inform_names(self, kind: str, ns: str | None) -> Coroutine[Any, Any, None]:
        """Which names of `kind` objects that are not ours hold: a new child's name is then
        known to be free (or not) without a read per child."""
        self._synced[f"{kind} names", ns] = asyncio.Event()
        replace = functools.partial(self._replace_names, ns)
        return self.kube.inform_names(kind, NOT_OURS, replace, self._name_event, ns)

    def _replace_names(self, namespace: str | None, kind: str, objs: list[Obj]) -> None:
        self.cache.replace_foreign(kind, namespace, objs)
        self._listed(f"{kind} names", namespace)

    def _name_event(self, etype: str, obj: Obj) -> None:
        if etype == "DELETED":
            self.cache.drop_foreign(obj)
        else:
            self.cache.set_foreign(obj)

    async def stop(self) -> None:
        await self.queue.stop()
        if self.election is not None:
            await self.election.release()
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
        # What exists now (modules, kopf, the listed caches) lives as long as the process: the
        # collector stops walking it, so a full collection only walks what came since.
        gc.freeze()
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
        """Every `resync_seconds`, every Formation once more; a pass over a cluster in sync
        writes nothing. Each pass is logged once its reconciles are done, with the writes made
        meanwhile: what a test waits for to see that nothing happened."""
        for done in itertools.count(1):
            await asyncio.sleep(self.resync_seconds)
            writes, keys = self.kube.writes, list(self.cache.formations)
            for key in [*keys, CATALOG_KEY]:
                self.queue.add(key, low=True)
            await self.queue.drained()
            made = self.kube.writes - writes
            log.info("Resync %d done: %d formations, %d writes", done, len(keys), made)

    # -- feeding the caches ----------------------------------------------------------------

    def formation_event(self, etype: str | None, obj: Obj) -> None:
        key = key_of(obj)
        if etype == "DELETED":
            self.cache.drop_formation(key)
            self.tally.forget(key)
            return
        self.tally.observe(key, obj)
        old = self.cache.formation(key)
        self.cache.set_formation(obj)
        # Our own status writes come back as events: they change neither spec nor identity.
        if old is None or _generation(old) != _generation(obj) or _uid(old) != _uid(obj):
            self.queue.add(key)

    def _replace(self, namespace: str | None, kind: str, objs: list[Obj]) -> None:
        """A fresh listing of `kind` in `namespace` (None: all, or cluster-scoped)."""
        if kind == "DynoSize":
            self.cache.set_sizes(objs)
            touched = {*self.cache.formations, CATALOG_KEY}
        elif kind == "Node":
            self.cache.dynos.replace_zones(objs)
            touched = set(self.cache.formations)
        elif kind == "Pod":
            touched = self.cache.dynos.replace_pods(namespace, objs)
        else:
            if namespace is not None:  # Keep what the other namespaces' informers listed.
                objs = [*objs, *self.cache.children_outside(kind, namespace)]
            touched = self.cache.replace_children(kind, objs)
        self._listed(kind, namespace)
        # Zones and pods only change what status says of the spread.
        status_only = kind in ("Node", "Pod")
        for key in touched:
            self.queue.add(key, low=status_only)

    def _listed(self, what: str, namespace: str | None) -> None:
        synced = self._synced.get((what, namespace))
        if synced is not None:  # None: an optional kind stopped meanwhile
            synced.set()

    # -- optional kinds: served while their CRD exists ---------------------------------------

    def _crd_listed(self, kind: str, crd: str, _: str, objs: list[Obj]) -> None:
        self._serve(kind, any(o["established"] for o in objs))
        self._synced[f"CRD {crd}", None].set()

    def _crd_event(self, kind: str, etype: str, obj: Obj) -> None:
        self._serve(kind, etype != "DELETED" and bool(obj["established"]))

    def _serve(self, kind: str, present: bool) -> None:
        """Start or stop informing `kind` as its CRD comes or goes; every Formation is then
        reconciled again (autoscalers move between KEDA and none)."""
        if present == (kind in self.cache.served):
            return
        if present:
            self.cache.served.add(kind)
            self._optional[kind] = [
                self._spawn(inform(kind, ns))
                for ns in self.namespaces
                for inform in (self._inform_children, self._inform_names)
            ]
        else:
            self.cache.served.discard(kind)
            for task in self._optional.pop(kind, []):
                task.cancel()
            for ns in self.namespaces:
                for what in (kind, f"{kind} names"):
                    synced = self._synced.pop((what, ns), None)
                    if synced is not None:
                        synced.set()  # nobody waits for a kind that is gone
            self.cache.replace_children(kind, [])
            self.cache.replace_foreign(kind, None, [])
        log.info(
            "%s %s: its CRD is %s",
            "Serving" if present else "Not serving",
            kind,
            "installed" if present else "gone",
        )
        for key in self.cache.formations:
            self.queue.add(key)

    def _child_event(self, etype: str, obj: Obj) -> None:
        # Judged before the cache takes the new version: is it the same generation?
        progress = etype == "MODIFIED" and self.cache.same_generation(obj)
        owner = self.cache.drop_child(obj) if etype == "DELETED" else self.cache.set_child(obj)
        if owner is not None and owner in self.cache.formations:
            if progress:
                self.queue.add_soon(owner, STATUS_WINDOW)
            else:
                self.queue.add(owner)

    def _pod_event(self, etype: str, obj: Obj) -> None:
        dynos = self.cache.dynos
        owner = dynos.drop_pod(obj) if etype == "DELETED" else dynos.set_pod(obj)
        if owner is not None and owner in self.cache.formations:
            self.queue.add_soon(owner, STATUS_WINDOW)

    def _node_event(self, etype: str, obj: Obj) -> None:
        # Heartbeats change nothing we use; only a zone appearing or moving does, and that
        # only changes what status says of the spread.
        if self.cache.dynos.node_event(etype, obj):
            for key in self.cache.formations:
                self.queue.add(key, low=True)

    def _size_event(self, etype: str, obj: Obj) -> None:
        if etype == "DELETED":
            self.cache.drop_size(obj)
        else:
            self.cache.set_size(obj)
        self.queue.add(CATALOG_KEY)
        for key in self.cache.users_of_size(obj["metadata"]["name"]):
            self.queue.add(key)

    def _report_later(self, key: Key, delay: float) -> None:
        self.queue.add_later(key, delay)

    async def reconcile(self, key: Key) -> None:
        """Reconcile one Formation once the caches have loaded (never "not listed yet" taken
        for "missing")."""
        await self.wait_synced()
        if key == CATALOG_KEY:
            await index_catalog(self.kube, self.cache)
        else:
            await self.reconciler.reconcile(key)


def _generation(obj: Obj) -> Any:
    return obj["metadata"].get("generation")


def _uid(obj: Obj) -> Any:
    return obj["metadata"].get("uid")
