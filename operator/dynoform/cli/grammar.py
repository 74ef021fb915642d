"""The argument grammars of the dyno CLI (pure): ps:scale, ps:type, dyno names, config vars.

ps:scale uses Heroku's own regex (heroku/cli, src/commands/ps/scale.ts), ASCII only:
`^([\\w-]+)([=+-]\\d+)(?::([\\w-]+))?$`. Heroku silently drops an argument that does not match
(`heroku ps:scale web=1 garbage` scales web and ignores the rest, heroku/heroku-apps#128); we
refuse the whole command instead, naming every bad argument, so a typo never half-applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dynoform.api.dynos import ONE_OFF as ONE_OFF
from dynoform.api.dynos import DynoRef as DynoRef
from dynoform.api.edit import Op
from dynoform.api.edit import ScaleChange as ScaleChange
from dynoform.api.v1alpha1 import ENV_NAME_PATTERN, RESERVED_ENV
from dynoform.cli.errors import UsageError

SCALE_RE = re.compile(r"^([\w-]+)([=+-]\d+)(?::([\w-]+))?$", re.ASCII)
SCALE_GRAMMAR = (
    "TYPE=N, TYPE+N or TYPE-N, each optionally followed by :SIZE "
    "(e.g. web=3:performance-l worker+1)"
)
# Heroku's ps:type regex is `^([a-zA-Z0-9_]+)=([\w-]+)$`; ours lets the type hold `-`, as our
# process types may (Heroku's own `node-worker=...` fails there).
TYPE_SIZE_RE = re.compile(r"^([\w-]+)=([\w-]+)$", re.ASCII)
DYNO_RE = re.compile(r"^([\w-]+)\.([1-9][0-9]*)$", re.ASCII)


def parse_scale(args: list[str]) -> list[ScaleChange]:
    """Every argument parsed, sizes lowercased; any malformed one is a UsageError."""
    bad = [a for a in args if SCALE_RE.match(a) is None]
    if bad:
        listed = ", ".join(f'"{a}"' for a in bad)
        raise UsageError(
            f"Cannot parse {listed}: each argument is {SCALE_GRAMMAR}. Nothing was changed."
        )
    return [_scale_change(a) for a in args]


def _scale_change(arg: str) -> ScaleChange:
    m = SCALE_RE.match(arg)
    assert m is not None
    ptype, quantity, size = m.groups()
    op: Op = "+" if quantity[0] == "+" else "-" if quantity[0] == "-" else "="
    return ScaleChange(ptype, op, int(quantity[1:]), size.lower() if size else None)


@dataclass(frozen=True)
class TypeRequest:
    """ps:type's two forms: one size for every type, or TYPE=SIZE pairs."""

    every: str | None = None
    per_type: tuple[tuple[str, str], ...] = ()


def parse_type(args: list[str]) -> TypeRequest:
    """`ps:type SIZE` or `ps:type TYPE=SIZE ...` (Heroku's rule: any `=` means pairs)."""
    if not args:
        return TypeRequest()
    if any("=" in a for a in args):
        return TypeRequest(per_type=tuple(_type_size(a) for a in args))
    if len(args) > 1:
        raise UsageError(
            "ps:type takes one SIZE for every process type, or TYPE=SIZE arguments "
            f"(got {' '.join(args)}). Nothing was changed."
        )
    return TypeRequest(every=args[0].lower())


def _type_size(arg: str) -> tuple[str, str]:
    m = TYPE_SIZE_RE.match(arg)
    if m is None:
        raise UsageError(
            f'Cannot parse "{arg}": ps:type arguments are TYPE=SIZE (e.g. web=standard-2x). '
            "Nothing was changed."
        )
    return m.group(1), m.group(2).lower()


def parse_dyno_ref(text: str) -> DynoRef:
    """`web` or `web.2`; anything else is a UsageError."""
    m = DYNO_RE.match(text)
    if m:
        return DynoRef(m.group(1), int(m.group(2)))
    if re.fullmatch(r"[\w-]+", text, re.ASCII):
        return DynoRef(text)
    raise UsageError(f'"{text}" is neither a process type (web) nor a dyno name (web.1).')


def parse_env(values: list[str]) -> dict[str, str]:
    """`--env K=V` values; like Heroku's `-e`, one value may hold several `;`-separated pairs."""
    env: dict[str, str] = {}
    for value in values:
        for pair in filter(None, value.split(";")):
            name, sep, val = pair.partition("=")
            _check_env_name(name, sep, pair)
            env[name] = val
    return env


def _check_env_name(name: str, sep: str, pair: str) -> None:
    if not sep or not re.fullmatch(ENV_NAME_PATTERN, name):
        raise UsageError(f'Cannot parse --env "{pair}": expected NAME=VALUE.')
    if name in RESERVED_ENV:
        raise UsageError(f"--env {name}: {', '.join(RESERVED_ENV)} are set by dynoform.")
