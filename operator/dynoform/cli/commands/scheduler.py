"""scheduler and scheduler:run: the app's scheduled jobs, as Heroku Scheduler's dashboard shows
them, and a job run now.

`scheduler` reads the Formation (each job's schedule and size, and what the operator folded
into status.jobs from its CronJob) and the jobs' Jobs (the newest is the last run, whether the
schedule or `scheduler:run` started it); the next run is computed from the schedule, in UTC.

`scheduler:run NAME` runs the job now as a one-off: a Job from its CronJob's template, as
`kubectl create job --from=cronjob/...` makes it (owned by the CronJob, so its history and
`concurrencyPolicy` count it), never a second copy of the template kept by the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from dynoform.api.labels import LABEL_JOB, cronjob_name
from dynoform.api.schedule import cron_of, next_run
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import Formation
from dynoform.cli import render
from dynoform.cli.commands.base import Context, action
from dynoform.cli.errors import CliError, NotFound

if TYPE_CHECKING:
    pass

INSTANTIATE = "cronjob.kubernetes.io/instantiate"  # what kubectl marks a manual run with
HEADER = ("Job", "Schedule", "Size", "Last run", "Result", "Next run")


def scheduler(ctx: Context, as_json: bool) -> int:
    """`dyno scheduler [--json]`."""
    app = ctx.require_app()
    formation = ctx.api.formation(app)
    jobs = formation.spec.jobs or {}
    if not jobs:
        ctx.out.write(f"No scheduled jobs on {render.app_name(app)}.\n")
        return 0
    runs = _last_runs(ctx.api.jobs(app))
    now = ctx.clock()
    rows = [job_row(formation, name, runs.get(name), now) for name in sorted(jobs)]
    if as_json:
        ctx.out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    catalog = ctx.api.catalog() or Catalog()
    ctx.out.write(render_jobs(app, rows, catalog, now, ctx.tz))
    return 0


def job_row(
    formation: Formation, name: str, last: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """One job as `scheduler --json` shows it: the newest Job's start and result, or else what
    status says of the CronJob's last run."""
    job = (formation.spec.jobs or {})[name]
    folded = ((formation.status.jobs if formation.status else None) or {}).get(name)
    after = next_run(job.schedule, now)
    row: dict[str, Any] = {
        "name": name,
        "schedule": job.schedule,
        "cron": cron_of(job.schedule),
        "command": job.command,
        "size": formation.spec.job_size_of(name),
        "last_run": folded.last_run if folded else None,
        "result": folded.result if folded else None,
        "next_run": after.isoformat().replace("+00:00", "Z") if after else None,
    }
    if last is not None:
        row["last_run"] = last["metadata"].get("creationTimestamp")
        row["result"] = run_result(last)
    return row


def run_result(job: Mapping[str, Any]) -> str:
    """succeeded, failed or running, from a Job's terminal conditions."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return "succeeded" if cond["type"] == "Complete" else "failed"
    return "running"


def _last_runs(jobs: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The newest Job of each scheduled job (RFC 3339 times sort as strings; name breaks ties)."""
    newest: dict[str, Mapping[str, Any]] = {}
    for job in jobs:
        name = (job["metadata"].get("labels") or {}).get(LABEL_JOB)
        if name and (name not in newest or _age(job) > _age(newest[name])):
            newest[name] = job
    return newest


def _age(job: Mapping[str, Any]) -> tuple[str, str]:
    return job["metadata"].get("creationTimestamp", ""), job["metadata"]["name"]


def render_jobs(
    app: str, rows: Sequence[Mapping[str, Any]], catalog: Catalog, now: datetime, tz: tzinfo | None
) -> str:
    lines = [f"=== {render.app_name(app)} Scheduled Jobs (schedules in UTC)", ""]
    table = [
        (
            r["name"],
            r["schedule"] if r["schedule"] == r["cron"] else f"{r['schedule']} ({r['cron']})",
            catalog.display(r["size"]),
            render.since(_time(r["last_run"]), now, tz) if r["last_run"] else "never",
            r["result"] or "-",
            _time(r["next_run"]).astimezone(tz).strftime("%Y/%m/%d %H:%M:%S %z")
            if r["next_run"]
            else "never",
        )
        for r in rows
    ]
    return "\n".join([*lines, *render.table(HEADER, table), ""])


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def scheduler_run(ctx: Context, name: str) -> int:
    """`dyno scheduler:run NAME`."""
    app = ctx.require_app()
    formation = ctx.api.formation(app)
    jobs = formation.spec.jobs or {}
    if name not in jobs:
        known = ", ".join(sorted(jobs)) or "none"
        raise CliError(f"Couldn't find that scheduled job ({name}).\nScheduled jobs: {known}")
    cron = cronjob_name(formation, name)
    try:
        cronjob = ctx.api.get("CronJob", cron)
    except NotFound as exc:
        raise CliError(
            f"The scheduled job {name} has no CronJob yet: the operator makes it once the app's "
            "image is released (dyno ps, kubectl describe formation)."
        ) from exc
    catalog = ctx.api.catalog() or Catalog()
    size = catalog.display(formation.spec.job_size_of(name))
    with action(ctx.err, f"Running {jobs[name].command} on {render.app_name(app)}") as act:
        made = ctx.api.create(job_from(cronjob))
        act.done(f"done, {made['metadata']['name']} ({size})")
    ctx.note(f"Run dyno scheduler -a {app} to see how it went.")
    return 0


def job_from(cronjob: Mapping[str, Any]) -> dict[str, Any]:
    """A Job from a CronJob's template, as `kubectl create job --from=cronjob/NAME` makes it
    (kubectl's createJobFromCronJob): the template's labels and annotations, a manual mark, the
    CronJob as its controller; the name generated after the CronJob's."""
    template = cronjob["spec"]["jobTemplate"]
    meta = cronjob["metadata"]
    annotations = {**((template.get("metadata") or {}).get("annotations") or {})}
    annotations[INSTANTIATE] = "manual"
    owner = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "generateName": f"{meta['name']}-",
            "namespace": meta.get("namespace"),
            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": template["spec"],
    }
