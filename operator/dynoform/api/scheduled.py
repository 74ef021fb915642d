"""Scheduled jobs (part of the v1alpha1 API, re-exported by dynoform.api.v1alpha1): Heroku
Scheduler's jobs, declared in the Formation.

A job is a one-off dyno started on a schedule, never part of the formation: it has no quantity
and `ps:scale` does not know it. The operator makes one CronJob of each
(dynoform.core.builders.cronjob); the rules of names and schedules are here, as CEL rules for
`kubectl apply` (those the CRD cannot afford are in the names admission policy,
dynoform.api.admission) and as the model's own checks, which agree.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator
from pydantic.config import JsonValue

from dynoform.api.base import Model
from dynoform.api.base import cel as _cel
from dynoform.api.process import MAX_COMMAND, PROCESS_TYPE_PATTERN, SIZE_RULE, size_name
from dynoform.api.schedule import SCHEDULE_MAX, SCHEDULE_RULES, check_schedule

# `<formation>-<job>` names the CronJob; Kubernetes keeps CronJob names to 52 characters, so
# that the Jobs it names `<cronjob>-<minutes since the epoch>` fit in 63.
CRONJOB_NAME_MAX = 52
JOB_NAME_MAX = 30
MAX_JOBS = 50
JOB_NAME_CLASH = (
    "a scheduled job and a process type must not share a name (both would be dynos of that "
    "name): rename the job"
)

JobName = Annotated[str, StringConstraints(pattern=PROCESS_TYPE_PATTERN, max_length=JOB_NAME_MAX)]


class ScheduledJob(Model):
    """A Heroku Scheduler job: a command run in a one-off dyno on a schedule (UTC)."""

    command: str = Field(
        min_length=1,
        max_length=MAX_COMMAND,
        description="The command, run through `/bin/sh -c` as a Procfile line, with the "
        "image released last and the app's config vars.",
    )
    schedule: str = Field(
        min_length=1,
        max_length=SCHEDULE_MAX,
        description="When it runs, in UTC: a Heroku Scheduler frequency (`every 10 minutes`, "
        "`every hour at :30` with minutes in steps of 10, `every day at 01:30` with minutes "
        "00 or 30) or a 5-field cron expression (`15 3 * * 1-5`) or `@hourly`, `@daily`, "
        "`@weekly`, `@monthly`, `@yearly`.",
        json_schema_extra={"x-kubernetes-validations": SCHEDULE_RULES},
    )
    size: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="The dyno size the job runs on (any case), from the same catalog as "
        "process types. Default: the size of a process type that names none.",
        json_schema_extra={"x-kubernetes-validations": [SIZE_RULE]},
    )
    concurrency_policy: Literal["Forbid", "Allow", "Replace"] = Field(
        default="Forbid",
        description="When a run is due while the last one still runs: Forbid (default) skips "
        "the new run, Allow runs both, Replace stops the old one.",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, schedule: str) -> str:
        return check_schedule(schedule)

    @field_validator("size")
    @classmethod
    def _catalog_name(cls, size: str | None) -> str | None:
        return None if size is None else size_name(size)


JOBS_RULES: list[JsonValue] = [
    _cel(
        f"self.all(j, size(j) <= {JOB_NAME_MAX})",
        f"scheduled job names hold at most {JOB_NAME_MAX} characters",
    ),
]
# On the root, where metadata.name is in sight.
ROOT_RULES: list[JsonValue] = [
    _cel(
        "!has(self.spec.jobs) || self.spec.jobs.all(j, "
        f"size(self.metadata.name) + size(j) < {CRONJOB_NAME_MAX})",
        f"'<formation>-<job>' names each scheduled job's CronJob and must fit in "
        f"{CRONJOB_NAME_MAX} characters (the limit of CronJob names): shorten the "
        "Formation's name or the job's",
        fieldPath=".spec.jobs",
    ),
]


def check_names(formation_name: str | None, jobs: dict[str, ScheduledJob], types: set[str]) -> None:
    """The CEL rules above, for the model: ValueError in their words."""
    if clash := sorted(set(jobs) & types):
        raise ValueError(f"{', '.join(clash)}: {JOB_NAME_CLASH}")
    if formation_name is None:
        return
    for job in sorted(jobs):
        if len(formation_name) + 1 + len(job) > CRONJOB_NAME_MAX:
            raise ValueError(
                f"'<formation>-<job>' names each scheduled job's CronJob and must fit in "
                f"{CRONJOB_NAME_MAX} characters (the limit of CronJob names): shorten the "
                f"Formation's name or the job's ({formation_name}-{job})"
            )
