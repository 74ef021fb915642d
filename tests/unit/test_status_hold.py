"""When a reconcile that wrote children reports the status: once the Formation's changes have
been quiet for a while, so a burst of changes costs one status write and no change meets that
write on the same object; never later than a bound, and never in a loop of our own re-queues."""

from __future__ import annotations

from typing import cast

from dynoform.operator.cache import Cache
from dynoform.operator.reconcile import HOLD_MAX_SECONDS, HOLD_SECONDS, Hold, Reconciler
from dynoform.runtime.kube import Kube

KEY = ("shop-ns", "shop")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reconciler() -> tuple[Reconciler, Clock, list[float]]:
    clock, later = Clock(), cast(list[float], [])
    r = Reconciler(
        cast(Kube, None),
        Cache(),
        lambda: "2026-12-07T00:00:00Z",
        report_later=lambda key, delay: later.append(delay),
        clock=clock,
    )
    return r, clock, later


def passes(r: Reconciler, generation: int, wrote: bool) -> bool:
    """One pass's decision, as reconcile makes it: True when the status is held."""
    held = r._held.pop(KEY, None)
    return r._hold(KEY, generation, wrote, held)


def test_a_pass_that_wrote_holds_the_status_and_asks_for_a_pass_when_quiet() -> None:
    r, clock, later = reconciler()
    assert passes(r, 2, wrote=True)
    assert later == [HOLD_SECONDS]
    clock.now += 0.2
    assert passes(r, 2, wrote=False)  # a rollout's progress meanwhile: still held
    clock.now += HOLD_SECONDS - 0.2
    assert not passes(r, 2, wrote=False)  # the pass asked for: it reports
    assert KEY not in r._held


def test_each_new_change_of_a_burst_postpones_the_status_to_its_end() -> None:
    r, clock, later = reconciler()
    for generation in range(2, 12):  # ten changes, 0.1 s apart
        assert passes(r, generation, wrote=True)
        clock.now += 0.1
    assert later == [HOLD_SECONDS] * 10
    assert passes(r, 11, wrote=False)  # 0.1 s after the last change
    clock.now += HOLD_SECONDS - 0.1
    assert not passes(r, 11, wrote=False)


def test_a_child_written_again_in_the_same_generation_reports_at_once() -> None:
    """Someone else's mutation that never compares equal: our own re-queue must not loop."""
    r, clock, later = reconciler()
    assert passes(r, 2, wrote=True)
    clock.now += HOLD_SECONDS
    assert not passes(r, 2, wrote=True)
    assert later == [HOLD_SECONDS]


def test_a_formation_changed_without_pause_still_reports_within_the_bound() -> None:
    r, clock, _ = reconciler()
    generation, reported = 2, []
    while clock.now < 100.0 + 3 * HOLD_MAX_SECONDS + 1:
        if not passes(r, generation, wrote=True):
            reported.append(clock.now)
        generation += 1
        clock.now += 0.05
    assert len(reported) == 3
    gaps = [b - a for a, b in zip([100.0, *reported], reported, strict=False)]
    # At most the bound and two changes' time (the forced report's and the next hold's first).
    assert all(gap <= HOLD_MAX_SECONDS + 0.1 + 1e-6 for gap in gaps), gaps


def test_without_a_queue_to_come_back_every_pass_reports() -> None:
    r = Reconciler(cast(Kube, None), Cache(), lambda: "2026-12-07T00:00:00Z")
    assert not r._hold(KEY, 2, True, None)
    assert not r._hold(KEY, 2, False, Hold(2, 0.0, float("inf")))
