"""Heroku's Range / Next-Range pagination (dynoform.server.pagination)."""

from __future__ import annotations

import pytest

from dynoform.server.errors import HerokuError
from dynoform.server.pagination import DEFAULT_MAX, Range, page, parse

NAMES = ["web.2", "clock.1", "web.1", "worker.1", "run.1"]


def key(item: str, field: str) -> str:
    return item


RANGES = [
    (None, Range("name")),
    ("name ..", Range("name")),
    ("id ..; max=10", Range("id", max=10)),
    ("name ]web.1..; max=2", Range("name", "web.1", True, max=2)),
    ("name web.1..worker.1", Range("name", "web.1", end="worker.1")),
    ("name ..; max=5, order=desc", Range("name", max=5, order="desc")),
]


@pytest.mark.parametrize(("header", "expected"), RANGES)
def test_a_range_header_is_read_as_heroku_writes_it(header, expected) -> None:
    assert parse(header, ("name", "id")) == expected


@pytest.mark.parametrize("header", ["size ..", "name", "name ..; max=0", "name ..; max=1001"])
def test_a_range_on_another_field_or_beyond_the_limit_is_416(header) -> None:
    with pytest.raises(HerokuError) as err:
        parse(header, ("name", "id"))
    assert (err.value.status, err.value.error_id) == (416, "requested_range_not_satisfiable")


def test_a_partial_page_names_the_range_that_follows() -> None:
    first, next_range = page(NAMES, parse("name ..; max=2", ("name",)), key)
    assert (first, next_range) == (["clock.1", "run.1"], "name ]run.1..; max=2")
    second, next_range = page(NAMES, parse(next_range, ("name",)), key)
    assert (second, next_range) == (["web.1", "web.2"], "name ]web.2..; max=2")
    third, last = page(NAMES, parse(next_range, ("name",)), key)
    assert (third, last) == (["worker.1"], None)


def test_a_descending_range_pages_backwards() -> None:
    shown, next_range = page(NAMES, parse("name ..; max=2, order=desc", ("name",)), key)
    assert shown == ["worker.1", "web.2"]
    assert next_range == "name ]web.2..; max=2, order=desc"
    rest, _ = page(NAMES, parse(next_range, ("name",)), key)
    assert rest == ["web.1", "run.1"]


def test_an_inclusive_range_with_an_end_keeps_both_ends() -> None:
    shown, _ = page(NAMES, parse("name run.1..web.2", ("name",)), key)
    assert shown == ["run.1", "web.1", "web.2"]


def test_a_complete_list_has_no_next_range() -> None:
    assert page(NAMES, Range("name"), key) == (sorted(NAMES), None)
    assert Range("name").max == DEFAULT_MAX
