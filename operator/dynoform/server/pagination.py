"""Heroku's list pagination (pure): the `Range` request header and the `Next-Range` answer.

`Range: id ..; max=200` asks for the first 200 by id; `Range: name ]web.2..; max=10, order=desc`
for the ten after `web.2`, descending. An answer that leaves some out is 206 Partial Content with
`Next-Range: name ]web.3..; max=10` to pass back; a complete one is 200. Without a Range, the
first 200 by the resource's default field. At most 1000 a page, as Heroku's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from dynoform.server.errors import HerokuError

DEFAULT_MAX = 200
LIMIT = 1000
RANGE = re.compile(
    r"^\s*(?P<field>[a-z_]+)\s*(?P<start>\]?[^;,]*?)\.\.(?P<end>[^;,]*)"
    r"(?:\s*;\s*(?P<opts>[^,]*))?(?:\s*,\s*order=(?P<order>asc|desc))?\s*$"
)
T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    field: str
    start: str = ""
    exclusive: bool = False
    end: str = ""
    max: int = DEFAULT_MAX
    order: str = "asc"

    def next_after(self, last: str) -> str:
        order = f", order={self.order}" if self.order == "desc" else ""
        return f"{self.field} ]{last}..; max={self.max}{order}"


def parse(header: str | None, fields: Sequence[str]) -> Range:
    """The Range asked for; a field not sortable or a malformed header is Heroku's 416."""
    if not header:
        return Range(fields[0])
    m = RANGE.match(header)
    if m is None or m.group("field") not in fields:
        raise HerokuError(
            416,
            f"Invalid Range header; ranges are on {', '.join(fields)}, "
            f"e.g. `{fields[0]} ..; max=200`.",
        )
    start = m.group("start").strip()
    return Range(
        field=m.group("field"),
        start=start.removeprefix("]"),
        exclusive=start.startswith("]"),
        end=m.group("end").strip(),
        max=_max(m.group("opts") or ""),
        order=m.group("order") or "asc",
    )


def _max(opts: str) -> int:
    m = re.search(r"max=(\d+)", opts)
    if m is None:
        return DEFAULT_MAX
    value = int(m.group(1))
    if not 1 <= value <= LIMIT:
        raise HerokuError(416, f"Invalid Range header: max is between 1 and {LIMIT}.")
    return value


def page(
    items: Sequence[T], wanted: Range, key: Callable[[T, str], str]
) -> tuple[list[T], str | None]:
    """The items of the range, and the Next-Range when more follow."""
    ordered = sorted(items, key=lambda i: key(i, wanted.field), reverse=wanted.order == "desc")
    chosen = [i for i in ordered if _within(key(i, wanted.field), wanted)]
    if len(chosen) <= wanted.max:
        return chosen, None
    shown = chosen[: wanted.max]
    return shown, wanted.next_after(key(shown[-1], wanted.field))


def _within(value: str, wanted: Range) -> bool:
    """Whether `value` lies in the range, in the range's order."""
    descending = wanted.order == "desc"
    if wanted.start:
        if (value > wanted.start) if descending else (value < wanted.start):
            return False
        if wanted.exclusive and value == wanted.start:
            return False
    if wanted.end:
        return not ((value < wanted.end) if descending else (value > wanted.end))
    return True
