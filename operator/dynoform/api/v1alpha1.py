"""The dyno.dev/v1alpha1 API: Formation and DynoSize, as pydantic models.

These models are the contract. The CRDs in crds/ are generated from them (dynoform.crd), the
operator parses every object it reads through them, and the CLI builds its changes with them.
Validation that Kubernetes can do at `kubectl apply` time is declared here too, as CEL rules
(`x-kubernetes-validations`) beside the field they guard, with messages written for users.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict, JsonValue

GROUP = "dyno.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# A process type names a Deployment `<formation>-<type>` and a Service: both DNS-1035 labels.
PROCESS_TYPE_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
PROCESS_TYPE_MAX = 30
NAME_MAX = 63
SIZE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
# Set by the operator on every dyno; a config var of the same name would be silently overridden.
RESERVED_ENV = ("PORT", "DYNO", "DYNO_TYPE", "DYNO_SIZE")
SINGLETON_TYPES = ("clock", "scheduler")
DEFAULT_PORT = 5000
DEFAULT_SIZE = "standard-1x"
MAX_PROCESS_TYPES = 64
MAX_QUANTITY = 1000
MAX_COMMAND = 32768


def _cel(rule: str, message: str, **extra: str) -> JsonDict:
    return {"rule": rule, "message": message, **extra}


class Model(BaseModel):
    """Base for API models: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def wire(self) -> dict[str, Any]:
        """The object as Kubernetes stores it: camelCase, no nulls."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


EnvMap = dict[str, str]

_ENV_RULES: list[JsonValue] = [
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


class LocalObjectReference(Model):
    name: str = Field(min_length=1, max_length=253, description="Name of the object.")


class EnvFromSource(Model):
    """Config vars loaded from a whole Secret or ConfigMap, as Kubernetes' envFrom does."""

    secret_ref: LocalObjectReference | None = Field(
        default=None, description="A Secret whose keys become config vars."
    )
    config_map_ref: LocalObjectReference | None = Field(
        default=None, description="A ConfigMap whose keys become config vars."
    )
    prefix: str | None = Field(
        default=None, max_length=253, description="Prepended to every key loaded from the source."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "has(self.secretRef) != has(self.configMapRef)",
                    "each envFrom entry names exactly one of secretRef or configMapRef",
                )
            ]
        }
    )


class ProcessType(Model):
    """One process type of the app: a Procfile line, scaled to `quantity` dynos of `size`."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "!has(self.singleton) || !self.singleton || !has(self.quantity) || "
                    "self.quantity <= 1",
                    "a singleton process type runs at most 1 dyno",
                )
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
    size: str = Field(
        default=DEFAULT_SIZE,
        min_length=1,
        max_length=63,
        pattern=SIZE_PATTERN,
        description="The dyno size, lowercase: a built-in Heroku size (eco, basic, standard-1x, "
        "standard-2x, performance-m, performance-l, performance-l-ram, performance-xl, "
        "performance-2xl) or a DynoSize defined by the cluster admin.",
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
        json_schema_extra={"x-kubernetes-validations": _ENV_RULES},
    )


class Spread(Model):
    """How dynos of each type are spread across zones and hosts."""

    when_unsatisfiable: Literal["ScheduleAnyway", "DoNotSchedule"] = Field(
        default="ScheduleAnyway",
        description="ScheduleAnyway (default) prefers an even spread (maxSkew 1) but still "
        "starts dynos when a zone is full; DoNotSchedule leaves dynos Pending rather than "
        "break the spread.",
    )


class PodSecurity(Model):
    """Overrides of the restricted security context every dyno gets by default."""

    run_as_user: int | None = Field(
        default=None, ge=0, description="UID to run as (for images that default to root)."
    )
    run_as_group: int | None = Field(default=None, ge=0, description="GID to run as.")
    fs_group: int | None = Field(default=None, ge=0, description="Group for mounted volumes.")
    run_as_non_root: bool = Field(
        default=True, description="Refuse to start a dyno whose image runs as root."
    )
    read_only_root_filesystem: bool = Field(
        default=False,
        description="Mount the image read-only (Heroku's filesystem is writable but "
        "ephemeral, so this is off by default).",
    )


def _default_singleton_rule(ptype: str) -> JsonDict:
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


class FormationSpec(Model):
    """The desired formation: one image and its process types."""

    image: str = Field(
        min_length=1, max_length=1024, description="The slug: the image every process type runs."
    )
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None, max_length=16, description="Secrets used to pull the image."
    )
    env: EnvMap | None = Field(
        default=None,
        max_length=1024,
        description="App-wide config vars, as Heroku's config vars.",
        json_schema_extra={"x-kubernetes-validations": _ENV_RULES},
    )
    env_from: list[EnvFromSource] | None = Field(
        default=None,
        max_length=16,
        description="Secrets and ConfigMaps whose keys become app-wide config vars.",
    )
    processes: dict[ProcessTypeName, ProcessType] = Field(
        min_length=1,
        max_length=MAX_PROCESS_TYPES,
        description="The process types, keyed by name as in a Procfile (`web`, `worker`, "
        "`clock`, ...): lowercase DNS labels of at most 30 characters.",
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    f"self.all(t, size(t) <= {PROCESS_TYPE_MAX})",
                    f"process type names hold at most {PROCESS_TYPE_MAX} characters",
                ),
                *(_default_singleton_rule(t) for t in SINGLETON_TYPES),
            ]
        },
    )
    spread: Spread = Field(
        default_factory=Spread, description="Spread of dynos across zones and hosts."
    )
    security: PodSecurity = Field(
        default_factory=PodSecurity, description="Security context overrides for the dynos."
    )

    def quantity_of(self, ptype: str) -> int:
        """The effective quantity: Heroku starts one web dyno and no other by default."""
        q = self.processes[ptype].quantity
        return q if q is not None else (1 if ptype == "web" else 0)

    def is_singleton(self, ptype: str) -> bool:
        s = self.processes[ptype].singleton
        return s if s is not None else ptype in SINGLETON_TYPES

    def is_critical(self, ptype: str) -> bool:
        c = self.processes[ptype].critical
        return c if c is not None else ptype == "web"

    def port_of(self, ptype: str) -> int | None:
        p = self.processes[ptype].port
        return p if p is not None or ptype != "web" else DEFAULT_PORT


class Condition(Model):
    """A status condition, as Kubernetes' metav1.Condition."""

    type: str = Field(max_length=316, description="The condition's type, e.g. Ready.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(max_length=1024, description="A CamelCase reason.")
    message: str = Field(default="", max_length=32768, description="A human-readable message.")
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation the condition was computed for."
    )


class ProcessStatus(Model):
    """Observed figures of one process type, from its Deployment."""

    size: str = Field(description="The dyno size in effect.")
    desired: int = Field(description="Dynos declared (quantity).")
    ready: int = Field(default=0, description="Dynos passing their readiness checks.")
    updated: int = Field(default=0, description="Dynos running the current template.")
    available: int = Field(default=0, description="Dynos ready for minReadySeconds.")


class FormationChange(Model):
    """One change of the formation, as Heroku logs it (`Scale to web=2 by alice`)."""

    time: str = Field(description="When the operator applied it (RFC 3339).")
    formation: str = Field(description="The whole formation after the change.")
    by: str | None = Field(
        default=None, description="Who made it, as the API server authenticated them."
    )


HISTORY_MAX = 10


class FormationStatus(Model):
    """What the operator observed and did."""

    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation last reconciled."
    )
    formation: str | None = Field(
        default=None,
        description="The formation in Heroku's form: `web=3:standard-2x worker=2:standard-1x`.",
    )
    processes: dict[str, ProcessStatus] | None = Field(
        default=None, description="Observed figures per process type."
    )
    history: list[FormationChange] | None = Field(
        default=None,
        max_length=HISTORY_MAX,
        description=f"The last {HISTORY_MAX} changes of quantities or sizes, newest last "
        "(Events expire; this stays).",
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description="Ready, Reconciled and others, as metav1.Condition.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


# Rules on the whole object: only the root can see metadata.name next to the spec.
FORMATION_ROOT_RULES: list[JsonValue] = [
    _cel(
        f"self.metadata.name.matches('{PROCESS_TYPE_PATTERN}')",
        "a Formation's name must be a DNS label (lowercase letters, digits and '-', starting "
        "with a letter): it prefixes its Deployments and Services",
    ),
    _cel(
        f"self.spec.processes.all(t, size(self.metadata.name) + size(t) < {NAME_MAX})",
        f"'<formation>-<type>' names each Deployment and Service and must fit in {NAME_MAX} "
        "characters: shorten the Formation's name or the process type",
        fieldPath=".spec.processes",
    ),
]


class Formation(Model):
    """An app's dyno formation (namespaced)."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["dyno.dev/v1alpha1"] = "dyno.dev/v1alpha1"
    kind: Literal["Formation"] = Field(default="Formation")
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: FormationSpec
    status: FormationStatus | None = None

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", "default"))

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation", 0))


class Resources(Model):
    """CPU and memory of one dyno, as Kubernetes quantities."""

    cpu: str = Field(pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="CPU, e.g. `250m` or `2`.")
    memory: str = Field(
        pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$",
        description="Memory, e.g. `512Mi` or `14Gi`.",
    )


class Toleration(Model):
    """A toleration for dedicated nodes, as core/v1 Toleration."""

    key: str | None = Field(default=None, description="The taint key.")
    operator: Literal["Exists", "Equal"] | None = Field(default=None, description="Operator.")
    value: str | None = Field(default=None, description="The taint value.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="The taint effect."
    )


class DynoSizeSpec(Model):
    """A dyno size: what one dyno gets, and the scaling rules that come with it."""

    display_name: str | None = Field(
        default=None, max_length=63, description="Canonical casing for output, e.g. Performance-L."
    )
    tier: str = Field(
        pattern=r"^[a-z][-a-z0-9]*$",
        max_length=63,
        description="The tier (eco, basic, standard, performance, or the admin's own).",
    )
    requests: Resources = Field(description="Resources reserved for each dyno.")
    limits: Resources = Field(description="The most each dyno may use.")
    max_quantity: int | None = Field(
        default=None, ge=1, description="The most dynos of this size per process type."
    )
    horizontal_scaling: bool = Field(
        default=True, description="Whether a process type may run more than one dyno of it."
    )
    node_selector: dict[str, str] | None = Field(
        default=None, description="Nodes reserved for this size (dedicated sizes)."
    )
    tolerations: list[Toleration] | None = Field(
        default=None, description="Tolerations for the taints of dedicated nodes."
    )


class DynoSize(Model):
    """A cluster-scoped dyno size, like a StorageClass; overrides a built-in of the same name."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["dyno.dev/v1alpha1"] = "dyno.dev/v1alpha1"
    kind: Literal["DynoSize"] = Field(default="DynoSize")
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: DynoSizeSpec

    @property
    def name(self) -> str:
        return str(self.metadata["name"])


def describe(exc: ValidationError) -> str:
    """A pydantic error as one line a user understands: where, and what is wrong."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"spec is invalid at {where}: {err['msg']}"


def is_valid_process_type(name: str) -> bool:
    """The same rule as the CEL check, for the CLI and the operator."""
    return len(name) <= PROCESS_TYPE_MAX and re.match(PROCESS_TYPE_PATTERN, name) is not None
