"""The one reconcile: build -> apply -> prune -> observe -> status, for one Formation.

It compares the desired children with the cached observed ones and writes only a difference,
so a resync or a restart over a converged cluster writes nothing. Status is written only when
it changed, with the Events that go with the change, and after a write of children only once
the Formation's changes are quiet (`Reconciler._hold`). The caches belong to the Controller.

A scale window in force (dynoform.api.windows) replaces the quantities of the types it names in
what is applied, never in the spec; each reconcile asks to be woken at the windows' next edge.
Two phases shape what is desired: the release phase (dynoform.core.release) decides the image the
Deployments run and whether a release Job is due, and an autoscaled type's Deployment leaves
its replicas to the autoscaler (or, for an eco web type that sleeps, to the KEDA HTTP add-on),
handed over without a reset (`_hand_over`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from dynoform.api import conditions as c
from dynoform.api.labels import LABEL_TYPE
from dynoform.api.sizes import Catalog, SizeError, check, check_jobs, check_release
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation, describe
from dynoform.api.windows import in_force, next_edge, parse_instant
from dynoform.core import release
from dynoform.core.builders.formation import build_children
from dynoform.core.builders.release import release_job_name
from dynoform.core.compare import needs_apply, owns_replicas, stamp
from dynoform.core.windows import applied
from dynoform.operator.cache import Cache, ChildKey, child_key, key_of, name_of
from dynoform.operator.dynos import Key, Obj
from dynoform.operator.report import Reporter
from dynoform.runtime.kube import FIELD_MANAGER, Kube, KubeError

log = logging.getLogger("dynoform.operator.reconcile")
T = TypeVar("T")
# How long a Formation's changes must be quiet before the status that follows them is written,
# and the longest a busy one's status waits (decision 0019).
HOLD_SECONDS = 0.5
HOLD_MAX_SECONDS = 10.0
TIMER_SLACK = 0.01  # a timer may fire this much before its time


@dataclass(frozen=True)
class Hold:
    """A status held back: for which generation, since when, until when (the clock's seconds)."""

    generation: int | None
    since: float
    until: float


class NameConflict(Exception):
    """A child's name is taken by an object this Formation does not own."""


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        cache: Cache,
        now: Callable[[], str],
        report_later: Callable[[Key, float], None] | None = None,
        wake: Callable[[Key, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.cache = cache
        self.now = now
        # Given, called with a key and the seconds to the next edge of one of its scale
        # windows: the Formation must be reconciled again then (nothing else would trigger it).
        self.wake = wake
        self.reporter = Reporter(kube, cache, now)
        # Given, called with a key and a delay: a reconcile that wrote children leaves its status
        # to a pass of this key once its changes have been quiet that long (see _hold).
        self.report_later = report_later
        self.clock = clock
        self._held: dict[Key, Hold] = {}

    async def reconcile(self, key: Key) -> None:
        held = self._held.pop(key, None)
        body = self.cache.formation(key)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return  # Garbage collection removes the children through their owner references.
        try:
            formation = Formation.model_validate(body)
            catalog = Catalog(self.cache.sizes)
            sizes = check(formation.spec, catalog)
            release_size = check_release(formation.spec, catalog)
            job_sizes = check_jobs(formation.spec, catalog)
        except ValidationError as exc:
            await self.reporter.report(body, (False, c.INVALID_SPEC, describe(exc)))
            return
        except SizeError as exc:
            await self.reporter.report(body, (False, exc.reason, str(exc)))
            return
        now = parse_instant(self.now())
        window = in_force(formation.spec.scale_windows, now)
        edge = next_edge(formation.spec.scale_windows, now)
        if edge is not None and self.wake is not None:
            self.wake(key, (edge - now).total_seconds())
        observed = self.cache.children_of(key)
        logs = self.cache.dynos.failure_of(key, release_job_name(formation))
        plan = release.plan(formation, observed, release_size, logs)
        running = applied(formation, window)
        outcome, wrote = await self._converge(running, (sizes, job_sizes), plan, observed)
        if outcome[0] and self._hold(key, body["metadata"].get("generation"), wrote, held):
            return
        await self.reporter.report(body, outcome, formation, plan, window)

    def _hold(self, key: Key, generation: int | None, wrote: bool, held: Hold | None) -> bool:
        """Whether this pass leaves the status to a later one: dynos first, bookkeeping after.

        A pass that wrote children holds the status until the Formation's changes have been
        quiet for HOLD_SECONDS; a burst of changes (a script's, a GitOps sync's) then costs one
        status write, and the next change does not meet that write on the same object, which
        the API server serialises. The pass at the end of the hold finds the children in sync
        (the cache holds what was applied) and reports what the Deployments say by then.
        Passes within the hold (a rollout's progress) leave it to that pass too.

        Never for ever: a hold ends HOLD_MAX_SECONDS after it began, however busy; and only a
        new generation extends it, so a child that never compares equal (someone else's
        mutation) cannot loop on our own re-queue: the pass after its write reports."""
        if self.report_later is None:
            return False
        now = self.clock()
        if wrote:
            if held is not None and (
                held.generation == generation or now - held.since >= HOLD_MAX_SECONDS
            ):
                return False
            since = held.since if held is not None else now
            self._held[key] = Hold(generation, since, now + HOLD_SECONDS)
            self.report_later(key, HOLD_SECONDS)
            return True
        if held is not None and now < held.until - TIMER_SLACK:
            self._held[key] = held  # the pass at the hold's end reports
            return True
        return False

    async def _converge(
        self,
        formation: Formation,
        sizes: tuple[dict[str, DynoSizeSpec], dict[str, DynoSizeSpec]],
        plan: release.ReleasePlan,
        observed: dict[ChildKey, Obj],
    ) -> tuple[tuple[bool, str, str], bool]:
        """(ok, reason, message) of the apply step, and whether it wrote anything."""
        desired = [stamp(b) for b in self._desired(formation, sizes, plan)]
        # The release Job of spec.image stays once done: the record of that release.
        keep = {child_key(b) for b in desired} | ({("Job", plan.keep)} if plan.keep else set())
        try:
            # Every name is checked before anything is applied: a name we will not take over
            # refuses the Formation whole, never half-applied beside it.
            seen = [self._claim(formation, b, observed.get(child_key(b))) for b in desired]
            # Held before the first await: a concurrent reconcile of another Formation that
            # wants one of these names now meets it (a claim and this are one step of the loop).
            self.cache.reserve((formation.namespace, formation.name), {name_of(b) for b in desired})
            # Children are independent: apply them at once (the client bounds what is in flight).
            applied = await all_settled(
                [self._apply_one(formation, b, o) for b, o in zip(desired, seen, strict=True)]
            )
            pruned = await self._prune(formation, observed, keep)
        except NameConflict as exc:
            return (False, c.NAME_CONFLICT, str(exc)), False
        except KubeError as exc:
            if exc.transient:
                raise
            return (False, c.API_ERROR, str(exc)), False
        return (True, c.APPLIED, f"{len(desired)} objects in sync."), any(applied) or pruned

    def _desired(
        self,
        formation: Formation,
        sizes: tuple[dict[str, DynoSizeSpec], dict[str, DynoSizeSpec]],
        plan: release.ReleasePlan,
    ) -> list[Obj]:
        """The children: the process types' and the scheduled jobs' on the image released
        (none before the first release), and the release Job when one is due. `sizes`: the
        process types' and the jobs' resolved sizes."""
        children = []
        if plan.image is not None:
            spec = formation.spec.model_copy(update={"image": plan.image})
            running = formation.model_copy(update={"spec": spec})
            keda = "ScaledObject" in self.cache.served
            http_add_on = "HTTPScaledObject" in self.cache.served
            children = build_children(
                running, sizes[0], keda, jobs=sizes[1], http_add_on=http_add_on
            )
        return children + ([plan.job] if plan.job is not None else [])

    def _claim(self, formation: Formation, body: Obj, observed: Obj | None) -> Obj | None:
        """The cached object of the child's name, if any; NameConflict when the name is held
        by an object that is not ours. Known from the caches, without a read: our children's
        names and, from a metadata-only watch, those of every unlabelled object of the kind."""
        if observed is None:
            name = name_of(body)
            holder = self.cache.holders.get(name)
            foreign = self.cache.foreign.get(name)
            # Unlabelled but ours (someone removed the label): applied again, labels and all.
            mine = foreign == formation.metadata.get("uid")
            ours = (formation.namespace, formation.name)
            if (foreign is not None and not mine) or holder not in (None, ours):
                raise NameConflict(
                    f"{body['kind']} {name[2]} already exists and is not owned by this "
                    "Formation; dynoform will not take it over. Delete or rename it."
                )
        elif not _owned_by(observed, formation):
            raise NameConflict(
                f"{body['kind']} {body['metadata']['name']} carries dynoform's labels but is not "
                "owned by this Formation; dynoform will not take it over."
            )
        return observed

    async def _apply_one(self, formation: Formation, body: Obj, observed: Obj | None) -> bool:
        """Apply the child if it differs from what is observed; whether anything was written."""
        if body["kind"] == "Job" and observed is not None:
            return False  # A release Job is created once, never updated: its template is immutable.
        wrote = False
        if body["kind"] == "Deployment" and "replicas" not in body["spec"]:
            handed = await self._hand_over(formation, body, observed)
            wrote, observed = handed is not observed, handed
        if needs_apply(body, observed):
            await self._apply(body)
            return True
        return wrote

    async def _apply(self, body: Obj) -> Obj:
        applied = await self.kube.apply(body)
        applied.setdefault("kind", body["kind"])
        if not self.cache.has_newer(applied):  # a watch event may have overtaken the response
            self.cache.set_child(applied)
        log.info("Applied %s %s/%s", body["kind"], *key_of(body))
        return applied

    async def _hand_over(self, formation: Formation, body: Obj, observed: Obj | None) -> Obj:
        """Leave an autoscaled Deployment's replicas to its autoscaler, without a reset.

        A body without replicas is only safe once we no longer hold them: if we were their last
        manager, dropping them would reset the Deployment to 1 dyno. So while we hold them,
        another manager of ours first takes the current count, brought within the bounds, and
        keeps it until the autoscaler writes its own (Kube.hand_over_replicas). A new
        Deployment is created at its starting count (`quantity`), then handed over alike.
        """
        ptype = body["metadata"]["labels"][LABEL_TYPE]
        spec = formation.spec
        if observed is None:
            start = {**body, "spec": {"replicas": spec.start_of(ptype), **body["spec"]}}
            observed = await self._apply(start)
        if not owns_replicas(observed, FIELD_MANAGER):
            return observed
        scaling = spec.autoscaling_of(ptype)
        replicas = int((observed.get("spec") or {}).get("replicas", spec.start_of(ptype)))
        if scaling is not None:
            replicas = scaling.clamp(replicas)
        await self.kube.hand_over_replicas(body, replicas)
        log.info("Handed replicas of Deployment %s/%s over to its autoscaler", *key_of(body))
        return await self._apply(body)

    async def _prune(
        self, formation: Formation, observed: dict[ChildKey, Obj], keep: set[ChildKey]
    ) -> bool:
        """Delete the owned children no longer wanted; whether any was."""
        deleted = False
        for ck, obj in observed.items():
            if ck not in keep and _owned_by(obj, formation):
                await self.kube.delete(ck[0], formation.namespace, ck[1])
                self.cache.drop_child(obj)
                log.info("Deleted %s %s/%s (no longer wanted)", ck[0], formation.namespace, ck[1])
                deleted = True
        return deleted


async def all_settled(jobs: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run `jobs` at once and return their results once every one has finished; the first
    failure is raised then. Unlike a bare gather, whose first failure leaves the others running,
    no apply of this reconcile outlives it: the next pass of the key (one at a time) or a
    shutdown that closes the client would otherwise meet it still in flight."""
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


def _owned_by(obj: Obj, formation: Formation) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    uid = formation.metadata.get("uid")
    return any(r.get("uid") == uid and r.get("controller") for r in refs)
