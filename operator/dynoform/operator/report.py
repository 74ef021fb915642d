"""What a reconcile reports: the Formation's status, written only when it changed, and the
Events that go with the change (best effort, as everywhere in Kubernetes).

Status is built from the cached children and dynos (dynoform.core.status); the release phase's
plan, each type's autoscaler and an eco web type's sleep add what they say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError

from dynoform.api import conditions as c
from dynoform.api.labels import child_name, cronjob_name
from dynoform.api.v1alpha1 import Formation, FormationStatus
from dynoform.api.windows import InForce
from dynoform.core import release, scaling, sleep
from dynoform.core.admission import changed_by
from dynoform.core.builders.autoscaler import autoscaler_kind
from dynoform.core.schedules import job_status
from dynoform.core.status import (
    Observed,
    Outcome,
    Phases,
    build_status,
    redundancy_news,
    release_news,
    scale_message,
)
from dynoform.core.windows import applied, credit, window_status
from dynoform.operator import metrics
from dynoform.operator.cache import Cache, key_of
from dynoform.operator.dynos import Obj
from dynoform.runtime.kube import Kube, KubeError, NotFound

log = logging.getLogger("dynoform.operator.reconcile")


class Reporter:
    def __init__(self, kube: Kube, cache: Cache, now: Callable[[], str]) -> None:
        self.kube = kube
        self.cache = cache
        self.now = now

    async def report(
        self,
        body: Obj,
        outcome: tuple[bool, str, str],
        formation: Formation | None = None,
        plan: release.ReleasePlan | None = None,
        window: InForce | None = None,
    ) -> None:
        """Write status when it changed, and the Events that go with the change. `formation`
        is the spec as declared; `window`, the scale window in force, whose quantities status
        reports as applied."""
        old = _parse_status(body)
        by = credit(old.scale_window, window, changed_by(formation)) if formation else None
        if formation is not None:
            formation = applied(formation, window)
        current = formation or _status_only(body, old)
        deployments = self._deployments(current) if formation else {}
        key = key_of(body)
        observed = Observed(
            deployments,
            self.cache.dynos.zones_by_type(key),
            self.cache.dynos.cluster_zones(),
            self.cache.dynos.not_answering(key),
        )
        phases = (
            self._phases(current, deployments, plan, window) if formation and plan else Phases()
        )
        new = build_status(current, observed, Outcome(outcome, self.now(), by, phases))
        before, after = old.wire(), new.wire()
        if after == before:
            return
        ns, name = key_of(body)
        log.debug("Status of %s/%s changed: %s", ns, name, _changed(before, after))
        try:
            await self.kube.apply_status(name, ns, after)
        except NotFound:
            return  # Deleted meanwhile: its DELETED event drops it from the cache.
        body["status"] = after
        self.cache.set_formation_status((ns, name), after)  # the watch event will agree
        await self._events(body, old, new, formation, outcome, by)

    async def _events(
        self,
        body: Obj,
        old: FormationStatus,
        new: FormationStatus,
        formation: Formation | None,
        outcome: tuple[bool, str, str],
        by: str | None,
    ) -> None:
        if formation is not None and new.formation != old.formation:
            await self._event(body, "Scaled", scale_message(formation, by), "Normal")
        ok, reason, message = outcome
        was = c.find(old.conditions, c.RECONCILED)
        if not ok and (was is None or was.reason != reason or was.message != message):
            await self._event(body, reason, message, "Warning")
        for reason, message, etype in redundancy_news(old, new) + release_news(old, new):
            if reason in metrics.RELEASE_RESULTS:
                metrics.RELEASES.labels(metrics.RELEASE_RESULTS[reason]).inc()
            await self._event(body, reason, message, etype)

    async def _event(self, body: Obj, reason: str, message: str, etype: str) -> None:
        # Events are best effort, as everywhere in Kubernetes: one that cannot be recorded (a
        # namespace being deleted, say) must not fail the reconcile that already succeeded.
        try:
            await self.kube.event(body, reason, message, etype)
        except KubeError as exc:
            log.warning("Event %s not recorded for %s/%s: %s", reason, *key_of(body), exc)

    def _phases(
        self,
        formation: Formation,
        deployments: dict[str, Obj],
        plan: release.ReleasePlan,
        window: InForce | None,
    ) -> Phases:
        """What status says of the release phase and of each type's autoscaler."""
        kids = self.cache.children_of((formation.namespace, formation.name))
        keda = "ScaledObject" in self.cache.served
        autoscalers = {}
        for ptype in formation.spec.processes:
            kind = autoscaler_kind(formation, ptype, keda)
            obj = kids.get((kind, child_name(formation, ptype))) if kind else None
            if obj is not None:
                autoscalers[ptype] = obj
        statuses = {
            t: st
            for t, obj in autoscalers.items()
            if (st := scaling.autoscaler_status(formation, t, obj, deployments.get(t)))
        }
        jobs = {
            job: job_status(formation, job, kids.get(("CronJob", cronjob_name(formation, job))))
            for job in sorted(formation.spec.jobs or {})
        }
        http_add_on = "HTTPScaledObject" in self.cache.served
        sleeping = {
            t: state
            for t in formation.spec.processes
            if (state := sleep.state(formation, t, deployments.get(t), http_add_on))
        }
        return Phases(
            released_image=plan.image,
            release=plan.verdict,
            autoscaling=scaling.verdict(formation, autoscalers, keda),
            autoscalers=statuses,
            jobs=jobs,
            scale_window=window_status(window),
            sleep=sleep.verdict(formation, deployments, http_add_on),
            sleeping=sleeping,
        )

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


def _parse_status(body: Obj) -> FormationStatus:
    try:
        return FormationStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return FormationStatus()


def _status_only(body: Obj, status: FormationStatus) -> Formation:
    """A stand-in Formation for a spec that does not parse: only identity and status count."""
    return Formation.model_construct(metadata=body["metadata"], status=status)  # type: ignore[call-arg]
