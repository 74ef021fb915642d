"""`dyno logs` (pure part): which dynos, and Heroku's line format.

Heroku prints `2026-11-21T19:00:00.123456+00:00 app[web.1]: message`; the Kubernetes log API
gives `2026-11-21T19:00:00.123456789Z message` when asked for timestamps. Without --tail the
last lines of every dyno are merged in time order, as Heroku's log history is; with --tail each
dyno's stream is printed as it comes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dynoform.api.dynos import Dyno
from dynoform.cli.errors import CliError
from dynoform.cli.grammar import DynoRef


@dataclass(frozen=True, order=True)
class LogLine:
    timestamp: str  # Heroku's layout, fixed width in UTC, so it sorts in time order
    dyno: str
    message: str

    def __str__(self) -> str:
        return f"{self.timestamp} app[{self.dyno}]: {self.message}"


def select(dynos: Sequence[Dyno], ref: DynoRef | None, app: str) -> list[Dyno]:
    """The dynos whose logs are wanted: all, one type (-p) or one dyno (-d)."""
    if ref is None:
        return list(dynos)
    chosen = [d for d in dynos if d.type == ref.ptype and ref.number in (None, d.number)]
    if not chosen:
        raise CliError(f"No {ref} dynos on ⬢ {app}")
    return chosen


def parse(dyno: str, raw: str) -> LogLine:
    """One line of the log API with timestamps=True."""
    stamp, _, message = raw.rstrip("\n").partition(" ")
    return LogLine(heroku_time(stamp), dyno, message)


def merged(streams: Iterable[tuple[str, Iterable[str]]], num: int) -> list[LogLine]:
    """The last `num` lines of every dyno's log, in time order."""
    lines = sorted(parse(dyno, raw) for dyno, raw_lines in streams for raw in raw_lines)
    return lines[-num:] if num > 0 else []


def heroku_time(stamp: str) -> str:
    """`2026-11-21T19:00:00.123456789Z` -> `2026-11-21T19:00:00.123456+00:00` (microseconds)."""
    if not stamp.endswith("Z"):
        return stamp
    whole, _, fraction = stamp[:-1].partition(".")
    return f"{whole}.{(fraction + '000000')[:6]}+00:00"
