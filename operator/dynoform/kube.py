"""The only module that talks to the Kubernetes API (lightkube's AsyncClient).

It owns: server-side apply under one field manager (forced: we own what we set), deletes of
pruned children, the status subresource (applied too, so keys we stop setting disappear),
Events, and the informers that keep a label-scoped cache of our children. Nothing above it sees
HTTP: API failures become KubeError subclasses.

Objects are handled as plain dicts (lightkube's generic resources are dict subclasses), which
skips the typed-model parse and keeps the cache small; `managedFields`, often the largest part
of an object, is dropped on receipt.
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
from lightkube import ALL_NS, AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import (
    Generic,
    create_global_resource,
    create_namespaced_resource,
)
from lightkube.types import CascadeType, PatchType

from dynoform.api.v1alpha1 import GROUP, VERSION

log = logging.getLogger("dynoform.kube")

FIELD_MANAGER = "dynoform"
# Requests in flight at once: enough to hide latency, few enough not to swamp the API server.
CONCURRENCY = 16
T = TypeVar("T")


def generic(group: str, version: str, kind: str, plural: str, namespaced: bool = True) -> Any:
    """A dict-based resource class; lightkube keeps one class per kind process-wide."""
    api_version = f"{group}/{version}" if group else version
    known = resource_registry.get(api_version, kind)
    if known is not None and issubclass(known, Generic):
        return known
    create = create_namespaced_resource if namespaced else create_global_resource
    return create(group, version, kind, plural)


RESOURCES: dict[str, Any] = {
    "Deployment": generic("apps", "v1", "Deployment", "deployments"),
    "Service": generic("", "v1", "Service", "services"),
    "PodDisruptionBudget": generic("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
}
FormationResource = generic(GROUP, VERSION, "Formation", "formations")
DynoSizeResource = generic(GROUP, VERSION, "DynoSize", "dynosizes", namespaced=False)
EventResource = generic("", "v1", "Event", "events")
LeaseResource = generic("coordination.k8s.io", "v1", "Lease", "leases")
WATCHED: dict[str, Any] = {
    **RESOURCES,
    "DynoSize": DynoSizeResource,
    # Where the dynos run, for the verified spread: our pods (by label) and the nodes' zones.
    "Pod": generic("", "v1", "Pod", "pods"),
    "Node": generic("", "v1", "Node", "nodes", namespaced=False),
}
CLUSTER_SCOPED = frozenset({"DynoSize", "Node"})

# Every (API group, resource) -> verbs this process uses: ours above, kopf's below. The RBAC in
# deploy/rbac.yaml must grant exactly these; the Helm chart grants them less
# LOCAL_WEBHOOK_PERMISSIONS, with LEADER_ELECTION_PERMISSIONS only in a Role in its own
# namespace (tests/unit/test_rbac.py, tests/unit/test_chart_rbac.py).
_CHILD_VERBS = frozenset({"get", "list", "watch", "create", "patch", "delete"})
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    (GROUP, "formations"): frozenset({"get", "list", "watch"}),
    (GROUP, "formations/status"): frozenset({"patch"}),
    (GROUP, "dynosizes"): frozenset({"list", "watch"}),
    ("apps", "deployments"): _CHILD_VERBS,
    ("", "services"): _CHILD_VERBS,
    ("policy", "poddisruptionbudgets"): _CHILD_VERBS,
    ("", "events"): frozenset({"create"}),
    ("", "pods"): frozenset({"list", "watch"}),
    ("", "nodes"): frozenset({"list", "watch"}),
    # kopf: resource discovery and namespace scanning (it runs standalone: no peering).
    ("apiextensions.k8s.io", "customresourcedefinitions"): frozenset({"list", "watch"}),
    ("", "namespaces"): frozenset({"list", "watch"}),
}
# kopf, when it manages the admission webhooks' configurations itself (--webhook-port, local
# use). In a cluster the Helm chart owns those configurations, so its role omits these.
LOCAL_WEBHOOK_PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): frozenset(
        {"create", "patch"}
    ),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): frozenset(
        {"create", "patch"}
    ),
}
# Leader election among replicas (--leader-elect): one Lease, in the operator's own namespace.
LEADER_ELECTION_PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("coordination.k8s.io", "leases"): frozenset({"get", "create", "update"}),
}
PERMISSIONS.update(LOCAL_WEBHOOK_PERMISSIONS)
PERMISSIONS.update(LEADER_ELECTION_PERMISSIONS)


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
    return KubeError(f"{what}: {exc}", transient=True)


def trim(obj: dict[str, Any]) -> dict[str, Any]:
    """A plain dict without managedFields (we never read them)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


class Kube:
    """An API client with retries on transient errors and bounded concurrency."""

    def __init__(self, client: AsyncClient | None = None, concurrency: int = CONCURRENCY) -> None:
        self.client = client or AsyncClient(field_manager=FIELD_MANAGER)
        self._slots = asyncio.Semaphore(concurrency)
        self.writes = 0  # Requests that change state; the tests and benchmarks read it.

    async def close(self) -> None:
        await self.client.close()

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

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        res = RESOURCES[kind]
        try:
            obj = await self._call(
                f"get {kind} {namespace}/{name}",
                lambda: self.client.get(res, name, namespace=namespace),
            )
        except NotFound:
            return None
        return trim(obj)

    async def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply, forced: the child is ours, and what we set wins."""
        kind, meta = body["kind"], body["metadata"]
        res = RESOURCES[kind]
        self.writes += 1
        obj = await self._call(
            f"apply {kind} {meta['namespace']}/{meta['name']}",
            lambda: self.client.patch(
                res,
                meta["name"],
                body,
                namespace=meta["namespace"],
                patch_type=PatchType.APPLY,
                field_manager=FIELD_MANAGER,
                force=True,
            ),
        )
        return trim(obj)

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

    async def apply_status(self, name: str, namespace: str, status: dict[str, Any]) -> None:
        """Apply the Formation's status subresource (our field manager owns all of it)."""
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Formation",
            "metadata": {"name": name, "namespace": namespace},
            "status": status,
        }
        self.writes += 1
        await self._call(
            f"apply status of Formation {namespace}/{name}",
            lambda: self.client.patch(
                FormationResource.Status,
                name,
                body,
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

    async def inform(
        self,
        kind: str,
        selector: dict[str, str],
        replace: Callable[[str, list[dict[str, Any]]], None],
        on_event: Callable[[str, dict[str, Any]], None],
        namespace: str | None = None,
        shape: Callable[[dict[str, Any]], dict[str, Any]] = trim,
    ) -> None:
        """List then watch `kind` forever, feeding a cache.

        After each (re)list `replace(kind, objects)` gets the whole set, so objects deleted while
        the watch was down are dropped too; then every watch event goes to `on_event`. Any
        error (410 Gone included) re-lists after a short backoff.
        """
        res = WATCHED[kind]
        # Cluster-scoped kinds take no namespace at all.
        scope = {} if kind in CLUSTER_SCOPED else {"namespace": namespace or ALL_NS}
        failures = 0
        while True:
            try:
                listing = self.client.list(  # type: ignore[call-overload]
                    res, labels=selector or None, chunk_size=500, **scope
                )
                # List items carry no kind; watch events do. Give every object its kind.
                objects = [{**shape(o), "kind": kind} async for o in listing]
                replace(kind, objects)
                failures = 0
                async for etype, obj in self.client.watch(  # type: ignore[call-overload]
                    res, labels=selector or None, resource_version=listing.resourceVersion, **scope
                ):
                    on_event(etype, shape(obj))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("Watch of %s failed, listing again: %s", kind, exc)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures) * random.uniform(0.8, 1.2))


def _backoff(exc: Exception, attempt: int) -> float:
    if isinstance(exc, ApiError):
        retry_after: str = str(exc.response.headers.get("Retry-After", ""))
        if retry_after.isdigit():
            return float(retry_after)
    return float(min(5.0, 0.2 * 2**attempt) * random.uniform(0.8, 1.2))
