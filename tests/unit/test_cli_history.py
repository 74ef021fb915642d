"""`dyno ps:history` renders the operator's record of changes as Heroku's log lines."""

from __future__ import annotations

from dynoform.api.v1alpha1 import FormationChange
from dynoform.cli.commands.history import log_line


def test_a_change_reads_as_herokus_scale_log_line_with_sizes() -> None:
    change = FormationChange(
        time="2026-11-21T19:00:00Z",
        formation="web=2:standard-1x worker=1:standard-2x",
        by="alice@example.com",
    )
    assert log_line(change) == (
        "2026-11-21T19:00:00Z dyno[api]: Scale to web=2:standard-1x, worker=1:standard-2x "
        "by alice@example.com"
    )


def test_a_change_with_no_recorded_user_says_no_name() -> None:
    change = FormationChange(time="t", formation="web=1:eco")
    assert log_line(change) == "t dyno[api]: Scale to web=1:eco"
