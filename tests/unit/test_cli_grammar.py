"""The dyno CLI's argument grammars: Heroku's ps:scale regex exactly, refusing what Heroku drops."""

from __future__ import annotations

import pytest

from dynoform.cli.errors import USAGE, UsageError
from dynoform.cli.grammar import (
    DynoRef,
    ScaleChange,
    TypeRequest,
    parse_dyno_ref,
    parse_env,
    parse_scale,
    parse_type,
)

# Heroku's own cases: heroku/cli test/unit/commands/ps/scale.unit.test.ts (PATCH bodies), and
# the grammar table of the spec (§1.2), as the change each argument makes here.
HEROKU_CASES = [
    ("web=1", ScaleChange("web", "=", 1)),  # {quantity: '1', type: 'web'}
    ("worker=2", ScaleChange("worker", "=", 2)),  # {quantity: '2', type: 'worker'}
    ("web+1", ScaleChange("web", "+", 1)),  # {quantity: '+1', type: 'web'}
    ("web=1:Shield-L", ScaleChange("web", "=", 1, "shield-l")),  # size sent with the change
    ("web=2", ScaleChange("web", "=", 2)),
    ("web+5", ScaleChange("web", "+", 5)),
    ("web-1", ScaleChange("web", "-", 1)),
    ("web=3:performance-l", ScaleChange("web", "=", 3, "performance-l")),
    ("worker=0", ScaleChange("worker", "=", 0)),
    ("web=3:Standard-2X", ScaleChange("web", "=", 3, "standard-2x")),  # the CLI help example
]


@pytest.mark.parametrize(("arg", "change"), HEROKU_CASES, ids=[c[0] for c in HEROKU_CASES])
def test_herokus_own_scale_arguments_parse_to_the_same_change(
    arg: str, change: ScaleChange
) -> None:
    assert parse_scale([arg]) == [change]


def test_several_arguments_are_one_command_in_their_order() -> None:
    # Heroku: `heroku ps:scale web=1 worker=5` is one batch request, in argument order.
    assert parse_scale(["web=3:Standard-2X", "worker+1"]) == [
        ScaleChange("web", "=", 3, "standard-2x"),
        ScaleChange("worker", "+", 1),
    ]


def test_no_argument_means_show_the_formation() -> None:
    assert parse_scale([]) == []


def test_hyphenated_types_split_at_the_last_operator_as_herokus_regex_does() -> None:
    assert parse_scale(["node-worker-2"]) == [ScaleChange("node-worker", "-", 2)]
    assert parse_scale(["node-worker=2"]) == [ScaleChange("node-worker", "=", 2)]


# Heroku silently drops these (lodash compact; heroku/heroku-apps#128); we refuse them.
MALFORMED = ["web=-1", "web=abc", "web=1.5", "web", "garbage", "web=", "=2", "web=1:", "wéb=1"]


@pytest.mark.parametrize("arg", MALFORMED)
def test_an_argument_heroku_would_silently_drop_is_a_usage_error_naming_it(arg: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_scale(["web=1", arg])
    assert f'"{arg}"' in str(e.value)
    assert "TYPE=N, TYPE+N or TYPE-N" in str(e.value)
    assert "Nothing was changed" in str(e.value)
    assert e.value.code == USAGE == 2


def test_every_malformed_argument_is_named_at_once() -> None:
    with pytest.raises(UsageError, match=r'Cannot parse "web=x", "oops":'):
        parse_scale(["web=x", "worker=1", "oops"])


def test_scale_changes_compute_absolute_and_relative_quantities() -> None:
    assert ScaleChange("web", "=", 3).quantity_after(7) == 3
    assert ScaleChange("web", "+", 3).quantity_after(7) == 10
    assert ScaleChange("web", "-", 3).quantity_after(7) == 4
    assert ScaleChange("web", "-", 3).quantity_after(1) == -2  # refused later, with a message


TYPE_CASES = [
    ([], TypeRequest()),
    (["Standard-2X"], TypeRequest(every="standard-2x")),
    (["web=standard-2x"], TypeRequest(per_type=(("web", "standard-2x"),))),
    (
        ["web=Performance-L", "node-worker=basic"],
        TypeRequest(per_type=(("web", "performance-l"), ("node-worker", "basic"))),
    ),
]


@pytest.mark.parametrize(("args", "request_"), TYPE_CASES)
def test_ps_type_takes_one_size_for_all_or_type_size_pairs(
    args: list[str], request_: TypeRequest
) -> None:
    assert parse_type(args) == request_


@pytest.mark.parametrize("args", [["web=", "worker=basic"], ["web=basic", "eco"], ["eco", "basic"]])
def test_ps_type_refuses_mixed_or_malformed_forms(args: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_type(args)


@pytest.mark.parametrize(
    ("text", "ref"),
    [("web", DynoRef("web")), ("web.2", DynoRef("web", 2)), ("run.12", DynoRef("run", 12))],
)
def test_dyno_references_are_a_type_or_type_dot_number(text: str, ref: DynoRef) -> None:
    assert parse_dyno_ref(text) == ref
    assert str(parse_dyno_ref(text)) == text


@pytest.mark.parametrize("text", ["web.0", "web.x", "web.", ".1", "web 1"])
def test_anything_else_is_not_a_dyno_reference(text: str) -> None:
    with pytest.raises(UsageError):
        parse_dyno_ref(text)


def test_env_takes_repeated_and_semicolon_separated_pairs_like_herokus_e() -> None:
    assert parse_env(["A=1;B=x=y", "C=", "A=2"]) == {"A": "2", "B": "x=y", "C": ""}


@pytest.mark.parametrize("value", ["NOEQUALS", "1BAD=x", "PORT=80", "DYNO=web.1"])
def test_env_refuses_bad_or_reserved_names(value: str) -> None:
    with pytest.raises(UsageError):
        parse_env([value])
