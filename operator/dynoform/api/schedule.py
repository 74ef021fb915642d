"""Schedules of scheduled jobs (part of the v1alpha1 API): Heroku Scheduler's choices and cron.

A job's `schedule` is one of Heroku Scheduler's frequencies, always in UTC as Heroku's are:
- `every 10 minutes`;
- `every hour at :MM`, MM one of 00, 10, 20, 30, 40, 50;
- `every day at HH:MM`, MM 00 or 30 (Heroku's half-hour steps);
or, for anything else, a 5-field cron expression (`minute hour day-of-month month day-of-week`,
numbers, `*`, ranges `a-b`, steps `/n` and lists `,`) or one of the descriptors `@hourly`,
`@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`.

The grammar is one regular expression, used by the CRD's CEL rule and by the model alike, plus a
rule that ranges go upwards (`5-3` is refused, as Kubernetes' CronJob parser refuses it; in the
names admission policy, the CRD cannot afford it); so what `kubectl apply` accepts, a CronJob
accepts too. Month and weekday names (`jan`, `mon`) and
the day-of-week 7 are not part of it: Kubernetes' parser knows no 7, and numbers say the same.

`cron_of` translates a schedule into the CronJob's expression, `interval_of` gives a Heroku
frequency's interval (a Heroku Scheduler dyno never runs longer than it), and `next_run` the next
time a cron expression fires, as Kubernetes' parser (robfig/cron v3) reads it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic.config import JsonValue

from dynoform.api.base import cel

_MINUTE = "[0-5]?[0-9]"
_HOUR = "[01]?[0-9]|2[0-3]"
_DOM = "0?[1-9]|[12][0-9]|3[01]"
_MONTH = "0?[1-9]|1[0-2]"
_DOW = "0?[0-6]"
_STEP = "[1-9][0-9]?"
FIELDS = ((_MINUTE, 0, 59), (_HOUR, 0, 23), (_DOM, 1, 31), (_MONTH, 1, 12), (_DOW, 0, 6))


def _field(number: str) -> str:
    element = f"(?:[*]|(?:{number})(?:-(?:{number}))?)(?:/{_STEP})?"
    # `[*]`, not an escaped star: a backslash would need escaping again in CEL's string literal.
    return f"{element}(?:,{element})*"


CRON = " +".join(_field(n) for n, _, _ in FIELDS)
DESCRIPTORS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
EVERY_10_MINUTES = "(?i)every 10 minutes"
EVERY_HOUR = "(?i)every hour at :([0-5]0)"
EVERY_DAY = "(?i)every day at ([01][0-9]|2[0-3]):([03]0)"
# Anchored once, around every alternative: CEL's matches() finds a match anywhere.
SCHEDULE_PATTERN = (
    "^(?:"
    + "|".join(
        [
            "(?i:every 10 minutes)",
            "(?i:every hour at :[0-5]0)",
            "(?i:every day at (?:[01][0-9]|2[0-3]):[03]0)",
            "|".join(DESCRIPTORS),
            CRON,
        ]
    )
    + ")$"
)
SCHEDULE_MAX = 100
SCHEDULE_INVALID = (
    "is not a schedule: use a Heroku Scheduler frequency (every 10 minutes, every hour at :MM with "
    "MM in 00, 10, ..., 50, every day at HH:MM with MM 00 or 30; UTC) or a 5-field cron "
    "expression of numbers, *, ranges, steps and lists (minute hour day-of-month month "
    "day-of-week, 0-6 from Sunday), or @hourly, @daily, @weekly, @monthly, @yearly"
)
RANGE_BACKWARDS = "has a range that goes backwards (a-b needs a <= b)"


# The ranges' order, in CEL over one schedule `s` (digits only: the CRD's grammar ran first).
# Too costly for the CRD's estimator (splits of splits), so the names admission policy runs it
# (dynoform.api.admission), where only the actual cost counts.
def ranges_upward_cel(s: str) -> str:
    return (
        f"{s}.split(' ').all(f, f.split(',').all(e, !e.split('/')[0].contains('-') || "
        "int(e.split('/')[0].split('-')[0]) <= int(e.split('/')[0].split('-')[1])))"
    )


SCHEDULE_RULES: list[JsonValue] = [
    cel(
        f"self.matches('{SCHEDULE_PATTERN}')",
        SCHEDULE_INVALID,
        messageExpression=f"'\"' + self + '\" {SCHEDULE_INVALID}'",
    ),
]


def check_schedule(schedule: str) -> str:
    """The schedule, or ValueError in the CRD's words."""
    if re.fullmatch(SCHEDULE_PATTERN, schedule) is None:
        raise ValueError(f'"{schedule}" {SCHEDULE_INVALID}')
    for element in (e for f in schedule.split(" ") for e in f.split(",")):
        low, dash, high = element.partition("/")[0].partition("-")
        if dash and int(low) > int(high):
            raise ValueError(f'"{schedule}" {RANGE_BACKWARDS}')
    return schedule


def cron_of(schedule: str) -> str:
    """The CronJob's expression for a valid schedule (a cron expression stays as written)."""
    if re.fullmatch(EVERY_10_MINUTES, schedule):
        return "*/10 * * * *"
    if hour := re.fullmatch(EVERY_HOUR, schedule):
        return f"{int(hour.group(1))} * * * *"
    if day := re.fullmatch(EVERY_DAY, schedule):
        return f"{int(day.group(2))} {int(day.group(1))} * * *"
    return schedule


def interval_of(schedule: str) -> int | None:
    """Seconds between two runs of a Heroku Scheduler frequency; None for cron."""
    if re.fullmatch(EVERY_10_MINUTES, schedule):
        return 600
    if re.fullmatch(EVERY_HOUR, schedule):
        return 3600
    if re.fullmatch(EVERY_DAY, schedule):
        return 86400
    return None


# --- the next run -------------------------------------------------------------------------

SEARCH_DAYS = 366 * 8  # every date a valid expression can name comes within 8 years (29 Feb)


def _expand(field: str, low: int, high: int) -> tuple[set[int], bool]:
    """The values a cron field names, and whether it is a star (robfig's star bit: `*` or
    `*/1` in it, which makes day-of-month and day-of-week combine by AND instead of OR)."""
    values: set[int] = set()
    star = False
    for element in field.split(","):
        span, _, step_text = element.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            start, end = low, high
            star = star or step == 1
        else:
            first, dash, last = span.partition("-")
            start = int(first)
            # `N/step` runs from N to the field's end.
            end = int(last) if dash else (high if step_text else start)
        values.update(range(start, end + 1, step))
    return values, star


def next_run(schedule: str, after: datetime) -> datetime | None:
    """The first time strictly after `after` at which the schedule fires (UTC, whole minutes);
    None if it never does (`0 0 30 2 *`)."""
    expr = DESCRIPTORS.get(schedule, cron_of(schedule))
    fields = expr.split()
    (minutes, _), (hours, _), (doms, dom_star), (months, _), (dows, dow_star) = (
        _expand(f, low, high) for f, (_, low, high) in zip(fields, FIELDS, strict=True)
    )
    start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    for _ in range(SEARCH_DAYS):
        dom_ok, dow_ok = day.day in doms, (day.isoweekday() % 7) in dows
        day_ok = dom_ok and dow_ok if dom_star or dow_star else dom_ok or dow_ok
        if day.month in months and day_ok:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    when = day.replace(hour=hour, minute=minute)
                    if when >= start:
                        return when
        day += timedelta(days=1)
    return None
