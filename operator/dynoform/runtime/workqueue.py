"""A keyed work queue, as controller-runtime's: deduplicated, one worker per key at a time.

A key added while it is being processed is processed once more afterwards (never twice at
once); a failed key comes back after an exponential backoff, capped. `add_soon` coalesces:
however many times a key is added within the window, it is added once at its end; `add_later`
debounces: a key is added once its calls have stopped for the delay.

Two priorities, as controller-runtime's priority queue has: a change someone asked for (a new
or edited Formation, a child's spec drifting) goes before bookkeeping (a rollout's progress,
the resync, a status to report). With a thousand Formations created at once, their dynos are
started first and their statuses follow, instead of each new Formation's children waiting
behind the last one's status; a `ps:scale` never waits behind status updates. A key queued
low that is added high moves up.

Its figures (dynoform.runtime.metrics): the depth, how long a key waited, how long its handler
took and with what result, and the retries.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from dynoform.runtime import metrics

log = logging.getLogger("dynoform.runtime.workqueue")
K = TypeVar("K", bound=Hashable)

BACKOFF = (0.5, 1, 2, 5, 10, 30, 60)
HIGH, LOW = 0, 1
WAKE_SLACK = 1.0  # seconds: wakes for times closer than this are one
# The labelled series, resolved once: the hot path only observes.
_WAITED = metrics.QUEUE_WAIT.observe
_SUCCEEDED = metrics.RECONCILE_SECONDS.labels(result="success").observe
_FAILED = metrics.RECONCILE_SECONDS.labels(result="error").observe
# Runs a callback after a delay: the event loop's call_later, or a test's own clock.
Timer = Callable[[float, Callable[[], None]], Any]


def _call_later(delay: float, callback: Callable[[], None]) -> Any:
    return asyncio.get_running_loop().call_later(delay, callback)


class WorkQueue(Generic[K]):
    def __init__(
        self,
        handler: Callable[[K], Awaitable[None]],
        workers: int = 8,
        timer: Timer = _call_later,
    ) -> None:
        self._handler = handler
        self._timer = timer
        # (priority, order, key): first by priority, then first come. A key moved up leaves
        # its old entry behind, which is skipped when it comes out (see _take).
        self._queue: asyncio.PriorityQueue[tuple[int, int, K]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._queued: dict[K, int] = {}  # key -> the priority it is queued at
        self._since: dict[K, float] = {}  # key -> when it was queued (a move up keeps it)
        self._running: set[K] = set()
        self._dirty: dict[K, int] = {}  # added while running: again afterwards, at this priority
        self._failures: dict[K, int] = {}
        self._soon: set[K] = set()
        self._later: dict[K, object] = {}  # key -> the token of its latest add_later
        self._wakes: dict[K, tuple[float, Any, object]] = {}  # key -> (when, timer, token)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        """Start the workers; keys added before wait for them (a follower's queue fills up)."""
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        """Stop the workers; keys in flight go back to the queue for whoever works it next."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for key in list(self._running):
            self._running.discard(key)
            self.add(key)

    def add(self, key: K, low: bool = False) -> None:
        """Queue `key`; `low` for bookkeeping that may wait behind requested changes."""
        priority = LOW if low else HIGH
        if key in self._running:
            self._dirty[key] = min(priority, self._dirty.get(key, LOW))
            return
        queued = self._queued.get(key)
        if queued is not None and queued <= priority:
            return
        self._queued[key] = priority
        self._since.setdefault(key, time.monotonic())
        metrics.QUEUE_DEPTH.set(len(self._queued))
        self._idle.clear()
        self._queue.put_nowait((priority, next(self._order), key))

    def add_after(self, key: K, delay: float) -> None:
        self._timer(delay, lambda: self.add(key))

    def add_soon(self, key: K, window: float) -> None:
        """Add `key`, at low priority, at the end of a window that its first call opens; the
        calls that follow within it are folded into that one."""
        if key in self._soon:
            return
        self._soon.add(key)
        self._idle.clear()

        def due() -> None:
            self._soon.discard(key)
            self.add(key, low=True)
            self._note_idle()

        self._timer(window, due)

    def add_later(self, key: K, delay: float) -> None:
        """Add `key`, at low priority, `delay` seconds after the last of these calls for it: each
        call postpones the one before. Work to come, as `add_soon`'s: `idle` waits for it."""
        token = object()
        self._later[key] = token
        self._idle.clear()

        def due() -> None:
            if self._later.get(key) is token:
                del self._later[key]
                self.add(key, low=True)
                self._note_idle()

        # The superseded timers still fire, and find a newer token: a no-op each, cheaper than
        # keeping every handle to cancel it (and a test's timer need not be cancellable).
        self._timer(delay, due)

    def wake(self, key: K, delay: float) -> None:
        """Add `key`, at low priority, in `delay` seconds: a time the handler knows something
        will change (a scale window's edge). The latest call for a key wins (the timer before
        it is cancelled); one for about the same time as the timer set is folded into it. A
        wake to come is no work queued: `idle` does not wait for it."""
        due_at = time.monotonic() + delay
        pending = self._wakes.get(key)
        if pending is not None and abs(pending[0] - due_at) < WAKE_SLACK:
            return
        if pending is not None and hasattr(pending[1], "cancel"):
            pending[1].cancel()
        token = object()

        def due() -> None:
            if self._wakes.get(key, (0, None, None))[2] is token:
                del self._wakes[key]
                self.add(key, low=True)

        self._wakes[key] = (due_at, self._timer(delay, due), token)

    def idle(self) -> bool:
        """Nothing queued, due soon or running (the tests and benchmarks wait for this)."""
        return not (self._queued or self._running or self._soon or self._later)

    async def drained(self) -> None:
        """Return once the queue is idle (at once if it is)."""
        await self._idle.wait()

    def _note_idle(self) -> None:
        if self.idle():
            self._idle.set()

    async def _take(self) -> K:
        while True:
            priority, _, key = await self._queue.get()
            # An entry left behind by a move up: the key went (or is queued) at HIGH already.
            if self._queued.get(key) == priority:
                del self._queued[key]
                metrics.QUEUE_DEPTH.set(len(self._queued))
                _WAITED(time.monotonic() - self._since.pop(key, time.monotonic()))
                return key

    async def _work(self) -> None:
        while True:
            key = await self._take()
            self._running.add(key)
            started = time.monotonic()
            try:
                await self._handler(key)
                _SUCCEEDED(time.monotonic() - started)
                self._failures.pop(key, None)
            except Exception:
                _FAILED(time.monotonic() - started)
                metrics.QUEUE_RETRIES.inc()
                n = self._failures.get(key, 0)
                self._failures[key] = n + 1
                delay = BACKOFF[min(n, len(BACKOFF) - 1)]
                log.exception("Reconcile of %s failed; retrying in %ss", key, delay)
                self.add_after(key, delay)
            finally:
                self._running.discard(key)
                again = self._dirty.pop(key, None)
                if again is not None:
                    self.add(key, low=again == LOW)
                self._note_idle()
