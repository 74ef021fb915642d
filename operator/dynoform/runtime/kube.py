"""The only module that talks to the Kubernetes API (lightkube's AsyncClient).

It owns: server-side apply under one field manager (forced: we own what we set), the hand-over
of a Deployment's replicas to its autoscaler, deletes of pruned children, the status subresource
(applied too, so keys we stop setting disappear), Events, and the informers that keep a
label-scoped cache of our children. Nothing above it sees HTTP: API failures become KubeError
subclasses.

Objects are handled as plain dicts (lightkube's generic resources are dict subclasses), which
skips the typed-model parse and keeps the cache small; `managedFields`, often the largest part
of an object, is dropped on receipt, but for who manages `spec.replicas` (the hand-over needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx2 as httpx  # lightkube 1.0's HTTP client
import msgspec  # lightkube 1.0's JSON encoder
from lightkube import ALL_NS, AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.types import CascadeType, PatchType

from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.runtime.resources import CLUSTER_SCOPED as CLUSTER_SCOPED
from dynoform.runtime.resources import LEADER_ELECTION_PERMISSIONS as LEADER_ELECTION_PERMISSIONS
from dynoform.runtime.resources import LOCAL_WEBHOOK_PERMISSIONS as LOCAL_WEBHOOK_PERMISSIONS
from dynoform.runtime.resources import OPTIONAL_KINDS as OPTIONAL_KINDS
from dynoform.runtime.resources import PERMISSIONS as PERMISSIONS
from dynoform.runtime.resources import RESOURCES as RESOURCES
from dynoform.runtime.resources import WATCHED as WATCHED
from dynoform.runtime.resources import CrdResource as CrdResource
from dynoform.runtime.resources import DynoSizeResource as DynoSizeResource
from dynoform.runtime.resources import EventResource as EventResource
from dynoform.runtime.resources import FormationResource as FormationResource
from dynoform.runtime.resources import LeaseResource as LeaseResource
from dynoform.runtime.resources import generic as generic

log = logging.getLogger("dynoform.runtime.kube")

FIELD_MANAGER = "dynoform"
# Holds a Deployment's replicas between our letting go and its autoscaler's first write.
HANDOVER_MANAGER = "dynoform-handover"
# Requests in flight at once: enough to hide latency, few enough not to swamp the API server.
CONCURRENCY = 16
T = TypeVar("T")


# What JSON carries raw but YAML does not read back as it is: DEL and the C1 controls, U+FFFE
# and U+FFFF (refused), and the line breaks NEL, LS and PS (folded into a space).
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def apply_body(body: dict[str, Any]) -> msgspec.Raw:
    """The body of a server-side apply, which the API server reads as YAML
    (application/apply-patch+yaml): JSON, with the characters YAML would not read back escaped.
    Sent raw, a command or config var holding one fails every apply with "yaml: control
    characters are not allowed" (or loses a line break), though the API server stores them
    from JSON."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    escaped = _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return msgspec.Raw(escaped.encode())


# Line breaks that JSON carries raw inside strings (the API server sends NEL so; LS and PS it
# escapes, a proxy may not). httpx, under lightkube's watch, splits lines wherever Python's
# str.splitlines does, so an object holding one cut its watch event in two: the watch failed
# ("Input data was truncated") on every change of that object, and the informer relisted.
_RAW_BREAKS = re.compile(b"\xc2\x85|\xe2\x80[\xa8\xa9]")


class EscapedBreaks(httpx.AsyncByteStream):
    """A watch stream with those breaks escaped (`\\u0085`): the same JSON, one event a line."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        held = b""
        async for chunk in self._stream:
            data = held + chunk
            keep = 2 if data.endswith(b"\xe2\x80") else int(data.endswith((b"\xc2", b"\xe2")))
            data, held = data[: len(data) - keep], data[len(data) - keep :]
            yield _RAW_BREAKS.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)
        if held:
            yield held

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _escape_watch_breaks(response: httpx.Response) -> None:
    """httpx event hook: watch streams (JSON lines, never compressed) get EscapedBreaks."""
    watching = response.request.url.params.get("watch") in ("true", "1")
    if watching and "content-encoding" not in response.headers:
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = EscapedBreaks(response.stream)


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


def trim(obj: dict[str, Any]) -> dict[str, Any]:
    """A plain dict whose managedFields say only who manages spec.replicas, if anyone."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    owners = [_replicas_entry(f) for f in meta.pop("managedFields", None) or [] if _owns(f)]
    if owners:
        meta["managedFields"] = owners
    out["metadata"] = meta
    return out


def _owns(entry: dict[str, Any]) -> bool:
    return "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})


def _replicas_entry(entry: dict[str, Any]) -> dict[str, Any]:
    keep: dict[str, Any] = {
        k: entry[k] for k in ("manager", "operation", "subresource") if k in entry
    }
    return {**keep, "fieldsV1": {"f:spec": {"f:replicas": {}}}}


class Kube:
    """An API client with retries on transient errors and bounded concurrency."""

    def __init__(self, client: AsyncClient | None = None, concurrency: int = CONCURRENCY) -> None:
        self.client = client or AsyncClient(field_manager=FIELD_MANAGER)
        # lightkube has no public way to reach its httpx client's hooks.
        self.client._client._client.event_hooks["response"].append(_escape_watch_breaks)
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

    async def inform(
        self,
        kind: str,
        selector: dict[str, str],
        replace: Callable[[str, list[dict[str, Any]]], None],
        on_event: Callable[[str, dict[str, Any]], None],
        namespace: str | None = None,
        shape: Callable[[dict[str, Any]], dict[str, Any]] = trim,
        fields: dict[str, str] | None = None,
    ) -> None:
        """List then watch `kind` forever, feeding a cache (`fields`: a field selector).

        After each (re)list `replace(kind, objects)` gets the whole set, so objects deleted while
        the watch was down are dropped too; then every watch event goes to `on_event`. Any
        error (410 Gone included) re-lists after a short backoff.
        """
        res = WATCHED[kind]
        # Cluster-scoped kinds take no namespace at all.
        scope: dict[str, Any] = {} if kind in CLUSTER_SCOPED else {"namespace": namespace or ALL_NS}
        if fields:
            scope["fields"] = fields
        labels: dict[str, Any] | None = dict(selector) if selector else None

        async def once(listed: Callable[[], None]) -> None:
            listing = self.client.list(res, labels=labels, chunk_size=500, **scope)
            # List items carry no kind; watch events do. Give every object its kind.
            replace(kind, [{**shape(o), "kind": kind} async for o in listing])
            listed()
            async for etype, obj in self.client.watch(
                res, labels=labels, resource_version=listing.resourceVersion, **scope
            ):
                on_event(etype, shape(obj))

        await self._forever(kind, once)

    async def inform_names(
        self,
        kind: str,
        selector: str,
        replace: Callable[[str, list[dict[str, Any]]], None],
        on_event: Callable[[str, dict[str, Any]], None],
        namespace: str | None = None,
    ) -> None:
        """As `inform`, for the metadata of `kind` only (PartialObjectMetadata, as client-go's
        metadata informers): who holds which name, without the objects' specs and statuses.
        `selector` is a label selector string, e.g. "app.kubernetes.io/managed-by!=dynoform"."""
        http = self.client._client._client  # lightkube's httpx client: its auth and TLS
        scope = namespace or ALL_NS
        url = self.client._client.prepare_request("list", res=WATCHED[kind], namespace=scope).url

        async def once(listed: Callable[[], None]) -> None:
            items: list[dict[str, Any]] = []
            version, more = "", ""
            while True:  # the listing, in pages
                params = {"labelSelector": selector, "limit": "500"}
                if more:
                    params["continue"] = more
                got = await http.get(url, params=params, headers={"Accept": _PARTIAL_LIST})
                got.raise_for_status()
                page = got.json()
                items += page.get("items") or []
                version, more = (
                    page["metadata"]["resourceVersion"],
                    page["metadata"].get("continue"),
                )
                if not more:
                    break
            replace(kind, [{**o, "kind": kind} for o in items])
            listed()
            while True:  # watches, each resumed where the last ended (the server ends them)
                params = {
                    "labelSelector": selector,
                    "watch": "true",
                    "resourceVersion": version,
                    "timeoutSeconds": str(METADATA_WATCH_SECONDS),
                }
                timeout = httpx.Timeout(60.0, read=METADATA_WATCH_SECONDS + 30)
                request = http.build_request(
                    "GET", url, params=params, headers={"Accept": _PARTIAL}, timeout=timeout
                )
                response = await http.send(request, stream=True)
                try:
                    response.raise_for_status()
                    async for line in response.aiter_lines():
                        event = json.loads(line)
                        if event["type"] == "ERROR":  # 410 Gone, mostly: list again
                            raise KubeError(f"watch of {kind} names: {event['object']}")
                        obj = event["object"]
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            on_event(event["type"], {**obj, "kind": kind})
                finally:
                    await response.aclose()

        await self._forever(f"{kind} names", once)

    async def _forever(
        self, what: str, once: Callable[[Callable[[], None]], Awaitable[None]]
    ) -> None:
        """Run a list-then-watch again and again: any error (410 Gone included) lists again
        after a backoff that a successful listing resets, so nothing missed while the watch was
        down stays missed."""
        failures = 0

        def listed() -> None:
            nonlocal failures
            failures = 0

        while True:
            try:
                await once(listed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("Watch of %s failed, listing again: %s", what, exc)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures) * random.uniform(0.8, 1.2))


# client-go's metadata informers ask for these: the objects' metadata only, lists and events.
_PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
_PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_WATCH_SECONDS = 300


def _backoff(exc: Exception, attempt: int) -> float:
    if isinstance(exc, ApiError):
        retry_after: str = str(exc.response.headers.get("Retry-After", ""))
        if retry_after.isdigit():
            return float(retry_after)
    return float(min(5.0, 0.2 * 2**attempt) * random.uniform(0.8, 1.2))
