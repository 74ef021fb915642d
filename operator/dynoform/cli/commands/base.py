"""What every command gets: the app, the API (connected on first use), the streams, the clock.

Output follows Heroku's split: what a script reads (ps, the formation, a manifest) goes to
stdout; progress (`Scaling dynos... done, ...`), notes and errors go to stderr.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, TextIO

from dynoform.cli.errors import UsageError
from dynoform.cli.target import Target, connect

if TYPE_CHECKING:
    from dynoform.cli.client import Api

APP_ENV = "DYNO_APP"  # as HEROKU_APP: the app when -a is not given


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    app: str | None
    target: Target
    out: TextIO
    err: TextIO
    clock: Callable[[], datetime] = utc_now
    tz: tzinfo | None = None  # None: the local time zone, as Heroku prints times
    connector: Callable[[Target], Api] = connect
    _api: Api | None = field(default=None, repr=False)

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = self.connector(self.target)
        return self._api

    def require_app(self) -> str:
        app = self.app or os.environ.get(APP_ENV)
        if not app:
            raise UsageError(
                "Missing required flag: -a, --app APP (the Formation), or set DYNO_APP."
            )
        return app

    def note(self, text: str) -> None:
        self.err.write(text + "\n")


class Action:
    """Heroku's spinner line, without the spinner: `Scaling dynos... done, ...` or `... !`."""

    def __init__(self, err: TextIO, text: str) -> None:
        self.err = err
        self.text = text
        self.result = "done"

    def done(self, result: str) -> None:
        self.result = result


@contextmanager
def action(err: TextIO, text: str) -> Iterator[Action]:
    act = Action(err, text)
    err.write(f"{text}... ")
    err.flush()
    try:
        yield act
    except BaseException:
        err.write("!\n")
        raise
    err.write(act.result + "\n")
