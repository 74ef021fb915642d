"""The Formation's status (part of the v1alpha1 API): what the operator observed and did.

Written only by the operator, through the status subresource; see dynoform.core.status for how it is
computed and dynoform.api.conditions for the condition types and reasons.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dynoform.api.autoscaling import AutoscalerStatus
from dynoform.api.base import Model

# An eco web type's state (docs/concepts/eco-sleep.md).
SleepState = Literal["Sleeping", "Awake"]


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
    desired: int = Field(
        description="Dynos wanted: the quantity, or the count its autoscaler asks for."
    )
    ready: int = Field(default=0, description="Dynos passing their readiness checks.")
    updated: int = Field(default=0, description="Dynos running the current template.")
    available: int = Field(default=0, description="Dynos ready for minReadySeconds.")
    autoscaler: AutoscalerStatus | None = Field(
        default=None, description="The type's autoscaler: its bounds and the dynos it asks for."
    )
    sleep: SleepState | None = Field(
        default=None,
        description="An eco web type that sleeps: Sleeping while the KEDA HTTP add-on holds it "
        "at 0 dynos, Awake otherwise. Absent for a type that never sleeps.",
    )


class FormationChange(Model):
    """One change of the formation, as Heroku logs it (`Scale to web=2 by alice`)."""

    time: str = Field(description="When the operator applied it (RFC 3339).")
    formation: str = Field(description="The whole formation after the change.")
    by: str | None = Field(
        default=None, description="Who made it, as the API server authenticated them."
    )


class JobStatus(Model):
    """A scheduled job's last run, from its CronJob's status."""

    schedule: str = Field(description="The CronJob's schedule (cron, UTC).")
    last_run: str | None = Field(
        default=None, description="When the last run was scheduled (RFC 3339)."
    )
    last_succeeded: str | None = Field(
        default=None, description="When a run last succeeded (RFC 3339)."
    )
    running: int = Field(default=0, description="Runs in progress.")
    result: Literal["running", "succeeded", "failed"] | None = Field(
        default=None,
        description="How the last run went: running, succeeded or failed (none before the "
        "first run).",
    )


class ScaleWindowStatus(Model):
    """The scale window in force (spec.scaleWindows)."""

    name: str = Field(description="The window's name.")
    until: str = Field(description="When it stops being in force (RFC 3339, UTC).")


HISTORY_MAX = 10


class FormationStatus(Model):
    """What the operator observed and did."""

    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation last reconciled."
    )
    formation: str | None = Field(
        default=None,
        description="The formation in Heroku's form: `web=3:standard-2x worker=2:standard-1x`, "
        "as applied (a scale window's quantities while one is in force).",
    )
    processes: dict[str, ProcessStatus] | None = Field(
        default=None, description="Observed figures per process type."
    )
    jobs: dict[str, JobStatus] | None = Field(
        default=None, description="Each scheduled job's last run, by job name."
    )
    scale_window: ScaleWindowStatus | None = Field(
        default=None,
        description="The scale window in force, and until when; none outside every window. "
        "`formation` and `processes` then say what it applies.",
    )
    released_image: str | None = Field(
        default=None,
        description="The image the dynos run: the last one whose release phase succeeded "
        "(spec.image itself when there is no release command).",
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
