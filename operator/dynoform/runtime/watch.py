"""Informers: list then watch a kind forever, feeding a cache, with what that takes on the wire.

`objects` lists and watches whole objects through lightkube's public client; `names` does the
same for objects' metadata only (PartialObjectMetadata, as client-go's metadata informers), over
a plain httpx client made by lightkube's public client adapter, since lightkube's list and watch
cannot ask for that representation. Both hand the whole set to `replace` after each (re)list, so
objects deleted while a watch was down are dropped too, then every event to `on_event`; any
error (410 Gone included) lists again after a backoff (`forever`).

`WatchSafeTransport` is the httpx transport of both clients: it escapes the raw line breaks a
watch stream may carry inside strings (see EscapedBreaks), a job lightkube leaves to its
transport seam.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2 as httpx  # lightkube 1.0's HTTP client
from lightkube import ALL_NS, AsyncClient

from dynoform.runtime.resources import CLUSTER_SCOPED, WATCHED, api_path

log = logging.getLogger("dynoform.runtime.watch")

Replace = Callable[[str, list[dict[str, Any]]], None]
OnEvent = Callable[[str, dict[str, Any]], None]
Shape = Callable[[dict[str, Any]], dict[str, Any]]


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


class WatchSafeTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose watch responses (JSON lines, never compressed) come through
    EscapedBreaks; every other response as it is."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        watching = request.url.params.get("watch") in ("true", "1")
        if watching and "content-encoding" not in response.headers:
            assert isinstance(response.stream, httpx.AsyncByteStream)
            response.stream = EscapedBreaks(response.stream)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class WatchEnded(Exception):
    """The API server ended a watch with an ERROR event (410 Gone, mostly): list again."""


async def objects(
    client: AsyncClient,
    kind: str,
    selector: dict[str, str],
    replace: Replace,
    on_event: OnEvent,
    namespace: str | None = None,
    shape: Shape = lambda obj: obj,
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
        listing = client.list(res, labels=labels, chunk_size=500, **scope)
        # List items carry no kind; watch events do. Give every object its kind.
        replace(kind, [{**shape(o), "kind": kind} async for o in listing])
        listed()
        async for etype, obj in client.watch(
            res, labels=labels, resource_version=listing.resourceVersion, **scope
        ):
            on_event(etype, shape(obj))

    await forever(kind, once)


async def names(
    http: httpx.AsyncClient,
    kind: str,
    selector: str,
    replace: Replace,
    on_event: OnEvent,
    namespace: str | None = None,
) -> None:
    """As `objects`, for the metadata of `kind` only (PartialObjectMetadata, as client-go's
    metadata informers): who holds which name, without the objects' specs and statuses.
    `selector` is a label selector string, e.g. "app.kubernetes.io/managed-by!=dynoform"."""
    url = api_path(kind, namespace)

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
                        raise WatchEnded(f"watch of {kind} names: {event['object']}")
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        on_event(event["type"], {**obj, "kind": kind})
            finally:
                await response.aclose()

    await forever(f"{kind} names", once)


async def forever(what: str, once: Callable[[Callable[[], None]], Awaitable[None]]) -> None:
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
