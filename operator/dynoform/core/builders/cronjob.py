"""Formation + scheduled job -> CronJob (pure).

Heroku Scheduler runs each job in a one-off dyno: here the CronJob's pod is the pod every dyno
that runs once gets (dynoform.api.dyno.run_once_pod: the image, config vars, the size's
resources and nodes, the restricted security context), of a process type `scheduler`, so that
`DYNO_TYPE` is `scheduler` as on Heroku and `DYNO` the pod's name. The image is the one the
Deployments run (the reconcile passes the Formation with the image released last), so a job
never runs an image whose release phase has not succeeded.

The CronJob: the schedule in cron (Heroku's frequencies translated, dynoform.api.schedule), in
UTC (`timeZone: Etc/UTC`, whatever the controller manager's zone); `Forbid` by default, so a run
still going when the next is due makes that one be skipped; a run that could not start within
STARTING_DEADLINE_SECONDS of its time is skipped, never run late twice; a Heroku frequency's run
is stopped after its interval, as Heroku Scheduler stops its dynos. Jobs never retry (a one-off
dyno never restarts).

The CronJob carries the labels and owner reference of every child; its Jobs and pods carry the
Formation's and the job's labels, but no process-type label (no Deployment, Service or PDB
selects them) and SCHEDULER_MANAGED_BY (the CronJob controller makes them, not the operator).
"""

from __future__ import annotations

from typing import Any

from dynoform.api.dyno import run_once_pod
from dynoform.api.labels import (
    LABEL_FORMATION,
    LABEL_JOB,
    LABEL_MANAGED_BY,
    LABEL_SIZE,
    MANAGED_BY,
    SCHEDULER,
    SCHEDULER_MANAGED_BY,
    cronjob_name,
)
from dynoform.api.schedule import cron_of, interval_of
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation, ProcessType
from dynoform.core.builders.meta import Manifest, owner_reference

TIME_ZONE = "Etc/UTC"  # Heroku Scheduler's times are UTC
STARTING_DEADLINE_SECONDS = 300
SUCCESSFUL_HISTORY = 3
FAILED_HISTORY = 3


def job_labels(formation: Formation, job: str, managed_by: str = MANAGED_BY) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": formation.name,
        "app.kubernetes.io/instance": formation.name,
        "app.kubernetes.io/component": SCHEDULER,
        LABEL_MANAGED_BY: managed_by,
        LABEL_FORMATION: formation.name,
        LABEL_JOB: job,
    }


def build_cronjob(formation: Formation, job: str, size: DynoSizeSpec) -> Manifest:
    """The CronJob of `job`; `size` is its size, resolved (dynoform.api.sizes.check_jobs)."""
    spec = formation.spec
    scheduled = (spec.jobs or {})[job]
    run_labels = {
        **job_labels(formation, job, SCHEDULER_MANAGED_BY),
        LABEL_SIZE: spec.job_size_of(job),
    }
    run: dict[str, Any] = {"backoffLimit": 0}
    interval = interval_of(scheduled.schedule)
    if interval is not None:
        run["activeDeadlineSeconds"] = interval
    run["template"] = {"metadata": {"labels": run_labels}, "spec": _pod(formation, job, size)}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": cronjob_name(formation, job),
            "namespace": formation.namespace,
            "labels": job_labels(formation, job),
            "ownerReferences": [owner_reference(formation)],
        },
        "spec": {
            "schedule": cron_of(scheduled.schedule),
            "timeZone": TIME_ZONE,
            "concurrencyPolicy": scheduled.concurrency_policy,
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": SUCCESSFUL_HISTORY,
            "failedJobsHistoryLimit": FAILED_HISTORY,
            "jobTemplate": {"metadata": {"labels": run_labels}, "spec": run},
        },
    }


def _pod(formation: Formation, job: str, size: DynoSizeSpec) -> dict[str, Any]:
    spec = formation.spec
    scheduled = (spec.jobs or {})[job]
    proc = ProcessType(command=scheduled.command, size=spec.job_size_of(job))
    return run_once_pod(formation, SCHEDULER, proc, size)
