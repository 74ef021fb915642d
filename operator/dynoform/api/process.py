"""A process type of the app (a Procfile line) and Heroku's release phase, with the rules of
their names, singletons and ports (part of the v1alpha1 API, re-exported by dynoform.api.v1alpha1).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator
from pydantic.config import JsonDict, JsonValue

from dynoform.api.autoscaling import Autoscaling
from dynoform.api.base import MAX_QUANTITY, Model
from dynoform.api.base import cel as _cel

# A process type names a Deployment `<formation>-<type>` and a Service: both DNS-1035 labels.
PROCESS_TYPE_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
PROCESS_TYPE_MAX = 30
NAME_MAX = 63
# Any case: Heroku prints sizes as `Standard-2X`, and a size written so is the catalog's
# `standard-2x` (the models lowercase it; the admission policy compares lowercased).
SIZE_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$"
SIZE_INVALID = "is not a dyno size name: letters, digits and '-', such as standard-2x"
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
# Set by the operator on every dyno; a config var of the same name would be silently overridden.
RESERVED_ENV = ("PORT", "DYNO", "DYNO_TYPE", "DYNO_SIZE")
SINGLETON_TYPES = ("clock", "scheduler")
SINGLETON_NOT_AUTOSCALED = "a singleton process type cannot be autoscaled"
# Heroku's Procfile `release:` line is the release phase (spec.release), never a process type.
RELEASE = "release"
RELEASE_NOT_A_TYPE = (
    "release is Heroku's release phase, not a process type: set spec.release.command"
)
DEFAULT_PORT = 5000
DEFAULT_SIZE = "standard-1x"
# Heroku's tiers of a single size each: an app on them runs only that size, so a type that names
# no size takes it (an imported Procfile's other types, say), as on Heroku.
ONE_SIZE_TIERS = ("eco", "basic")
MAX_PROCESS_TYPES = 64
MAX_COMMAND = 32768
# Eco sleep (docs/concepts/eco-sleep.md): only Heroku's web type of the eco size sleeps.
SLEEPING_TYPE = "web"
SLEEPING_SIZE = "eco"
SLEEP_ONLY_WEB = "only web sleeps (as on Heroku): sleep and hosts are for the web type only"
# A Host header the KEDA HTTP add-on's interceptor routes: a DNS name, or `*.` and one.
HOST_PATTERN = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
MAX_HOSTS = 16


EnvMap = dict[str, str]
HostName = Annotated[str, StringConstraints(pattern=HOST_PATTERN, min_length=1, max_length=253)]

SIZE_RULE = _cel(
    f"self.matches('{SIZE_PATTERN}')", SIZE_INVALID, messageExpression=f'self + " {SIZE_INVALID}"'
)


def size_name(value: str) -> str:
    """A size as the catalog names it (lowercase); the CRD's rule, for the operator and CLI."""
    if re.match(SIZE_PATTERN, value) is None:
        raise ValueError(f"{value} {SIZE_INVALID}")
    return value.lower()


ENV_RULES: list[JsonValue] = [
    _cel(
        f"self.all(k, k.matches('{ENV_NAME_PATTERN}'))",
        "config var names may hold letters, digits, '_', '-' and '.', and must not start "
        "with a digit",
    ),
    _cel(
        "self.all(k, !(k in " + str(list(RESERVED_ENV)).replace(" ", "") + "))",
        f"{', '.join(RESERVED_ENV)} are set by dynoform on every dyno; use `port` to change PORT",
    ),
]


class ProcessType(Model):
    """One process type of the app: a Procfile line, scaled to `quantity` dynos of `size`."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "!has(self.singleton) || !self.singleton || !has(self.quantity) || "
                    "self.quantity <= 1",
                    "a singleton process type runs at most 1 dyno",
                ),
                _cel(
                    "!has(self.singleton) || !self.singleton || !has(self.autoscaling)",
                    SINGLETON_NOT_AUTOSCALED,
                ),
            ]
        }
    )

    command: str = Field(
        min_length=1,
        max_length=MAX_COMMAND,
        description="The command every dyno of this type runs, through `/bin/sh -c` as a "
        "Procfile line is; config vars such as $PORT may be referenced.",
    )
    quantity: int | None = Field(
        default=None,
        ge=0,
        le=MAX_QUANTITY,
        description="How many dynos of this type to run. Defaults as on Heroku: 1 for `web`, "
        "0 for every other type.",
    )
    size: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="The dyno size, in any case (`standard-2x` or `Standard-2X`): a built-in "
        "Heroku size (eco, basic, standard-1x, standard-2x, performance-m, performance-l, "
        "performance-l-ram, performance-xl, performance-2xl) or a DynoSize defined by the "
        "cluster admin. Default: the app's tier, as on Heroku: eco (or basic) when every type "
        "that names a size names eco (or basic), otherwise standard-1x.",
        json_schema_extra={"x-kubernetes-validations": [SIZE_RULE]},
    )
    singleton: bool | None = Field(
        default=None,
        description="A singleton never runs more than one dyno, not even during a rollout. "
        "Defaults to true for `clock` and `scheduler`, false otherwise.",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=f"The port the process listens on, given to it as $PORT. `web` always "
        f"listens (default {DEFAULT_PORT}) and gets a Service; another type gets a port and a "
        "Service only when this is set.",
    )
    critical: bool | None = Field(
        default=None,
        description="Advise (never require) at least two dynos for redundancy, as Heroku "
        "advises for web. Defaults to true for `web`, false otherwise.",
    )
    env: EnvMap | None = Field(
        default=None,
        max_length=256,
        description="Config vars for this type only; they override app-wide ones.",
        json_schema_extra={"x-kubernetes-validations": ENV_RULES},
    )
    autoscaling: Autoscaling | None = Field(
        default=None,
        description="Let an autoscaler move the number of dynos between min and max; "
        "`quantity` is where it starts. Not for singletons.",
    )
    sleep: bool | None = Field(
        default=None,
        description="Whether an eco `web` type sleeps after 30 minutes without requests and "
        "wakes on the next one, as on Heroku (through the KEDA HTTP add-on, when the cluster "
        "has it). Default true for an eco web type; false keeps it awake. Only an eco web type "
        "sleeps: true on another size, or on another type, is refused.",
    )
    hosts: list[HostName] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_HOSTS,
        description="The Host names whose requests the KEDA HTTP add-on's interceptor routes "
        "to a sleeping eco web type, waking it: the app's domains (`*.example.com` matches "
        "its subdomains). Default: `<formation>.<namespace>`. For the web type only.",
    )

    @field_validator("size")
    @classmethod
    def _catalog_name(cls, size: str | None) -> str | None:
        return None if size is None else size_name(size)


class Release(Model):
    """Heroku's release phase: a command run once per new image, before any dyno runs it."""

    command: str = Field(
        min_length=1,
        max_length=MAX_COMMAND,
        description="Run through `/bin/sh -c` in a Job with the new image and the app's config "
        "vars (database migrations, say); the dynos move to the new image only when it "
        "succeeds.",
    )
    size: str = Field(
        default=DEFAULT_SIZE,
        min_length=1,
        max_length=63,
        description="The dyno size the release command runs on (any case).",
        json_schema_extra={"x-kubernetes-validations": [SIZE_RULE]},
    )

    @field_validator("size")
    @classmethod
    def _catalog_name(cls, size: str) -> str:
        return size_name(size)


def default_singleton_autoscaling_rule(ptype: str) -> JsonDict:
    p = f"self.{ptype}"
    return _cel(
        f"!has({p}) || !has({p}.autoscaling) || (has({p}.singleton) && !{p}.singleton)",
        f"{ptype} is a singleton process type and cannot be autoscaled (set singleton: false "
        "to scale it)",
    )


def default_singleton_rule(ptype: str) -> JsonDict:
    # Field access on a known key is cheap for CEL's cost estimator; iterating over the map's
    # keys with string functions is not (keys are unbounded strings to it), hence one rule per
    # type that is a singleton by default.
    p = f"self.{ptype}"
    return _cel(
        f"!has({p}) || !has({p}.quantity) || {p}.quantity <= 1 || "
        f"(has({p}.singleton) && !{p}.singleton)",
        f"{ptype} is a singleton process type and runs at most 1 dyno (set singleton: false "
        "to scale it)",
    )


# Checked by pydantic (the operator refuses such a spec before applying anything) and by the
# admission policy in crds/; CRD CEL cannot afford string functions over map keys.
ProcessTypeName = Annotated[
    str, StringConstraints(pattern=PROCESS_TYPE_PATTERN, max_length=PROCESS_TYPE_MAX)
]


def default_size(named: set[str]) -> str:
    """The size of a type that names none, given the sizes the app's other types name."""
    if len(named) == 1 and (only := next(iter(named))) in ONE_SIZE_TIERS:
        return only
    return DEFAULT_SIZE


def is_singleton_type(ptype: str, proc: ProcessType) -> bool:
    return proc.singleton if proc.singleton is not None else ptype in SINGLETON_TYPES


def default_port_of(ptype: str, proc: ProcessType) -> int | None:
    return proc.port if proc.port is not None or ptype != "web" else DEFAULT_PORT


def is_valid_process_type(name: str) -> bool:
    """The same rule as the CEL check, for the CLI and the operator."""
    return len(name) <= PROCESS_TYPE_MAX and re.match(PROCESS_TYPE_PATTERN, name) is not None
