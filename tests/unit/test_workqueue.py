"""The work queue: one reconcile per key at a time, and events folded over a window."""

from __future__ import annotations

import asyncio

from dynoform.runtime.workqueue import WorkQueue


def test_keys_added_soon_are_folded_into_one_reconcile_at_the_end_of_the_window() -> None:
    async def scenario() -> list[tuple[str, float]]:
        seen: list[tuple[str, float]] = []
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def handle(key: str) -> None:
            seen.append((key, loop.time() - start))

        queue: WorkQueue[str] = WorkQueue(handle, workers=2)
        queue.start()
        for _ in range(20):  # twenty dynos of one Formation turning Ready
            queue.add_soon("shop", 0.2)
        queue.add_soon("other", 0.2)
        assert not queue.idle()  # something is due: the benchmarks wait for it
        await asyncio.sleep(0.4)
        assert queue.idle()
        queue.add("shop")  # a change of spec is not delayed
        await asyncio.sleep(0.05)
        await queue.stop()
        return seen

    seen = asyncio.run(scenario())
    assert sorted(k for k, _ in seen) == ["other", "shop", "shop"]
    folded = [t for k, t in seen if k == "shop"]
    assert folded[0] >= 0.2  # at the end of the window, not at the first add
    assert folded[1] >= 0.4


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
        while not queue.idle():
            await asyncio.sleep(0.01)
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == ["scaled", "moved-up", "status-a", "status-b"]


def test_a_key_added_while_it_runs_comes_back_at_the_highest_priority_asked() -> None:
    async def scenario() -> list[str]:
        seen: list[str] = []
        release = asyncio.Event()

        async def handle(key: str) -> None:
            seen.append(key)
            if key == "shop" and len(seen) == 1:
                await release.wait()

        queue: WorkQueue[str] = WorkQueue(handle, workers=1)
        queue.add("shop")
        queue.start()
        await asyncio.sleep(0.01)  # "shop" is running
        queue.add("status", low=True)
        queue.add("shop", low=True)
        queue.add("shop")  # edited while it runs: once more, ahead of the status
        release.set()
        while not queue.idle():
            await asyncio.sleep(0.01)
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == ["shop", "shop", "status"]
