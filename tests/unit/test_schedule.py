"""Schedules of scheduled jobs: Heroku Scheduler's frequencies and cron, translated into the
CronJob's expression, refused with the CRD's words when bad, and their next run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dynoform.api.schedule import check_schedule, cron_of, interval_of, next_run

HEROKU = [
    ("every 10 minutes", "*/10 * * * *", 600),
    *((f"every hour at :{m:02d}", f"{m} * * * *", 3600) for m in range(0, 60, 10)),
    *(
        (f"every day at {h:02d}:{m:02d}", f"{m} {h} * * *", 86400)
        for h in range(24)
        for m in (0, 30)
    ),
    ("Every hour at :30", "30 * * * *", 3600),
    ("Every day at 01:30", "30 1 * * *", 86400),
]


@pytest.mark.parametrize(("schedule", "cron", "interval"), HEROKU)
def test_every_heroku_scheduler_choice_is_its_cron_expression_in_utc(
    schedule: str, cron: str, interval: int
) -> None:
    assert check_schedule(schedule) == schedule
    assert cron_of(schedule) == cron
    assert interval_of(schedule) == interval


CRON = ["* * * * *", "*/15 * * * *", "0 9 * * 1-5", "5,35 0-6/2 1 1,7 0", "30 3 15/5 * *",
        "00 00 01 01 00", "0  0 * * *", "@hourly", "@daily", "@midnight", "@weekly",
        "@monthly", "@yearly", "@annually"]  # fmt: skip


@pytest.mark.parametrize("schedule", CRON)
def test_a_cron_expression_is_kept_as_written(schedule: str) -> None:
    assert check_schedule(schedule) == schedule
    assert cron_of(schedule) == schedule
    assert interval_of(schedule) is None


BAD = [
    ("every 5 minutes", "is not a schedule"),  # not one of Heroku's frequencies
    ("every hour at :15", "is not a schedule"),
    ("every day at 01:15", "is not a schedule"),
    ("every day at 24:00", "is not a schedule"),
    ("every day at 1:30", "is not a schedule"),
    ("60 * * * *", "is not a schedule"),
    ("* 24 * * *", "is not a schedule"),
    ("* * 0 * *", "is not a schedule"),
    ("* * 32 * *", "is not a schedule"),
    ("* * * 13 *", "is not a schedule"),
    ("* * * * 7", "is not a schedule"),  # Kubernetes' parser knows no 7
    ("* * * * mon", "is not a schedule"),
    ("*/0 * * * *", "is not a schedule"),
    ("* * * *", "is not a schedule"),
    ("* * * * * *", "is not a schedule"),
    (" * * * * *", "is not a schedule"),
    ("* * * * *\n", "is not a schedule"),
    ("@every 1h", "is not a schedule"),
    ("@Daily", "is not a schedule"),
    ("TZ=UTC 0 0 * * *", "is not a schedule"),
    ("5-3 * * * *", "has a range that goes backwards"),
    ("0 0 * * 1,5-2", "has a range that goes backwards"),
]


@pytest.mark.parametrize(("schedule", "why"), BAD)
def test_a_bad_schedule_is_refused_quoting_it_and_saying_why(schedule: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as err:
        check_schedule(schedule)
    assert f'"{schedule}"' in str(err.value)


NOW = datetime(2026, 12, 7, 2, 25, 40, tzinfo=UTC)  # a Monday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


NEXT = [
    ("every 10 minutes", at(2026, 12, 7, 2, 30)),
    ("every hour at :20", at(2026, 12, 7, 3, 20)),
    ("every day at 01:30", at(2026, 12, 8, 1, 30)),
    ("* * * * *", at(2026, 12, 7, 2, 26)),
    ("25 2 * * *", at(2026, 12, 8, 2, 25)),  # strictly after: 02:25 has passed
    ("0 9 * * 1-5", at(2026, 12, 7, 9, 0)),
    ("0 9 * * 6", at(2026, 12, 12, 9, 0)),
    ("0 0 * * 0", at(2026, 12, 13, 0, 0)),
    ("0 0 1 1 *", at(2027, 1, 1, 0, 0)),
    ("0 0 29 2 *", at(2028, 2, 29, 0, 0)),
    ("0 12 1 * 3", at(2026, 12, 9, 12, 0)),  # day of month OR day of week, as cron
    ("0 12 1 * *", at(2027, 1, 1, 12, 0)),
    ("0 12 */10 * 3", at(2026, 12, 9, 12, 0)),  # a step clears the star: OR still
    ("0 12 * * 3", at(2026, 12, 9, 12, 0)),
    ("0 12 1-31 * 3", at(2026, 12, 7, 12, 0)),
    ("30 3 15/5 * *", at(2026, 12, 15, 3, 30)),
    ("@weekly", at(2026, 12, 13, 0, 0)),
    ("@monthly", at(2027, 1, 1, 0, 0)),
    ("0 0 30 2 *", None),  # never
]


@pytest.mark.parametrize(("schedule", "expected"), NEXT)
def test_the_next_run_is_the_first_time_the_expression_fires_after_now(
    schedule: str, expected: datetime | None
) -> None:
    assert next_run(schedule, NOW) == expected


def test_the_next_run_reads_any_zone_as_utc() -> None:
    from datetime import timedelta, timezone

    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert next_run("every day at 01:30", paris) == at(2026, 12, 8, 1, 30)
