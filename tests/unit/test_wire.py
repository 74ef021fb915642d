"""A Formation's strings reach the API server and come back intact whatever characters they
hold (both found by tests/integration/test_fuzz.py):
- server-side apply bodies are read as YAML: a command holding a DEL or a C1 control failed
  every apply with "control characters are not allowed";
- watch streams are read a line at a time, and httpx's line reader also breaks at NEL, LS and
  PS: an object holding one failed the watch on its every change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2 as httpx
import pytest
import yaml

from dynoform.runtime.watch import EscapedBreaks
from dynoform.runtime.wire import apply_body

# Every character JSON carries raw but YAML refuses or folds raw, and neighbours it accepts.
AWKWARD = "".join(map(chr, range(0x7F, 0xA1))) + "\u2028\u2029\ufffe\uffff\ufffd\x00\x05\t\n\r 🚀ü"


def test_the_body_parses_as_yaml_to_the_very_same_object() -> None:
    body = {"spec": {"command": AWKWARD, "env": [{"name": "V", "value": AWKWARD}]}}
    assert yaml.safe_load(bytes(apply_body(body))) == body


def test_the_body_is_json_too() -> None:
    body = {"a": [1, True, None, AWKWARD]}
    assert json.loads(bytes(apply_body(body))) == body


def test_plain_json_of_the_same_body_is_refused_by_a_yaml_parser() -> None:
    raw = json.dumps({"command": AWKWARD}, ensure_ascii=False).encode()
    with pytest.raises(yaml.YAMLError, match="special characters are not allowed"):
        yaml.safe_load(raw)


# --- Watch streams: one event a line, whatever the objects hold ------------------------------


class Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def events(chunks: list[bytes]) -> list[dict[str, Any]]:
    async def read() -> bytes:
        return b"".join([c async for c in EscapedBreaks(Chunks(chunks))])

    data = asyncio.run(read())
    return [json.loads(line) for line in data.decode().splitlines()]


BREAKS = {"type": "ADDED", "object": {"value": "nel \x85 ls \u2028 ps \u2029 end"}}


def test_a_watch_event_holding_line_breaks_stays_one_line() -> None:
    raw = (json.dumps(BREAKS, ensure_ascii=False) + "\n").encode()
    assert len(raw.decode().splitlines()) == 4  # what httpx's line reader made of it
    assert events([raw, raw]) == [BREAKS, BREAKS]


@pytest.mark.parametrize("cut", range(1, 40))
def test_a_break_split_across_chunks_is_escaped_too(cut: int) -> None:
    raw = (json.dumps(BREAKS, ensure_ascii=False) + "\n").encode()
    assert events([raw[:cut], raw[cut:]]) == [BREAKS]
