"""Live pages: a Formation and its pods watched as the user, and each change sent to the page as
server-sent events (htmx's SSE extension swaps them in).

Both watches are the user's own, made with their token, so a page shows live only what RBAC lets
them read. An event only says "look again": the page's parts are read and rendered anew (level
based, as the operator reconciles), a burst of events makes one render, and a watch the API
server ends is made again. Where RBAC grants `list` but not `watch`, the page is read again every
POLL_SECONDS instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from dynoform.server.errors import HerokuError, KubeError
from dynoform.server.kube import Kube

log = logging.getLogger("dynoform.server.dashboard")

DEBOUNCE = 0.15  # seconds: a rollout's burst of pod events becomes one render
HEARTBEAT = 15.0  # seconds: a comment line, so a closed tab is noticed and proxies keep the line
POLL_SECONDS = 5.0
RETRY = 1.0

Frames = Callable[[], Awaitable[list[tuple[str, str]]]]


def frame(event: str, html: str) -> str:
    """One server-sent event: its name, and the HTML as data lines."""
    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{data}\n"


async def stream(
    kube: Kube, token: str, watches: list[tuple[str, dict[str, str]]], render: Frames
) -> AsyncIterator[str]:
    """The events of a page until the client goes away; `render` gives (event, html) pairs."""
    changed: asyncio.Queue[None] = asyncio.Queue()
    tasks = [asyncio.create_task(_watch(kube, token, path, q, changed)) for path, q in watches]
    try:
        while True:
            try:
                await asyncio.wait_for(changed.get(), HEARTBEAT)
            except TimeoutError:
                yield ": still here\n\n"
                continue
            await asyncio.sleep(DEBOUNCE)
            while not changed.empty():
                changed.get_nowait()
            for event, html in await render():
                yield frame(event, html)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _watch(
    kube: Kube, token: str, path: str, params: dict[str, str], changed: asyncio.Queue[None]
) -> None:
    while True:
        try:
            async for event in kube.watch(token, path, params):
                if event.get("type") != "BOOKMARK":
                    changed.put_nowait(None)
        except KubeError as exc:
            if exc.status == 401:  # the token expired: the render says so, once
                changed.put_nowait(None)
                return
            if exc.status not in (403, 405):
                log.info("watch of %s refused (%d); watching again", path, exc.status)
                await asyncio.sleep(RETRY)
                continue
            await _poll(changed)  # listed but not watched: read again now and then
        except HerokuError:
            await asyncio.sleep(RETRY)


async def _poll(changed: asyncio.Queue[None]) -> None:
    while True:
        changed.put_nowait(None)
        await asyncio.sleep(POLL_SECONDS)
