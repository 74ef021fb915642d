"""The dyno.dev/v1alpha1 API: Formation and DynoSize, as pydantic models.

These models are the contract. The CRDs in crds/ are generated from them (dynoform.api.crd), the
operator parses every object it reads through them, and the CLI builds its changes with them.
Validation that Kubernetes can do at `kubectl apply` time is declared here too, as CEL rules
(`x-kubernetes-validations`) beside the field they guard, with messages written for users.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.config import JsonValue

from dynoform.api.autoscaling import Autoscaling
from dynoform.api.base import MAX_QUANTITY as MAX_QUANTITY
from dynoform.api.base import Model as Model
from dynoform.api.base import cel as _cel

# Re-exported: every model of the API is importable from here, wherever it is defined.
from dynoform.api.dynosize import Cost as Cost
from dynoform.api.dynosize import DynoSize as DynoSize
from dynoform.api.dynosize import DynoSizeSpec as DynoSizeSpec
from dynoform.api.dynosize import DynoSizeStatus as DynoSizeStatus
from dynoform.api.dynosize import Resources as Resources
from dynoform.api.dynosize import Toleration as Toleration
from dynoform.api.image import IMAGE_PATTERN as IMAGE_PATTERN
from dynoform.api.image import IMAGE_RULES, check_image
from dynoform.api.pods import DNS_SUBDOMAIN_PATTERN as DNS_SUBDOMAIN_PATTERN
from dynoform.api.pods import ENV_PREFIX_PATTERN as ENV_PREFIX_PATTERN
from dynoform.api.pods import MAX_ID as MAX_ID
from dynoform.api.pods import EnvFromSource as EnvFromSource
from dynoform.api.pods import LocalObjectReference as LocalObjectReference
from dynoform.api.pods import PodSecurity as PodSecurity
from dynoform.api.pods import Spread as Spread
from dynoform.api.process import DEFAULT_PORT as DEFAULT_PORT
from dynoform.api.process import DEFAULT_SIZE as DEFAULT_SIZE
from dynoform.api.process import ENV_NAME_PATTERN as ENV_NAME_PATTERN
from dynoform.api.process import (
    ENV_RULES,
    SLEEP_ONLY_WEB,
    SLEEPING_SIZE,
    SLEEPING_TYPE,
    default_port_of,
    default_singleton_autoscaling_rule,
    default_singleton_rule,
    default_size,
    is_singleton_type,
)
from dynoform.api.process import MAX_COMMAND as MAX_COMMAND
from dynoform.api.process import MAX_PROCESS_TYPES as MAX_PROCESS_TYPES
from dynoform.api.process import NAME_MAX as NAME_MAX
from dynoform.api.process import ONE_SIZE_TIERS as ONE_SIZE_TIERS
from dynoform.api.process import PROCESS_TYPE_MAX as PROCESS_TYPE_MAX
from dynoform.api.process import PROCESS_TYPE_PATTERN as PROCESS_TYPE_PATTERN
from dynoform.api.process import RELEASE as RELEASE
from dynoform.api.process import RELEASE_NOT_A_TYPE as RELEASE_NOT_A_TYPE
from dynoform.api.process import RESERVED_ENV as RESERVED_ENV
from dynoform.api.process import SINGLETON_NOT_AUTOSCALED as SINGLETON_NOT_AUTOSCALED
from dynoform.api.process import SINGLETON_TYPES as SINGLETON_TYPES
from dynoform.api.process import SIZE_PATTERN as SIZE_PATTERN
from dynoform.api.process import EnvMap as EnvMap
from dynoform.api.process import ProcessType as ProcessType
from dynoform.api.process import ProcessTypeName as ProcessTypeName
from dynoform.api.process import Release as Release
from dynoform.api.process import is_valid_process_type as is_valid_process_type
from dynoform.api.scheduled import CRONJOB_NAME_MAX as CRONJOB_NAME_MAX
from dynoform.api.scheduled import JOBS_RULES, check_names
from dynoform.api.scheduled import MAX_JOBS as MAX_JOBS
from dynoform.api.scheduled import ROOT_RULES as JOB_ROOT_RULES
from dynoform.api.scheduled import JobName as JobName
from dynoform.api.scheduled import ScheduledJob as ScheduledJob
from dynoform.api.status import HISTORY_MAX as HISTORY_MAX
from dynoform.api.status import Condition as Condition
from dynoform.api.status import FormationChange as FormationChange
from dynoform.api.status import FormationStatus as FormationStatus
from dynoform.api.status import JobStatus as JobStatus
from dynoform.api.status import ProcessStatus as ProcessStatus
from dynoform.api.status import ScaleWindowStatus as ScaleWindowStatus
from dynoform.api.windows import MAX_WINDOWS as MAX_WINDOWS
from dynoform.api.windows import WINDOWS_RULES, check_windows
from dynoform.api.windows import ScaleWindow as ScaleWindow
from dynoform.api.windows import WindowName as WindowName

GROUP = "dyno.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class FormationSpec(Model):
    """The desired formation: one image and its process types (and scheduled jobs)."""

    image: str = Field(
        min_length=1,
        max_length=1024,
        description="The slug: the image every process type runs, as a container runtime "
        "pulls it: `[registry[:port]/]repository[:tag][@digest]`.",
        # Kubernetes takes any such string in a Deployment, then every one of its Pods fails to
        # pull it: refused here, at apply time, instead.
        json_schema_extra={"x-kubernetes-validations": IMAGE_RULES},
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
        json_schema_extra={"x-kubernetes-validations": ENV_RULES},
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
                *(default_singleton_rule(t) for t in SINGLETON_TYPES),
                *(default_singleton_autoscaling_rule(t) for t in SINGLETON_TYPES),
                _cel(f"!has(self.{RELEASE})", RELEASE_NOT_A_TYPE),
                _cel(
                    f"self.all(t, t == '{SLEEPING_TYPE}' || "
                    "((!has(self[t].sleep) || !self[t].sleep) && !has(self[t].hosts)))",
                    SLEEP_ONLY_WEB,
                ),
            ]
        },
    )
    release: Release | None = Field(
        default=None,
        description="Heroku's release phase (a Procfile's `release:` line): run once per new "
        "image before any dyno gets it; a failure keeps every type on the image released last.",
    )
    jobs: dict[JobName, ScheduledJob] | None = Field(
        default=None,
        max_length=MAX_JOBS,
        description="Scheduled jobs, as Heroku Scheduler's, keyed by name (a lowercase DNS "
        "label that names no process type): each runs its command in a one-off dyno on its "
        "schedule, with the image released last. Never part of the formation.",
        json_schema_extra={"x-kubernetes-validations": JOBS_RULES},
    )
    scale_windows: dict[WindowName, ScaleWindow] | None = Field(
        default=None,
        max_length=MAX_WINDOWS,
        description="Scale windows, as Heroku's Process Scheduler, keyed by name (a lowercase "
        "DNS label): times of the day when the types a window names run its quantities "
        "instead of the spec's. When several are in force, the first by name wins.",
        json_schema_extra={"x-kubernetes-validations": WINDOWS_RULES},
    )
    spread: Spread = Field(
        default_factory=Spread, description="Spread of dynos across zones and hosts."
    )
    security: PodSecurity = Field(
        default_factory=PodSecurity, description="Security context overrides for the dynos."
    )

    @field_validator("image")
    @classmethod
    def _image_pullable(cls, image: str) -> str:
        return check_image(image)

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
            if ptype != SLEEPING_TYPE and (proc.sleep or proc.hosts is not None):
                raise ValueError(f"{ptype}: {SLEEP_ONLY_WEB}")
            if proc.autoscaling is None:
                continue
            if is_singleton_type(ptype, proc):
                raise ValueError(f"{ptype}: {SINGLETON_NOT_AUTOSCALED}")
            if proc.autoscaling.response_time and default_port_of(ptype, proc) is None:
                raise ValueError(
                    f"{ptype}: a responseTime target needs a type that listens (web, or set port)"
                )
        return processes

    @model_validator(mode="after")
    def _jobs_named_apart(self) -> FormationSpec:
        check_names(None, self.jobs or {}, set(self.processes))
        autoscaled = {t for t in self.processes if self.autoscaling_of(t) is not None}
        singletons = {t for t in self.processes if self.is_singleton(t)}
        check_windows(self.scale_windows or {}, set(self.processes), autoscaled, singletons)
        return self

    def job_size_of(self, job: str) -> str:
        """A job's size: its own, or that of a process type that names none."""
        size = (self.jobs or {})[job].size
        return size if size is not None else self.default_size()

    def quantity_of(self, ptype: str) -> int:
        """The effective quantity: Heroku starts one web dyno and no other by default."""
        q = self.processes[ptype].quantity
        return q if q is not None else (1 if ptype == "web" else 0)

    def size_of(self, ptype: str) -> str:
        """The type's size: its own, or the app's default."""
        size = self.processes[ptype].size
        return size if size is not None else self.default_size()

    def default_size(self) -> str:
        """The size of a type that names none: the app's tier's (see process.default_size)."""
        return default_size({p.size for p in self.processes.values() if p.size is not None})

    def is_singleton(self, ptype: str) -> bool:
        return is_singleton_type(ptype, self.processes[ptype])

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
        return quantity if scaling is None else scaling.clamp(quantity)

    def most_of(self, ptype: str) -> int:
        """The most dynos the type runs: its autoscaler's max, or its quantity."""
        scaling = self.autoscaling_of(ptype)
        return scaling.max if scaling is not None else self.quantity_of(ptype)

    def is_critical(self, ptype: str) -> bool:
        c = self.processes[ptype].critical
        return c if c is not None else ptype == "web"

    def port_of(self, ptype: str) -> int | None:
        return default_port_of(ptype, self.processes[ptype])

    def sleeps(self, ptype: str) -> bool:
        """Whether the type sleeps when idle, given the KEDA HTTP add-on: an eco web type that
        runs (quantity 1) and has not opted out. Workers never sleep, as on Heroku."""
        return (
            ptype == SLEEPING_TYPE
            and self.size_of(ptype) == SLEEPING_SIZE
            and self.processes[ptype].sleep is not False
            and self.quantity_of(ptype) > 0
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
    *JOB_ROOT_RULES,
]


class Formation(Model):
    """An app's dyno formation (namespaced)."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["dyno.dev/v1alpha1"] = "dyno.dev/v1alpha1"
    kind: Literal["Formation"] = Field(default="Formation")
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: FormationSpec
    status: FormationStatus | None = None

    @model_validator(mode="after")
    def _job_names_fit(self) -> Formation:
        name = self.metadata.get("name")
        check_names(str(name) if name else None, self.spec.jobs or {}, set())
        return self

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
