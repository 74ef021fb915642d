"""Observed CronJobs -> what the Formation's status says of its scheduled jobs (pure).

Read from the CronJob's own status only (the operator does not watch the Jobs it starts): when
the last run was scheduled, when a run last succeeded, how many run now. The last run failed
when no success came after it was scheduled: under `Forbid` a run ends before the next starts,
so the last success, if it is that run's, is later than its scheduled time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dynoform.api.schedule import cron_of
from dynoform.api.v1alpha1 import Formation, JobStatus


def job_status(formation: Formation, job: str, cronjob: Mapping[str, Any] | None) -> JobStatus:
    schedule = cron_of((formation.spec.jobs or {})[job].schedule)
    st = (cronjob or {}).get("status") or {}
    last_run, last_ok = st.get("lastScheduleTime"), st.get("lastSuccessfulTime")
    running = len(st.get("active") or [])
    return JobStatus(
        schedule=schedule,
        last_run=last_run,
        last_succeeded=last_ok,
        running=running,
        result=result_of(last_run, last_ok, running),
    )


def result_of(last_run: str | None, last_ok: str | None, running: int) -> str | None:
    """running, succeeded, failed, or None before any run. RFC 3339 UTC times of the API
    server compare as strings."""
    if running:
        return "running"
    if last_ok is not None and (last_run is None or last_ok >= last_run):
        return "succeeded"
    return "failed" if last_run is not None else None
