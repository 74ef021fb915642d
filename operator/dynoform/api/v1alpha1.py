"""The dyno.dev/v1alpha1 API: Formation and DynoSize, as pydantic models.

These models are the contract. The CRDs in crds/ are generated from them (dynoform.api.crd), the
operator parses every object it reads through them, and the CLI builds its changes with them.
Validation that Kubernetes can do at `kubectl apply` time is declared here too, as CEL rules
(`x-kubernetes-validations`) beside the field they guard, with messages written for users.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic.config import JsonDict, JsonValue

from dynoform.api.autoscaling import Autoscaling
from dynoform.api.base import MAX_QUANTITY as MAX_QUANTITY
from dynoform.api.base import Model as Model
from dynoform.api.base import cel as _cel

# Re-exported: every model of the API is importable from here, wherever it is defined.
from dynoform.api.dynosize import DynoSize as DynoSize
from dynoform.api.dynosize import DynoSizeSpec as DynoSizeSpec
from dynoform.api.dynosize import Resources as Resources
from dynoform.api.dynosize import Toleration as Toleration
from dynoform.api.status import HISTORY_MAX as HISTORY_MAX
from dynoform.api.status import Condition as Condition
from dynoform.api.status import FormationChange as FormationChange
from dynoform.api.status import FormationStatus as FormationStatus
from dynoform.api.status import ProcessStatus as ProcessStatus

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
SINGLETON_NOT_AUTOSCALED = "a singleton process type cannot be autoscaled"
# Heroku's Procfile `release:` line is the release phase (spec.release), never a process type.
RELEASE = "release"
RELEASE_NOT_A_TYPE = (
    "release is Heroku's release phase, not a process type: set spec.release.command"
)
DEFAULT_PORT = 5000
DEFAULT_SIZE = "standard-1x"
MAX_PROCESS_TYPES = 64
MAX_COMMAND = 32768


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


# What Kubernetes accepts in a Deployment, so that an accepted Formation can always be applied
# (each found refused at apply time by tests/integration/test_fuzz.py): object names are DNS
# subdomains, an envFrom prefix is printable ASCII but '=', ids fit in 31 bits.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_PREFIX_PATTERN = r"^[ -<>-~]*$"
MAX_ID = 2**31 - 1


class LocalObjectReference(Model):
    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="Name of the object (a DNS subdomain).",
    )


class EnvFromSource(Model):
    """Config vars loaded from a whole Secret or ConfigMap, as Kubernetes' envFrom does."""

    secret_ref: LocalObjectReference | None = Field(
        default=None, description="A Secret whose keys become config vars."
    )
    config_map_ref: LocalObjectReference | None = Field(
        default=None, description="A ConfigMap whose keys become config vars."
    )
    prefix: str | None = Field(
        default=None,
        max_length=253,
        pattern=ENV_PREFIX_PATTERN,
        description="Prepended to every key loaded from the source (printable ASCII, no '=').",
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
    autoscaling: Autoscaling | None = Field(
        default=None,
        description="Let an autoscaler move the number of dynos between min and max; "
        "`quantity` is where it starts. Not for singletons.",
    )


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
        pattern=SIZE_PATTERN,
        description="The dyno size the release command runs on.",
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
        default=None,
        ge=0,
        le=MAX_ID,
        description="UID to run as (for images that default to root).",
    )
    run_as_group: int | None = Field(default=None, ge=0, le=MAX_ID, description="GID to run as.")
    fs_group: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="Group for mounted volumes."
    )
    run_as_non_root: bool = Field(
        default=True, description="Refuse to start a dyno whose image runs as root."
    )
    read_only_root_filesystem: bool = Field(
        default=False,
        description="Mount the image read-only (Heroku's filesystem is writable but "
        "ephemeral, so this is off by default).",
    )


def _default_singleton_autoscaling_rule(ptype: str) -> JsonDict:
    p = f"self.{ptype}"
    return _cel(
        f"!has({p}) || !has({p}.autoscaling) || (has({p}.singleton) && !{p}.singleton)",
        f"{ptype} is a singleton process type and cannot be autoscaled (set singleton: false "
        "to scale it)",
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
        min_length=1,
        max_length=1024,
        description="The slug: the image every process type runs.",
        # Kubernetes takes such an image in a Deployment, then refuses every one of its Pods.
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel("self == self.trim()", "an image has no whitespace at either end")
            ]
        },
    )
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None,
        max_length=16,
        description="Secrets used to pull the image, each named once.",
        # A list keyed by name, as in a Pod: the API server refuses a name given twice at apply
        # time (a Deployment with one would never apply).
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
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
                *(_default_singleton_autoscaling_rule(t) for t in SINGLETON_TYPES),
                _cel(f"!has(self.{RELEASE})", RELEASE_NOT_A_TYPE),
            ]
        },
    )
    release: Release | None = Field(
        default=None,
        description="Heroku's release phase (a Procfile's `release:` line): run once per new "
        "image before any dyno gets it; a failure keeps every type on the image released last.",
    )
    spread: Spread = Field(
        default_factory=Spread, description="Spread of dynos across zones and hosts."
    )
    security: PodSecurity = Field(
        default_factory=PodSecurity, description="Security context overrides for the dynos."
    )

    @field_validator("image")
    @classmethod
    def _image_trimmed(cls, image: str) -> str:
        if image != image.strip():
            raise ValueError("an image has no whitespace at either end")
        return image

    @field_validator("image_pull_secrets")
    @classmethod
    def _secrets_named_once(
        cls, secrets: list[LocalObjectReference] | None
    ) -> list[LocalObjectReference] | None:
        names = [s.name for s in secrets or []]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"an image pull secret is named twice: {', '.join(twice)}")
        return secrets

    @field_validator("processes")
    @classmethod
    def _autoscaling_fits(cls, processes: dict[str, ProcessType]) -> dict[str, ProcessType]:
        # The CEL rules of the CRD, and one it cannot afford (a type's name decides its port).
        if RELEASE in processes:
            raise ValueError(RELEASE_NOT_A_TYPE)
        for ptype, proc in sorted(processes.items()):
            if proc.autoscaling is None:
                continue
            if _singleton(ptype, proc):
                raise ValueError(f"{ptype}: {SINGLETON_NOT_AUTOSCALED}")
            if proc.autoscaling.response_time and _port(ptype, proc) is None:
                raise ValueError(
                    f"{ptype}: a responseTime target needs a type that listens (web, or set port)"
                )
        return processes

    def quantity_of(self, ptype: str) -> int:
        """The effective quantity: Heroku starts one web dyno and no other by default."""
        q = self.processes[ptype].quantity
        return q if q is not None else (1 if ptype == "web" else 0)

    def is_singleton(self, ptype: str) -> bool:
        return _singleton(ptype, self.processes[ptype])

    def autoscaling_of(self, ptype: str) -> Autoscaling | None:
        return self.processes[ptype].autoscaling

    def floor_of(self, ptype: str) -> int:
        """The fewest dynos the type runs: its autoscaler's min, or its quantity."""
        scaling = self.autoscaling_of(ptype)
        return scaling.min if scaling is not None else self.quantity_of(ptype)

    def start_of(self, ptype: str) -> int:
        """Where an autoscaled type starts: its quantity, within the autoscaler's bounds (as
        Heroku's "the dyno count immediately adjusts to conform to the range")."""
        scaling = self.autoscaling_of(ptype)
        quantity = self.quantity_of(ptype)
        return quantity if scaling is None else max(scaling.min, min(scaling.max, quantity))

    def most_of(self, ptype: str) -> int:
        """The most dynos the type runs: its autoscaler's max, or its quantity."""
        scaling = self.autoscaling_of(ptype)
        return scaling.max if scaling is not None else self.quantity_of(ptype)

    def is_critical(self, ptype: str) -> bool:
        c = self.processes[ptype].critical
        return c if c is not None else ptype == "web"

    def port_of(self, ptype: str) -> int | None:
        return _port(ptype, self.processes[ptype])


def _singleton(ptype: str, proc: ProcessType) -> bool:
    return proc.singleton if proc.singleton is not None else ptype in SINGLETON_TYPES


def _port(ptype: str, proc: ProcessType) -> int | None:
    return proc.port if proc.port is not None or ptype != "web" else DEFAULT_PORT


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


def describe(exc: ValidationError) -> str:
    """A pydantic error as one line a user understands: where, and what is wrong."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"spec is invalid at {where}: {err['msg']}"


def is_valid_process_type(name: str) -> bool:
    """The same rule as the CEL check, for the CLI and the operator."""
    return len(name) <= PROCESS_TYPE_MAX and re.match(PROCESS_TYPE_PATTERN, name) is not None
