"""Scale windows (part of the v1alpha1 API, re-exported by dynoform.api.v1alpha1): times of the
day, in a time zone, when some process types run other quantities than the spec's, as Heroku's
Process Scheduler add-on scales them.

`spec.scaleWindows` maps a window's name to `from`, `to` (wall-clock times of the window's time
zone), optional `days` (the days a window starts on) and `quantities`. While a window is in force
the operator applies its quantities to the Deployments; the spec keeps what the user declared.
When two windows are in force at once, the one whose name sorts first wins.

This module owns the model, its checks (which agree with the CRD's CEL rules and the names
admission policy, dynoform.api.admission) and the arithmetic of time (pure, the clock passed in):
which window is in force at an instant, until when, and the next instant something changes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, StringConstraints, field_validator
from pydantic.config import JsonValue

from dynoform.api.base import MAX_QUANTITY, Model
from dynoform.api.base import cel as _cel
from dynoform.api.process import PROCESS_TYPE_PATTERN, ProcessTypeName

MAX_WINDOWS = 20
WINDOW_NAME_MAX = 30
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Minutes, or seconds too: a window can be exact to the second (tests use short real windows).
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
TIME_MESSAGE = "a time of day as HH:MM or HH:MM:SS, from 00:00 to 23:59:59"
AUTOSCALED_NOT_WINDOWED = (
    "a scale window may not name an autoscaled type (its autoscaler owns its dynos): "
    "change its autoscaling bounds instead"
)

Day = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WindowName = Annotated[
    str, StringConstraints(pattern=PROCESS_TYPE_PATTERN, max_length=WINDOW_NAME_MAX)
]


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zones a window may name: those of the tzdata package, which the admission
    policy lists too (so what `kubectl apply` accepts, the operator can load)."""
    zones = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(z for z in zones.split() if z)


def _clock(value: str) -> time:
    parts = [int(p) for p in value.split(":")]
    return time(parts[0], parts[1], parts[2] if len(parts) > 2 else 0)


class ScaleWindow(Model):
    """A time window, repeated each day (or the days given), with its own quantities."""

    from_: str = Field(
        alias="from",
        max_length=8,
        description="When the window starts: a wall-clock time of `timeZone`, `HH:MM` or "
        "`HH:MM:SS`.",
        json_schema_extra={
            "x-kubernetes-validations": [_cel(f"self.matches('{TIME_PATTERN}')", TIME_MESSAGE)]
        },
    )
    to: str = Field(
        max_length=8,
        description="When it ends, as `from`. Earlier than `from`: the next day (`20:00` to "
        "`07:00` spans the night); equal to `from`: 24 hours.",
        json_schema_extra={
            "x-kubernetes-validations": [_cel(f"self.matches('{TIME_PATTERN}')", TIME_MESSAGE)]
        },
    )
    time_zone: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        description="The IANA time zone of `from` and `to` (`Europe/Berlin`); daylight saving "
        "moves the window with the wall clock. Default: UTC.",
    )
    days: list[Day] | None = Field(
        default=None,
        min_length=1,
        max_length=7,
        description="The days of the week the window starts on (`Mon` ... `Sun`, in "
        "`timeZone`); a window across midnight ends the next day. Default: every day.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    quantities: dict[ProcessTypeName, Annotated[int, Field(ge=0, le=MAX_QUANTITY)]] = Field(
        min_length=1,
        max_length=50,
        description="The dynos of each process type named while the window is in force; the "
        "types it does not name keep the spec's quantity. Not for autoscaled types.",
    )

    @field_validator("from_", "to")
    @classmethod
    def _time(cls, value: str) -> str:
        if not re.match(TIME_PATTERN, value):
            raise ValueError(f"{value!r}: {TIME_MESSAGE}")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        if zone not in time_zones():
            raise ValueError(f"{zone!r}: {UNKNOWN_ZONE}")
        return zone

    @field_validator("days")
    @classmethod
    def _days_once(cls, days: list[str] | None) -> list[str] | None:
        if days is not None and len(set(days)) != len(days):
            raise ValueError("a day is named twice")
        return days

    def occurrences(self, around: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) in UTC of each time the window is in force from two days before
        `around` to eight days after, in order. A wall-clock time skipped by daylight saving
        is read with the offset before the change (02:30 on a spring-forward night is 03:30);
        a time that happens twice is its first."""
        zone = ZoneInfo(self.time_zone)
        start_at, end_at = _clock(self.from_), _clock(self.to)
        spans_midnight = end_at <= start_at
        today = around.astimezone(zone).date()
        out = []
        for offset in range(-2, 9):
            day = today + timedelta(days=offset)
            if self.days is not None and DAYS[day.weekday()] not in self.days:
                continue
            end_day = day + timedelta(days=1) if spans_midnight else day
            start, end = _at(day, start_at, zone), _at(end_day, end_at, zone)
            if end > start:
                out.append((start, end))
        return out


UNKNOWN_ZONE = "not an IANA time zone (as Europe/Berlin, America/New_York or UTC)"


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


WINDOWS_RULES: list[JsonValue] = [
    _cel(
        f"self.all(w, size(w) <= {WINDOW_NAME_MAX})",
        f"scale window names hold at most {WINDOW_NAME_MAX} characters",
    ),
]


@dataclass(frozen=True)
class InForce:
    """The window in force: its name, until when (UTC) and the quantities it applies."""

    name: str
    until: datetime
    quantities: Mapping[str, int]


def _in_force_until(window: ScaleWindow, now: datetime) -> datetime | None:
    """When the window stops being in force, if it is at `now`: back-to-back occurrences (a
    24-hour window on consecutive days) count as one."""
    spans = window.occurrences(now)
    until = next((end for start, end in spans if start <= now < end), None)
    if until is None:
        return None
    for start, end in spans:
        if start <= until < end:
            until = end
    return until


def in_force(windows: Mapping[str, ScaleWindow] | None, now: datetime) -> InForce | None:
    """The window in force at `now` (the first by name when several are), or None."""
    for name in sorted(windows or {}):
        window = (windows or {})[name]
        until = _in_force_until(window, now)
        if until is not None:
            return InForce(name, until, dict(window.quantities))
    return None


def next_edge(windows: Mapping[str, ScaleWindow] | None, now: datetime) -> datetime | None:
    """The next instant after `now` when a window starts or stops being in force: when the
    operator must look again. None without windows."""
    edges = []
    for window in (windows or {}).values():
        until = _in_force_until(window, now)
        if until is not None:
            edges.append(until)
        spans = window.occurrences(now)
        # A start that continues an occurrence before it (back-to-back days) changes nothing.
        edges.extend(
            start for start, _ in spans if start > now and not any(s < start <= e for s, e in spans)
        )
    return min(edges, default=None)


def parse_instant(value: str) -> datetime:
    """An RFC 3339 UTC instant (`2026-12-07T06:00:00Z`, as the clock gives it) as a datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def check_windows(
    windows: Mapping[str, ScaleWindow],
    types: set[str],
    autoscaled: set[str],
    singletons: set[str],
) -> None:
    """The rules across fields (the names admission policy's), for the model: ValueError in
    their words, naming the window."""
    for name in sorted(windows):
        quantities = windows[name].quantities
        if unknown := sorted(set(quantities) - types):
            raise ValueError(f"scale window {name}: no such process type as {', '.join(unknown)}")
        if scaled := sorted(set(quantities) & autoscaled):
            raise ValueError(f"scale window {name}: {', '.join(scaled)}: {AUTOSCALED_NOT_WINDOWED}")
        if over := sorted(t for t in set(quantities) & singletons if quantities[t] > 1):
            raise ValueError(
                f"scale window {name}: {over[0]} is a singleton process type and runs at most "
                f"1 dyno ({over[0]}={quantities[over[0]]})"
            )
