"""Scale windows on a fake clock: entering and leaving, across midnight, daylight saving, days
of the week, back-to-back days, overlaps; what is applied, what status and history say, the
wake at the next edge, and the model's refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from dynoform.api.v1alpha1 import Formation, ScaleWindow
from dynoform.api.windows import in_force, next_edge
from dynoform.cli import render
from dynoform.core.status import Observed, Outcome, Phases, build_status
from dynoform.core.windows import applied, credit, window_status
from dynoform.runtime.workqueue import WorkQueue
from tests.factories import formation_body, make_formation
from tests.unit.test_workqueue import ManualTimer

BERLIN = "Europe/Berlin"


def at(text: str) -> datetime:
    """An instant in UTC: `2026-12-07 22:00`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def windows(**named: dict[str, Any]) -> dict[str, ScaleWindow]:
    return {
        name: ScaleWindow.model_validate({"quantities": {"web": 1}, **w})
        for name, w in named.items()
    }


NIGHT = {"from": "20:00", "to": "07:00", "timeZone": BERLIN, "quantities": {"web": 1}}


def test_a_night_window_is_in_force_across_midnight_until_the_morning() -> None:
    w = windows(night=NIGHT)
    # 20:00 Berlin in December is 19:00 UTC; 07:00 is 06:00 UTC.
    assert in_force(w, at("2026-12-07 18:59:59")) is None
    assert next_edge(w, at("2026-12-07 18:59:59")) == at("2026-12-07 19:00")
    entered = in_force(w, at("2026-12-07 19:00"))
    assert entered is not None
    assert entered.name == "night"
    assert entered.until == at("2026-12-08 06:00")
    late = in_force(w, at("2026-12-08 03:00"))  # after midnight, the window of the day before
    assert late is not None
    assert late.until == at("2026-12-08 06:00")
    assert next_edge(w, at("2026-12-08 03:00")) == at("2026-12-08 06:00")
    assert in_force(w, at("2026-12-08 06:00")) is None  # `to` itself is outside
    assert next_edge(w, at("2026-12-08 06:00")) == at("2026-12-08 19:00")


def test_daylight_saving_moves_the_window_with_the_wall_clock() -> None:
    w = windows(night=NIGHT)
    # Spring forward in Berlin on 2027-03-28 at 02:00: the night lasts ten hours.
    spring = in_force(w, at("2027-03-27 20:00"))
    assert spring is not None
    assert spring.until == at("2027-03-28 05:00")
    assert next_edge(w, at("2027-03-28 05:00")) == at("2027-03-28 18:00")  # 20:00 CEST
    # Fall back on 2026-10-25 at 03:00: twelve hours.
    assert next_edge(w, at("2026-10-24 12:00")) == at("2026-10-24 18:00")  # 20:00 CEST
    fall = in_force(w, at("2026-10-24 18:00"))
    assert fall is not None
    assert fall.until == at("2026-10-25 06:00")


def test_a_time_the_clocks_skip_is_read_after_the_change_and_a_repeated_one_first() -> None:
    gap = windows(g={"from": "02:30", "to": "04:00", "timeZone": BERLIN})
    # 02:30 does not exist on 2027-03-28: read with the offset before, 03:30 CEST (01:30 UTC).
    assert next_edge(gap, at("2027-03-28 00:00")) == at("2027-03-28 01:30")
    twice = windows(t={"from": "02:30", "to": "05:00", "timeZone": BERLIN})
    # 02:30 happens twice on 2026-10-25: its first, CEST, 00:30 UTC.
    assert next_edge(twice, at("2026-10-24 23:00")) == at("2026-10-25 00:30")


def test_days_of_the_week_are_the_days_a_window_starts_on() -> None:
    office = windows(
        office={"from": "09:00", "to": "17:00", "timeZone": "UTC", "days": ["Mon", "Fri"]}
    )
    assert in_force(office, at("2026-12-07 10:00")) is not None  # a Monday
    assert in_force(office, at("2026-12-08 10:00")) is None  # Tuesday
    assert next_edge(office, at("2026-12-07 17:00")) == at("2026-12-11 09:00")  # Friday
    friday_night = windows(f={**NIGHT, "days": ["Fri"]})
    assert in_force(friday_night, at("2026-12-12 03:00")) is not None  # Saturday, from Friday
    assert in_force(friday_night, at("2026-12-13 03:00")) is None  # Sunday: Saturday is not named


def test_a_window_from_and_to_the_same_time_lasts_a_day_and_back_to_back_days_are_one() -> None:
    weekend = windows(
        weekend={"from": "00:00", "to": "00:00", "timeZone": BERLIN, "days": ["Sat", "Sun"]}
    )
    saturday = in_force(weekend, at("2026-12-12 10:00"))
    assert saturday is not None
    assert saturday.until == at("2026-12-13 23:00")  # Monday 00:00 in Berlin
    assert next_edge(weekend, at("2026-12-12 10:00")) == at("2026-12-13 23:00")


def test_when_windows_overlap_the_first_by_name_wins_and_the_edges_of_both_count() -> None:
    w = windows(
        **{
            "b-evening": {"from": "18:00", "to": "23:00", "timeZone": "UTC"},
            "a-night": {"from": "20:00", "to": "06:00", "timeZone": "UTC"},
        }
    )
    evening = in_force(w, at("2026-12-07 19:00"))
    assert evening is not None
    assert evening.name == "b-evening"
    assert next_edge(w, at("2026-12-07 19:00")) == at("2026-12-07 20:00")
    both = in_force(w, at("2026-12-07 21:00"))
    assert both is not None
    assert (both.name, both.until) == ("a-night", at("2026-12-08 06:00"))
    assert next_edge(w, at("2026-12-07 21:00")) == at("2026-12-07 23:00")


def shop(**extra: Any) -> Formation:
    return make_formation(
        processes={
            "web": {"command": "w", "quantity": 3},
            "worker": {"command": "q", "quantity": 2},
        },
        scaleWindows={"night": {**NIGHT, "quantities": {"web": 1, "worker": 0}}},
        **extra,
    )


def test_the_window_replaces_the_quantities_applied_and_status_and_history_say_so() -> None:
    f = shop()
    window = in_force(f.spec.scale_windows, at("2026-12-07 22:00"))
    running = applied(f, window)
    assert (running.spec.quantity_of("web"), running.spec.quantity_of("worker")) == (1, 0)
    assert (f.spec.quantity_of("web"), f.spec.quantity_of("worker")) == (3, 2)
    assert applied(f, None) is f
    before = f.status.scale_window if f.status else None
    by = credit(before, window, "alice")
    assert by == "schedule night"
    phases = Phases(scale_window=window_status(window))
    st = build_status(running, Observed(), Outcome((True, "Applied", ""), "t1", by, phases))
    assert st.scale_window is not None
    assert (st.scale_window.name, st.scale_window.until) == ("night", "2026-12-08T06:00:00Z")
    assert st.formation == "web=1:standard-1x worker=0:standard-1x"
    assert st.processes is not None
    assert st.processes["web"].desired == 1
    assert st.history is not None
    assert (st.history[-1].by, st.history[-1].formation) == (
        "schedule night",
        "web=1:standard-1x worker=0:standard-1x",
    )
    # Leaving it: credited to its end; with no window change, to whoever the stamp names.
    assert credit(st.scale_window, None, "alice") == "end of schedule night"
    assert credit(st.scale_window, window, "alice") == "alice"
    assert credit(None, None, "alice") == "alice"


def test_dyno_ps_says_which_window_is_in_force_and_until_when_in_its_time_zone() -> None:
    body = formation_body(
        processes={"web": {"command": "w"}},
        scaleWindows={"night": NIGHT},
    )
    body["status"] = {"scaleWindow": {"name": "night", "until": "2026-12-08T06:00:00Z"}}
    line = render.scale_window(Formation.model_validate(body))
    assert line == (
        "Scale window night in force until Tue 07:00:00 Europe/Berlin (06:00:00 UTC): web=1"
    )
    del body["status"]
    assert render.scale_window(Formation.model_validate(body)) is None


def test_the_queue_wakes_a_key_at_the_latest_time_asked_and_is_idle_meanwhile() -> None:
    async def scenario() -> list[tuple[str, float]]:
        seen: list[tuple[str, float]] = []
        timer = ManualTimer()

        async def handle(key: str) -> None:
            seen.append((key, timer.now))

        queue: WorkQueue[str] = WorkQueue(handle, workers=1, timer=timer)
        queue.start()
        queue.wake("shop", 3600)
        queue.wake("shop", 20)  # the spec changed: the next edge is sooner
        assert queue.idle()  # a wake to come is no work: drained() does not wait for it
        timer.advance(20)
        await queue.drained()
        timer.advance(3600)  # the first timer fires for nothing
        await asyncio.sleep(0)
        await queue.drained()
        await queue.stop()
        return seen

    assert asyncio.run(scenario()) == [("shop", 20)]


BAD = [
    ({"from": "7:00"}, "spec.scaleWindows.night.from"),
    ({"to": "23:60"}, "spec.scaleWindows.night.to"),
    ({"timeZone": "Berlin"}, "'Berlin': not an IANA time zone"),
    ({"days": ["Mon", "Mon"]}, "a day is named twice"),
    ({"days": ["monday"]}, "spec.scaleWindows.night.days"),
    ({"quantities": {}}, "spec.scaleWindows.night.quantities"),
    ({"quantities": {"web": -1}}, "spec.scaleWindows.night.quantities.web"),
    ({"quantities": {"sidekiq": 1}}, "scale window night: no such process type as sidekiq"),
    ({"quantities": {"clock": 2}}, "scale window night: clock is a singleton process type"),
]


@pytest.mark.parametrize(("change", "said"), BAD)
def test_the_model_refuses_a_bad_window_and_names_it(change: dict[str, Any], said: str) -> None:
    body = formation_body(scaleWindows={"night": {**NIGHT, **change}})
    with pytest.raises(ValidationError) as caught:
        Formation.model_validate(body)
    assert said in str(caught.value)


def test_the_model_refuses_a_window_over_an_autoscaled_type() -> None:
    processes = formation_body()["spec"]["processes"]
    processes["web"]["autoscaling"] = {"min": 1, "max": 4, "cpu": 70}
    body = formation_body(processes=processes, scaleWindows={"night": NIGHT})
    with pytest.raises(ValidationError, match="may not name an autoscaled type"):
        Formation.model_validate(body)
