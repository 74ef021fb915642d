"""The one door to the Kubernetes API: lightkube's AsyncClient, with retries and bounds.

It owns the connection (lightkube's public config and client adapter, with the watch-safe
transport of dynoform.runtime.watch), server-side apply under one field manager (forced: we own
what we set), the hand-over of a Deployment's replicas to its autoscaler, deletes of pruned
children, the status subresource (applied too, so keys we stop setting disappear), Events,
Leases, and the informers (dynoform.runtime.watch) on that connection. Nothing above it sees
HTTP: API failures become KubeError subclasses.

Objects are plain dicts, shaped on the way in and out by dynoform.runtime.wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx2 as httpx  # lightkube 1.0's HTTP client
from lightkube import AsyncClient, KubeConfig
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ApiError
from lightkube.types import CascadeType, PatchType

from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.runtime import metrics, watch
from dynoform.runtime.resources import (
    RESOURCES,
    DynoSizeResource,
    EventResource,
    FormationResource,
    LeaseResource,
)
from dynoform.runtime.wire import apply_body, trim

log = logging.getLogger("dynoform.runtime.kube")

FIELD_MANAGER = "dynoform"
# Holds a Deployment's replicas between our letting go and its autoscaler's first write.
HANDOVER_MANAGER = "dynoform-handover"
# Requests in flight at once: enough to hide latency, few enough not to swamp the API server.
CONCURRENCY = 16
T = TypeVar("T")
# The kinds whose status subresource we write.
STATUS_RESOURCES = {"Formation": FormationResource, "DynoSize": DynoSizeResource}


class KubeError(Exception):
    """An API request failed; `transient` says whether trying again may help."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class NotFound(KubeError):
    """The object does not exist."""


def _translate(exc: Exception, what: str) -> KubeError:
    if isinstance(exc, ApiError):
        code = exc.status.code or 0
        cls = NotFound if code == 404 else KubeError
        transient = code == 429 or code >= 500
        return cls(f"{what}: {exc.status.message}", status=code, transient=transient)
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 404:
        # A path the API server does not serve (no Status body): a CRD just removed, say.
        return NotFound(f"{what}: {exc}", status=404)
    return KubeError(f"{what}: {exc}", transient=True)


def _config() -> SingleConfig:
    """The kubeconfig's current context, or the pod's service account (as lightkube finds it)."""
    config = KubeConfig.from_env().get()
    if config is None or config.user is None:
        raise KubeError("no cluster configured: neither a kubeconfig nor a service account")
    return config


def _transport(config: SingleConfig) -> Any:
    """httpx's own transport with the cluster's TLS (lightkube's public verify_cluster), made
    watch-safe and counted: given as a transport, it is what each client uses for every request."""
    assert config.user is not None
    tls = client_adapter.verify_cluster(config.cluster, config.user, config.abs_file)
    inner = metrics.CountingTransport(httpx.AsyncHTTPTransport(verify=tls))
    return watch.WatchSafeTransport(inner)


class Kube:
    """An API client with retries on transient errors and bounded concurrency."""

    def __init__(self, config: SingleConfig | None = None, concurrency: int = CONCURRENCY) -> None:
        config = config or _config()
        self.client = AsyncClient(config, field_manager=FIELD_MANAGER, transport=_transport(config))
        # For the metadata informers: the same cluster, user and transport, as plain httpx.
        params = client_adapter.ConnectionParams(transport=_transport(config))
        self.http = client_adapter.AsyncClient(config, params)
        self._slots = asyncio.Semaphore(concurrency)
        self.writes = 0  # Requests that change state; the tests and benchmarks read it.

    async def close(self) -> None:
        await self.client.close()
        await self.http.aclose()

    async def inform(
        self,
        kind: str,
        selector: dict[str, str],
        replace: watch.Replace,
        on_event: watch.OnEvent,
        namespace: str | None = None,
        shape: watch.Shape = trim,
        fields: dict[str, str] | None = None,
    ) -> None:
        """List then watch whole objects of `kind` forever (dynoform.runtime.watch.objects)."""
        await watch.objects(
            self.client, kind, selector, replace, on_event, namespace, shape, fields
        )

    async def inform_names(
        self,
        kind: str,
        selector: str,
        replace: watch.Replace,
        on_event: watch.OnEvent,
        namespace: str | None = None,
    ) -> None:
        """List then watch the metadata of `kind` forever (dynoform.runtime.watch.names)."""
        await watch.names(self.http, kind, selector, replace, on_event, namespace)

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
        for attempt in range(attempts):
            try:
                async with self._slots:
                    return await fn()
            except (ApiError, httpx.HTTPError) as exc:
                err = _translate(exc, what)
                if not err.transient or attempt == attempts - 1:
                    raise err from exc
                await asyncio.sleep(_backoff(exc, attempt))
        raise AssertionError("unreachable")

    async def apply(
        self, body: dict[str, Any], manager: str = FIELD_MANAGER, what: str = "apply"
    ) -> dict[str, Any]:
        """Server-side apply, forced: the child is ours, and what we set wins."""
        kind, meta = body["kind"], body["metadata"]
        self.writes += 1
        obj = await self._call(
            f"{what} {kind} {meta['namespace']}/{meta['name']}",
            lambda: self.client.patch(
                RESOURCES[kind],
                meta["name"],
                apply_body(body),
                namespace=meta["namespace"],
                patch_type=PatchType.APPLY,
                field_manager=manager,
                force=True,
            ),
        )
        return trim(obj)

    async def hand_over_replicas(self, body: dict[str, Any], replicas: int) -> None:
        """Apply only `spec.replicas` under HANDOVER_MANAGER, so that they stay when our own
        apply drops them: a field whose last manager lets go is removed, and a Deployment's
        replicas would fall back to 1 (Kubernetes docs, Server-Side Apply, "Transferring
        ownership"). The autoscaler's first write then takes them from this manager."""
        meta = body["metadata"]
        handover = {
            "apiVersion": body["apiVersion"],
            "kind": body["kind"],
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"replicas": replicas},
        }
        await self.apply(handover, HANDOVER_MANAGER, "hand over replicas of")

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        self.writes += 1
        with contextlib.suppress(NotFound):
            await self._call(
                f"delete {kind} {namespace}/{name}",
                lambda: self.client.delete(
                    RESOURCES[kind],
                    name,
                    namespace=namespace,
                    cascade=CascadeType.BACKGROUND,
                ),
            )

    async def apply_status(
        self, name: str, namespace: str | None, status: dict[str, Any], kind: str = "Formation"
    ) -> None:
        """Apply the status subresource of a Formation (or a cluster-scoped DynoSize, namespace
        None): our field manager owns all of it."""
        meta = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": meta,
            "status": status,
        }
        resource = STATUS_RESOURCES[kind]
        where = name if namespace is None else f"{namespace}/{name}"
        self.writes += 1
        await self._call(
            f"apply status of {kind} {where}",
            lambda: self.client.patch(
                resource.Status,
                name,
                apply_body(body),
                namespace=namespace,
                patch_type=PatchType.APPLY,
                field_manager=FIELD_MANAGER,
                force=True,
            ),
        )

    async def event(
        self, involved: dict[str, Any], reason: str, message: str, etype: str = "Normal"
    ) -> None:
        """Record a core/v1 Event on a Formation (kubectl describe shows it)."""
        meta = involved["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", f"{GROUP}/{VERSION}"),
                "kind": involved.get("kind", "Formation"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "message": message,
            "type": etype,
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": f"{GROUP}/{FIELD_MANAGER}",
            "reportingInstance": os.environ.get("HOSTNAME", "dynoform"),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.writes += 1
        await self._call(
            f"create Event for {meta['namespace']}/{meta['name']}",
            lambda: self.client.create(EventResource.from_dict(body)),
        )

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = await self._call(
                f"get Lease {namespace}/{name}",
                lambda: self.client.get(LeaseResource, name, namespace=namespace),
            )
        except NotFound:
            return None
        return trim(obj)

    async def write_lease(self, lease: dict[str, Any], create: bool) -> bool:
        """Create, or replace under the read resourceVersion; False when another replica won
        the race (409), which is the normal way of losing an election round."""
        meta = lease["metadata"]
        body = LeaseResource.from_dict(lease)
        self.writes += 1
        try:
            if create:
                await self._call("create Lease", lambda: self.client.create(body))
            else:
                await self._call(
                    "update Lease",
                    lambda: self.client.replace(body, meta["name"], namespace=meta["namespace"]),
                )
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        return True


def _backoff(exc: Exception, attempt: int) -> float:
    if isinstance(exc, ApiError):
        retry_after: str = str(exc.response.headers.get("Retry-After", ""))
        if retry_after.isdigit():
            return float(retry_after)
    return float(min(5.0, 0.2 * 2**attempt) * random.uniform(0.8, 1.2))
