"""`dyno scheduler`, `scheduler:run` and scheduled dynos in `dyno ps` (pure parts: the objects
are the dicts the API server returns, trimmed; the clock and time zone are fixed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dynoform.api import dynos as dy
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import FormationStatus, JobStatus
from dynoform.cli import render
from dynoform.cli.commands.scheduler import job_from, job_row, render_jobs, run_result
from dynoform.cli.main import build_parser
from tests.factories import make_formation
from tests.unit.test_cli_ps import pod

NOW = datetime(2026, 12, 7, 2, 25, 0, tzinfo=UTC)
JOBS = {
    "nightly": {"command": "rake report", "schedule": "every day at 01:30"},
    "sweep": {"command": "rake sweep", "schedule": "*/5 * * * *", "size": "performance-m"},
}
FORMATION = make_formation(jobs=JOBS)


def scheduled_pod(name: str, job: str, created: str, phase: str = "Running") -> dict[str, Any]:
    labels = {"dyno.dev/scheduled-job": job, "app.kubernetes.io/managed-by": "dyno-scheduler"}
    return pod(name, created=created, phase=phase, labels=labels)


def test_running_scheduled_dynos_are_scheduler_n_by_age_and_finished_runs_are_not_dynos() -> None:
    pods = [
        scheduled_pod("shop-sweep-2946-b", "sweep", "2026-12-07T02:20:00Z"),
        scheduled_pod("shop-nightly-2946-a", "nightly", "2026-12-07T01:30:00Z"),
        scheduled_pod("shop-sweep-2945-c", "sweep", "2026-12-07T02:15:00Z", phase="Succeeded"),
        pod("shop-web-x-aaa"),
    ]
    dynos = dy.from_pods(pods, {})
    assert [(d.name, d.scheduled) for d in dynos] == [
        ("scheduler.1", "nightly"),
        ("scheduler.2", "sweep"),
        ("web.1", None),
    ]


def test_scheduled_dynos_are_numbered_after_a_process_type_named_scheduler() -> None:
    pods = [
        scheduled_pod("shop-sweep-2946-b", "sweep", "2026-12-07T02:20:00Z"),
        pod("shop-scheduler-x-aaa", "scheduler"),
    ]
    names = [(d.name, d.pod) for d in dy.from_pods(pods, {})]
    assert names == [("scheduler.1", "shop-scheduler-x-aaa"), ("scheduler.2", "shop-sweep-2946-b")]


def test_ps_shows_scheduled_dynos_in_a_block_of_their_own() -> None:
    pods = [scheduled_pod("shop-sweep-2946-b", "sweep", "2026-12-07T02:20:00Z"), pod("w-1")]
    pods[0]["metadata"]["labels"]["dyno.dev/size"] = "performance-m"
    pods[0]["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", "rake sweep"]
    out = render.ps(dy.from_pods(pods, {}), FORMATION, Catalog(), NOW, UTC)
    block = out.split("\n\n")[:2]
    assert block == [
        "=== scheduler: scheduled jobs (1)",
        "scheduler.1 (Performance-M): up 2026/11/21 19:00:00 +0000 on kwok-zone-a-1: "
        "rake sweep (sweep)",
    ]
    assert "=== web (Standard-1X)" in out


def run(name: str, job: str, created: str, condition: str | None = None) -> dict[str, Any]:
    status = {"conditions": [{"type": condition, "status": "True"}]} if condition else {}
    labels = {"dyno.dev/scheduled-job": job}
    return {"metadata": {"name": name, "creationTimestamp": created, "labels": labels},
            "status": status}  # fmt: skip


def test_a_jobs_result_is_its_terminal_condition() -> None:
    assert run_result(run("a", "sweep", "t", "Complete")) == "succeeded"
    assert run_result(run("a", "sweep", "t", "Failed")) == "failed"
    assert run_result(run("a", "sweep", "t")) == "running"


def test_the_last_run_is_the_newest_job_and_the_next_run_comes_from_the_schedule() -> None:
    row = job_row(FORMATION, "sweep", run("b", "sweep", "2026-12-07T02:20:00Z", "Failed"), NOW)
    assert row == {
        "name": "sweep",
        "schedule": "*/5 * * * *",
        "cron": "*/5 * * * *",
        "command": "rake sweep",
        "size": "performance-m",
        "last_run": "2026-12-07T02:20:00Z",
        "result": "failed",
        "next_run": "2026-12-07T02:30:00Z",
    }


def test_without_a_job_left_the_last_run_is_what_status_says() -> None:
    folded = JobStatus(schedule="30 1 * * *", last_run="2026-12-07T01:30:00Z",
                       last_succeeded="2026-12-07T01:30:09Z", result="succeeded")  # fmt: skip
    f = FORMATION.model_copy(update={"status": FormationStatus(jobs={"nightly": folded})})
    row = job_row(f, "nightly", None, NOW)
    assert (row["last_run"], row["result"]) == ("2026-12-07T01:30:00Z", "succeeded")
    assert row["next_run"] == "2026-12-08T01:30:00Z"
    never = job_row(FORMATION, "nightly", None, NOW)
    assert (never["last_run"], never["result"]) == (None, None)


def test_scheduler_prints_herokus_layout_with_the_schedule_and_its_cron() -> None:
    rows = [
        job_row(FORMATION, "nightly", None, NOW),
        job_row(FORMATION, "sweep", run("b", "sweep", "2026-12-07T02:20:00Z", "Complete"), NOW),
    ]
    assert render_jobs("shop", rows, Catalog(), NOW, UTC).splitlines() == [
        "=== ⬢ shop Scheduled Jobs (schedules in UTC)",
        "",
        " Job       Schedule                          Size            Last run"
        "                               Result      Next run",
        " nightly   every day at 01:30 (30 1 * * *)   Standard-1X     never"
        "                                  -           2026/12/08 01:30:00 +0000",
        " sweep     */5 * * * *                       Performance-M   2026/12/07 02:20:00 +0000"
        " (~ 5m ago)   succeeded   2026/12/07 02:30:00 +0000",
    ]


CRONJOB = {
    "metadata": {"name": "shop-sweep", "namespace": "apps", "uid": "cj-uid",
                 "labels": {"app.kubernetes.io/managed-by": "dynoform"}},
    "spec": {
        "schedule": "*/5 * * * *",
        "jobTemplate": {
            "metadata": {"labels": {"dyno.dev/scheduled-job": "sweep"}},
            "spec": {"backoffLimit": 0, "template": {"spec": {"containers": []}}},
        },
    },
}  # fmt: skip


def test_scheduler_run_makes_the_job_kubectl_create_job_from_cronjob_makes() -> None:
    job = job_from(CRONJOB)
    assert job["metadata"] == {
        "generateName": "shop-sweep-",
        "namespace": "apps",
        "labels": {"dyno.dev/scheduled-job": "sweep"},
        "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
        "ownerReferences": [
            {"apiVersion": "batch/v1", "kind": "CronJob", "name": "shop-sweep",
             "uid": "cj-uid", "controller": True}
        ],
    }  # fmt: skip
    assert job["spec"] == CRONJOB["spec"]["jobTemplate"]["spec"]


def test_the_grammar_of_scheduler_commands() -> None:
    parser = build_parser()
    assert parser.parse_args(["scheduler", "-a", "shop", "--json"]).json is True
    assert parser.parse_args(["scheduler:run", "sweep", "-a", "shop"]).name == "sweep"
