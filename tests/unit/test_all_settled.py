"""A reconcile's applies run at once, and none outlives the reconcile: when one fails, the
others are still waited for before the failure is raised."""

from __future__ import annotations

import asyncio

import pytest

from dynoform.operator.reconcile import all_settled


def test_a_failure_is_raised_only_once_every_apply_has_finished() -> None:
    finished: list[str] = []

    async def refused() -> bool:
        raise RuntimeError("namespace is being terminated")

    async def slow() -> bool:
        await asyncio.sleep(0.05)
        finished.append("slow")
        return True

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="being terminated"):
            await all_settled([refused(), slow()])
        assert finished == ["slow"]  # not left running behind the reconcile
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == []

    asyncio.run(scenario())


def test_the_results_come_in_the_order_of_the_jobs() -> None:
    async def after(seconds: float, value: int) -> int:
        await asyncio.sleep(seconds)
        return value

    assert asyncio.run(all_settled([after(0.02, 1), after(0.0, 2)])) == [1, 2]
