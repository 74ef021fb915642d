"""The work queue: one reconcile per key at a time, and events folded over a window.

Time is the test's own: the queue takes a timer, and the tests fire what it scheduled when
they say so, so nothing here waits on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dynoform.runtime.workqueue import WorkQueue


class ManualTimer:
    """What the queue asked to run later, run when the test advances its clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.due: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.due.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        ready = [cb for when, cb in self.due if when <= self.now]
        self.due = [(when, cb) for when, cb in self.due if when > self.now]
        for callback in ready:
            callback()


def timed_queue(timer: ManualTimer) -> tuple[WorkQueue[str], list[tuple[str, float]]]:
    """A started queue on the test's clock, and what it handled: (key, the clock's time)."""
    seen: list[tuple[str, float]] = []

    async def handle(key: str) -> None:
        seen.append((key, timer.now))

    queue: WorkQueue[str] = WorkQueue(handle, workers=2, timer=timer)
    queue.start()
    return queue, seen


def test_keys_added_soon_are_folded_into_one_reconcile_at_the_end_of_the_window() -> None:
    async def scenario() -> list[tuple[str, float]]:
        timer = ManualTimer()
        queue, seen = timed_queue(timer)
        for _ in range(20):  # twenty dynos of one Formation turning Ready
            queue.add_soon("shop", 0.2)
        queue.add_soon("other", 0.2)
        assert not queue.idle()  # something is due: the benchmarks wait for it
        assert len(timer.due) == 2  # one window per key, however many adds
        timer.advance(0.1)
        await asyncio.sleep(0)
        assert seen == []  # not before the window ends
        timer.advance(0.1)
        await queue.drained()
        queue.add("shop")  # a change of spec is not delayed
        await queue.drained()
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == [("shop", 0.2), ("other", 0.2), ("shop", 0.2)]


def test_requested_changes_go_before_bookkeeping_queued_earlier() -> None:
    async def scenario() -> list[str]:
        seen: list[str] = []

        async def handle(key: str) -> None:
            seen.append(key)

        queue: WorkQueue[str] = WorkQueue(handle, workers=1)
        for key in ("status-a", "status-b", "moved-up"):  # a resync, a rollout's progress
            queue.add(key, low=True)
        queue.add("scaled")  # a `ps:scale`, after them
        queue.add("moved-up")  # edited meanwhile: it no longer waits at the back
        queue.add("scaled", low=True)  # already queued ahead: stays ahead, once
        queue.start()
        await queue.drained()
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == ["scaled", "moved-up", "status-a", "status-b"]


def test_a_key_added_while_it_runs_comes_back_at_the_highest_priority_asked() -> None:
    async def scenario() -> list[str]:
        seen: list[str] = []
        running, release = asyncio.Event(), asyncio.Event()

        async def handle(key: str) -> None:
            seen.append(key)
            if key == "shop" and len(seen) == 1:
                running.set()
                await release.wait()

        queue: WorkQueue[str] = WorkQueue(handle, workers=1)
        queue.add("shop")
        queue.start()
        await running.wait()  # "shop" is running
        queue.add("status", low=True)
        queue.add("shop", low=True)
        queue.add("shop")  # edited while it runs: once more, ahead of the status
        release.set()
        await queue.drained()
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == ["shop", "shop", "status"]


def test_a_failed_key_comes_back_after_its_backoff() -> None:
    async def scenario() -> list[str]:
        seen: list[str] = []
        timer = ManualTimer()

        async def handle(key: str) -> None:
            seen.append(key)
            if len(seen) == 1:
                raise RuntimeError("the API server said 500")

        queue: WorkQueue[str] = WorkQueue(handle, workers=1, timer=timer)
        queue.start()
        queue.add("shop")
        await queue.drained()  # failed, and due again after its backoff: nothing queued now
        assert seen == ["shop"]
        assert [when for when, _ in timer.due] == [0.5]
        timer.advance(0.5)
        await queue.drained()
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == ["shop", "shop"]


def test_a_key_added_later_comes_once_its_calls_have_been_quiet_for_the_delay() -> None:
    async def scenario() -> list[tuple[str, float]]:
        timer = ManualTimer()
        queue, seen = timed_queue(timer)
        for _ in range(5):  # a burst of changes, 0.1 s apart: each postpones the report
            queue.add_later("shop", 0.5)
            timer.advance(0.1)
            await asyncio.sleep(0)
        assert seen == []
        assert not queue.idle()  # a report to come: the benchmarks and tests wait for it
        timer.advance(0.4)  # 0.5 s after the last call
        await queue.drained()
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == [("shop", 0.9)]
