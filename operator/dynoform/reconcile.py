"""The one reconcile: build -> apply -> prune -> observe -> status, for one Formation.

It compares the desired children with the cached observed ones and writes only a difference,
so a resync or a restart over a converged cluster writes nothing. Status is written only when
it changed, with the Events that go with the change. The caches belong to the Controller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pydantic import ValidationError

from dynoform.admission import changed_by
from dynoform.api import conditions as c
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation, FormationStatus, describe
from dynoform.builders.formation import build_children
from dynoform.cache import Cache, ChildKey, Key, Obj, key_of
from dynoform.compare import needs_apply, stamp
from dynoform.kube import Kube, KubeError, NotFound
from dynoform.sizes import Catalog, SizeError, check
from dynoform.status import build_status, redundancy_news, scale_message

log = logging.getLogger("dynoform.reconcile")


class NameConflict(Exception):
    """A child's name is taken by an object this Formation does not own."""


class Reconciler:
    def __init__(self, kube: Kube, cache: Cache, now: Callable[[], str]) -> None:
        self.kube = kube
        self.cache = cache
        self.now = now

    async def reconcile(self, key: Key) -> None:
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
        observed = self.cache.children_of(key)
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
        where = (self.cache.zones_by_type(key_of(body)), self.cache.cluster_zones())
        new = build_status(current, deployments, outcome, self.now(), by, where)
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
        for reason, message, etype in redundancy_news(old, new):
            await self._event(body, reason, message, etype)

    async def _event(self, body: Obj, reason: str, message: str, etype: str) -> None:
        # Events are best effort, as everywhere in Kubernetes: one that cannot be recorded (a
        # namespace being deleted, say) must not fail the reconcile that already succeeded.
        try:
            await self.kube.event(body, reason, message, etype)
        except KubeError as exc:
            log.warning("Event %s not recorded for %s/%s: %s", reason, *key_of(body), exc)

    def _deployments(self, formation: Formation) -> dict[str, Obj]:
        kids = self.cache.children_of((formation.namespace, formation.name))
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


def _parse_status(body: Obj) -> FormationStatus:
    try:
        return FormationStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return FormationStatus()


def _status_only(body: Obj, status: FormationStatus) -> Formation:
    """A stand-in Formation for a spec that does not parse: only identity and status count."""
    return Formation.model_construct(metadata=body["metadata"], status=status)  # type: ignore[call-arg]
