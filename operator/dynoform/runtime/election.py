"""Leader election among operator replicas, on a coordination.k8s.io Lease (client-go's rules).

Every replica keeps its caches warm and serves the webhooks; only the Lease holder runs the
reconcile workers. A follower takes the Lease when its record has not changed for a lease
duration, judged by the follower's own clock from when it last saw the record change (so clock
skew between nodes does not matter). The leader renews every retry period, stops leading when it
could not renew for the renew deadline, and releases the Lease on a clean shutdown, so the next
replica takes over at its next retry instead of waiting for expiry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dynoform.runtime import metrics
from dynoform.runtime.kube import Kube, KubeError

log = logging.getLogger("dynoform.runtime.election")

LEASE_SECONDS = 10
RENEW_DEADLINE = 7.0
RETRY_PERIOD = 2.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Election:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.clock = clock
        self.leading = False
        metrics.leading(False)
        self._seen: tuple[Any, float] | None = None  # (lease spec, when we saw it change)
        self._renewed = 0.0

    async def run(self, started: Callable[[], None], stopped: Callable[[], None]) -> None:
        """Forever: one round every retry period; call back when leadership starts or stops."""
        while True:
            won = await self._round()
            if won:
                self._renewed = self.clock()
                if not self.leading:
                    self.leading = True
                    metrics.leading(True)
                    log.info(
                        "Leading as %s (Lease %s/%s)", self.identity, self.namespace, self.name
                    )
                    started()
            elif self.leading and self.clock() - self._renewed > RENEW_DEADLINE:
                self.leading = False
                metrics.leading(False)
                log.warning("Lost the Lease %s/%s; stopping the workers", self.namespace, self.name)
                stopped()
            await asyncio.sleep(RETRY_PERIOD)

    async def _round(self) -> bool:
        try:
            lease = await self.kube.get_lease(self.namespace, self.name)
            if lease is None:
                return await self.kube.write_lease(self._claim(None), create=True)
            if not self._may_take(lease):
                return False
            return await self.kube.write_lease(self._claim(lease), create=False)
        except KubeError as exc:
            log.warning("Leader election round failed: %s", exc)
            return False

    def _may_take(self, lease: dict[str, Any]) -> bool:
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder == self.identity or not holder:
            return True
        if self._seen is None or self._seen[0] != spec:
            self._seen = (spec, self.clock())  # the record changed: its holder is alive
            return False
        duration = spec.get("leaseDurationSeconds") or LEASE_SECONDS
        return self.clock() - self._seen[1] > duration

    def _claim(self, lease: dict[str, Any] | None) -> dict[str, Any]:
        spec = dict((lease or {}).get("spec") or {})
        now = _now()
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if lease else 0)
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=LEASE_SECONDS, renewTime=now)
        meta = {"name": self.name, "namespace": self.namespace}
        if lease is not None:
            meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": spec,
        }

    async def release(self) -> None:
        """On a clean shutdown: give the Lease up so that a follower takes it at once."""
        if not self.leading:
            return
        lease = await self.kube.get_lease(self.namespace, self.name)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        lease["spec"] = {**lease["spec"], "holderIdentity": None, "leaseDurationSeconds": 1}
        await self.kube.write_lease(lease, create=False)
        self.leading = False
        metrics.leading(False)
        log.info("Released the Lease %s/%s", self.namespace, self.name)
