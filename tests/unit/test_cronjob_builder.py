"""Scheduled jobs -> CronJobs (pure, no mocks): one per job, the pod of a dyno that runs once,
Heroku Scheduler's semantics where they matter, never part of the formation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dynoform.api.dyno import EXEC
from dynoform.api.sizes import Catalog, SizeError, check, check_jobs
from dynoform.api.v1alpha1 import Formation
from dynoform.core.builders.formation import build_children
from dynoform.core.schedules import job_status
from dynoform.core.status import Observed, Outcome, Phases, build_status, summary
from tests.factories import formation_body, make_formation

JOBS = {
    "nightly": {"command": "rake report", "schedule": "every day at 01:30"},
    "sweep": {"command": "rake sweep", "schedule": "*/5 * * * *", "size": "Performance-M"},
    "often": {
        "command": "rake ping && echo ok",
        "schedule": "every 10 minutes",
        "concurrencyPolicy": "Replace",
    },
}


def cronjobs(**spec: Any) -> dict[str, dict[str, Any]]:
    f = make_formation(jobs=JOBS, **spec)
    catalog = Catalog()
    kids = build_children(f, check(f.spec, catalog), jobs=check_jobs(f.spec, catalog))
    return {c["metadata"]["name"]: c for c in kids if c["kind"] == "CronJob"}


def test_each_job_gets_a_cronjob_named_formation_dash_job_after_the_types_children() -> None:
    f = make_formation(jobs=JOBS)
    kinds = [
        c["kind"]
        for c in build_children(f, check(f.spec, Catalog()), jobs=check_jobs(f.spec, Catalog()))
    ]
    assert kinds[-3:] == ["CronJob"] * 3
    assert "CronJob" not in kinds[:-3]
    assert sorted(cronjobs()) == ["shop-nightly", "shop-often", "shop-sweep"]


def test_the_schedule_is_translated_and_runs_in_utc() -> None:
    cj = cronjobs()
    assert cj["shop-nightly"]["spec"]["schedule"] == "30 1 * * *"
    assert cj["shop-often"]["spec"]["schedule"] == "*/10 * * * *"
    assert cj["shop-sweep"]["spec"]["schedule"] == "*/5 * * * *"
    assert {c["spec"]["timeZone"] for c in cj.values()} == {"Etc/UTC"}


def test_overlapping_runs_are_forbidden_by_default_and_late_runs_skipped() -> None:
    cj = cronjobs()
    assert cj["shop-nightly"]["spec"]["concurrencyPolicy"] == "Forbid"
    assert cj["shop-often"]["spec"]["concurrencyPolicy"] == "Replace"
    for c in cj.values():
        assert c["spec"]["startingDeadlineSeconds"] == 300
        assert c["spec"]["successfulJobsHistoryLimit"] == 3
        assert c["spec"]["failedJobsHistoryLimit"] == 3
        assert c["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0  # a one-off never retries


def test_a_heroku_frequency_run_stops_after_its_interval_and_a_cron_one_does_not() -> None:
    cj = cronjobs()
    assert cj["shop-often"]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 600
    assert cj["shop-nightly"]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 86400
    assert "activeDeadlineSeconds" not in cj["shop-sweep"]["spec"]["jobTemplate"]["spec"]


def pod(cj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_the_pod_is_a_one_off_dynos_with_the_apps_config_vars_and_the_jobs_size() -> None:
    cj = cronjobs(env={"DATABASE_URL": "postgres://db"})
    p = pod(cj["shop-sweep"])
    assert p["restartPolicy"] == "Never"
    assert "topologySpreadConstraints" not in p
    (container,) = p["containers"]
    assert container["name"] == "scheduler"
    assert container["image"] == "registry.example/shop:v1"
    assert container["command"] == ["/bin/sh", "-c", EXEC, "rake sweep"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["DATABASE_URL"] == "postgres://db"
    assert env["DYNO_TYPE"] == "scheduler"
    assert env["DYNO_SIZE"] == "performance-m"
    assert env["DYNO"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "PORT" not in env
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "2560Mi"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert p["securityContext"]["runAsNonRoot"] is True
    # A compound line keeps its shell, as a Procfile line does.
    assert pod(cj["shop-often"])["containers"][0]["command"][-1] == "rake ping && echo ok"


def test_a_job_that_names_no_size_takes_the_apps_default_size() -> None:
    nightly = pod(cronjobs()["shop-nightly"])["containers"][0]
    assert {"name": "DYNO_SIZE", "value": "standard-1x"} in nightly["env"]
    eco = {t: {"command": "run", "size": "eco"} for t in ("web", "worker")}
    f = make_formation(processes=eco, jobs={"nightly": JOBS["nightly"]})
    assert f.spec.job_size_of("nightly") == "eco"


def test_the_cronjob_is_owned_by_the_formation_and_its_runs_by_the_cron_controller() -> None:
    cj = cronjobs()["shop-nightly"]
    labels = cj["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "dynoform"
    assert labels["dyno.dev/formation"] == "shop"
    assert labels["dyno.dev/scheduled-job"] == "nightly"
    (owner,) = cj["metadata"]["ownerReferences"]
    assert owner["kind"] == "Formation"
    assert owner["controller"] is True
    run = cj["spec"]["jobTemplate"]["metadata"]["labels"]
    assert run == cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert run["app.kubernetes.io/managed-by"] == "dyno-scheduler"
    assert run["dyno.dev/scheduled-job"] == "nightly"
    assert run["dyno.dev/size"] == "standard-1x"
    assert "dyno.dev/process-type" not in run  # no Deployment, Service or PDB selects it


def test_a_job_is_never_part_of_the_formation() -> None:
    f = make_formation(jobs=JOBS)
    assert summary(f) == "clock=1:standard-1x web=2:standard-1x worker=1:standard-1x"
    assert "nightly" not in f.spec.processes


def test_an_unknown_job_size_is_refused_naming_the_job() -> None:
    f = make_formation(jobs={"nightly": {**JOBS["nightly"], "size": "huge-9x"}})
    with pytest.raises(SizeError, match=r"No such size as huge-9x \(scheduled job nightly\)"):
        check_jobs(f.spec, Catalog())


@pytest.mark.parametrize(
    ("name", "jobs", "message"),
    [
        ("shop", {"web": JOBS["nightly"]}, "web: a scheduled job and a process type"),
        ("shop", {"Nightly": JOBS["nightly"]}, "String should match pattern"),
        ("shop", {"n" * 31: JOBS["nightly"]}, "at most 30 characters"),
        ("s" * 30, {"n" * 22: JOBS["nightly"]}, "must fit in 52 characters"),
        ("shop", {"nightly": {**JOBS["nightly"], "schedule": "daily"}}, "is not a schedule"),
        ("shop", {"nightly": {"schedule": "@daily"}}, "command"),
    ],
)
def test_the_model_refuses_bad_jobs(name: str, jobs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Formation.model_validate(formation_body(name=name, jobs=jobs))


def test_a_cronjob_name_of_exactly_52_characters_is_accepted() -> None:
    f = Formation.model_validate(formation_body(name="s" * 30, jobs={"n" * 21: JOBS["nightly"]}))
    assert len(f"{f.name}-{'n' * 21}") == 52


RUN_AT, DONE_AT, LATER = "2026-12-07T01:30:00Z", "2026-12-07T01:30:08Z", "2026-12-08T01:30:00Z"


@pytest.mark.parametrize(
    ("status", "result"),
    [
        ({}, None),  # never ran
        ({"lastScheduleTime": RUN_AT, "active": [{"name": "shop-nightly-1"}]}, "running"),
        ({"lastScheduleTime": RUN_AT, "lastSuccessfulTime": DONE_AT}, "succeeded"),
        ({"lastScheduleTime": LATER, "lastSuccessfulTime": DONE_AT}, "failed"),  # no success since
        ({"lastScheduleTime": RUN_AT}, "failed"),
        ({"lastSuccessfulTime": DONE_AT}, "succeeded"),  # a manual run only
    ],
)
def test_status_says_how_the_last_run_went_from_the_cronjobs_status(
    status: dict[str, Any], result: str | None
) -> None:
    f = make_formation(jobs=JOBS)
    folded = job_status(f, "nightly", {"status": status})
    assert folded.result == result
    assert folded.schedule == "30 1 * * *"
    assert folded.last_run == status.get("lastScheduleTime")
    assert folded.running == len(status.get("active", []))


def test_a_formation_without_jobs_has_no_jobs_in_status() -> None:
    f = make_formation()
    outcome = Outcome((True, "Applied", "in sync"), "2026-12-07T00:00:00Z")
    assert build_status(f, Observed(), outcome).jobs is None
    nightly = job_status(make_formation(jobs=JOBS), "nightly", None)
    with_jobs = Outcome(outcome.reconciled, outcome.now, phases=Phases(jobs={"nightly": nightly}))
    assert build_status(f, Observed(), with_jobs).wire()["jobs"] == {
        "nightly": {"schedule": "30 1 * * *", "running": 0}
    }
