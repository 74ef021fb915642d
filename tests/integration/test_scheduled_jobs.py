"""Scheduled jobs against the real API server and controller manager: what `kubectl apply`
refuses (and that the model agrees), the CronJobs the operator builds and prunes, a Job started
on schedule by the CronJob controller, and the CLI's `scheduler` and `scheduler:run`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from lightkube import Client
from lightkube.types import PatchType
from pydantic import ValidationError

from dynoform.api.admission import CATALOG_POLICY, NAMES_POLICY
from dynoform.api.sizes import BUILTIN, Catalog, SizeError, check
from dynoform.api.v1alpha1 import Formation as FormationModel
from dynoform.core.builders.cronjob import build_cronjob
from dynoform.runtime.resources import RESOURCES
from tests.factories import formation_body
from tests.integration.test_cli import dyno
from tests.integration.test_operator import create, wait_ready
from tests.integration.test_release import FAILS, MIGRATE
from tests.kubehelp import Deployment, Formation, apply_yaml, condition, eventually, get

CronJob = RESOURCES["CronJob"]
Job = RESOURCES["Job"]


def patch_formation(kube: Client, namespace: str, spec: dict[str, Any]) -> None:
    kube.patch(Formation, "shop", {"spec": spec}, namespace=namespace, patch_type=PatchType.MERGE)


def with_jobs(namespace: str, jobs: dict[str, Any], name: str = "shop") -> dict[str, Any]:
    return formation_body(name=name, namespace=namespace, jobs=jobs)


def job(schedule: str, **extra: Any) -> dict[str, Any]:
    return {"command": "rake report", "schedule": schedule, **extra}


SCHEDULES = [
    ("every 10 minutes", True),
    ("Every hour at :30", True),
    ("every hour at :00", True),
    ("every day at 01:30", True),
    ("every day at 23:00", True),
    ("*/15 * * * *", True),
    ("0 9 * * 1-5", True),
    ("5,35 0-6/2 1 1,7 0", True),
    ("@daily", True),
    ("@annually", True),
    ("00 00 01 01 00", True),
    ("0  0 * * *", True),
    ("30 3 15/5 * *", True),
    ("59 23 31 12 6", True),
    ("every 5 minutes", False),
    ("every hour at :15", False),
    ("every day at 01:15", False),
    ("every day at 24:00", False),
    ("60 * * * *", False),
    ("* 24 * * *", False),
    ("0 0 32 * *", False),
    ("0 0 * 13 *", False),
    ("0 0 * * 7", False),
    ("0 0 * * mon", False),
    ("5-3 * * * *", False),
    ("*/0 * * * *", False),
    ("* * * *", False),
    ("* * * * * *", False),
    ("@every 1h", False),
    ("TZ=Europe/Paris 0 0 * * *", False),
]


@pytest.mark.parametrize(("schedule", "ok"), SCHEDULES)
def test_a_schedule_is_accepted_at_apply_time_exactly_when_the_model_and_a_cronjob_accept_it(
    installed, namespace: str, schedule: str, ok: bool
) -> None:
    body = with_jobs(namespace, {"report": job(schedule)})
    result = apply_yaml(installed.kubectl, body, "--dry-run=server", check=False)
    try:
        FormationModel.model_validate(body)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert (result.returncode == 0, model_ok) == (ok, ok), result.stderr
    if ok:  # and the CronJob it becomes is one Kubernetes takes
        formation = FormationModel.model_validate(
            {
                **body,
                "metadata": {**body["metadata"], "uid": "0b6c1f2e-0000-4000-8000-000000000000"},
            }
        )
        cronjob = build_cronjob(formation, "report", BUILTIN["standard-1x"])
        taken = apply_yaml(installed.kubectl, cronjob, "--dry-run=server", check=False)
        assert taken.returncode == 0, taken.stderr
    else:
        assert "spec.jobs[report].schedule" in result.stderr
        assert f'"{schedule}"' in result.stderr


REFUSED = [
    pytest.param(
        {"report": job("@daily", size="huge-9x")},
        CATALOG_POLICY,
        "No such size as huge-9x (scheduled job report). Available dyno sizes are eco",
        id="an unknown size",
    ),
    pytest.param(
        {"web": job("@daily")},
        NAMES_POLICY,
        "web: a scheduled job and a process type must not share a name",
        id="a job named as a process type",
    ),
    pytest.param(
        {"Report_1": job("@daily")},
        NAMES_POLICY,
        "spec.jobs: invalid scheduled job names: Report_1",
        id="a job name that is no DNS label",
    ),
    pytest.param(
        {"nightly-report-of-sales": job("@daily")},
        "",
        "must fit in 52 characters",
        id="a CronJob name too long",
    ),
]


LONG_NAME = "shop-with-a-rather-long-name-x"  # 30 characters: `<name>-<job>` fits 52 for short jobs


@pytest.mark.parametrize(("jobs", "policy", "message"), REFUSED)
def test_bad_jobs_are_refused_at_apply_time_saying_which_job_and_why(
    operator, installed, namespace: str, jobs: dict[str, Any], policy: str, message: str
) -> None:
    body = with_jobs(namespace, jobs, name=LONG_NAME)
    result = apply_yaml(installed.kubectl, body, check=False)
    assert result.returncode != 0, "accepted"
    assert message in result.stderr
    if policy:
        assert f"ValidatingAdmissionPolicy '{policy}'" in result.stderr
    # The model (the CLI's, the Platform API's, the operator's) refuses it too.
    if policy == CATALOG_POLICY:
        spec = FormationModel.model_validate(body).spec
        with pytest.raises(SizeError, match=re.escape(message)):
            check(spec, Catalog())
    else:
        with pytest.raises(ValidationError):
            FormationModel.model_validate(body)


# --- the operator: CronJobs built, on the released image, pruned ----------------------------

V1, V2, V3 = (f"registry.example/shop:v{i}" for i in (1, 2, 3))
PROCESSES = {"web": {"command": "puma", "quantity": 1}}


def cronjobs(kube: Client, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        c["metadata"]["name"]: dict(c)
        for c in kube.list(CronJob, namespace=namespace, labels={"dyno.dev/formation": "shop"})
    }


def image_of(cronjob: dict[str, Any]) -> str:
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return str(pod["containers"][0]["image"])


def test_each_job_becomes_a_cronjob_on_the_released_image_and_a_dropped_job_is_pruned(
    operator, installed, kube: Client, namespace: str
) -> None:
    jobs = {"nightly": job("every day at 01:30"), "sweep": job("*/5 * * * *", size="eco")}
    create(installed, namespace, image=V1, release=MIGRATE, processes=PROCESSES, jobs=jobs)
    wait_ready(kube, namespace)
    made = eventually(lambda: (c := cronjobs(kube, namespace)) and len(c) == 2 and c,
                      what="two CronJobs")  # fmt: skip
    assert made["shop-nightly"]["spec"]["schedule"] == "30 1 * * *"
    assert made["shop-nightly"]["spec"]["timeZone"] == "Etc/UTC"
    assert made["shop-sweep"]["spec"]["concurrencyPolicy"] == "Forbid"
    assert {image_of(c) for c in made.values()} == {V1}
    assert [d["metadata"]["name"] for d in kube.list(Deployment, namespace=namespace)] == [
        "shop-web"
    ]  # a job is no process type

    # A release that fails keeps the jobs on the image released last, as the dynos.
    patch_formation(kube, namespace, {"image": V2, "release": FAILS})
    eventually(
        lambda: (
            (condition(get(kube, Formation, "shop", namespace), "Released") or {}).get("reason")
            == "ReleaseFailed"
        ),
        timeout=60,
        what="the release of v2 failed",
    )
    assert {image_of(c) for c in cronjobs(kube, namespace).values()} == {V1}

    # A failed image is never released; the next one is, and the jobs move with the dynos.
    patch_formation(kube, namespace, {"image": V3, "release": MIGRATE})
    eventually(
        lambda: {image_of(c) for c in cronjobs(kube, namespace).values()} == {V3},
        timeout=60,
        what="the jobs on v3 once it is released",
    )
    patch_formation(kube, namespace, {"jobs": {"sweep": None}})
    eventually(lambda: set(cronjobs(kube, namespace)) == {"shop-nightly"}, what="sweep pruned")
    patch_formation(kube, namespace, {"jobs": None})
    eventually(lambda: not cronjobs(kube, namespace), what="every CronJob pruned")


def runs(kube: Client, namespace: str, name: str) -> list[dict[str, Any]]:
    return [
        dict(j)
        for j in kube.list(Job, namespace=namespace, labels={"dyno.dev/scheduled-job": name})
    ]


def test_a_job_runs_on_its_schedule_and_its_result_reaches_the_formations_status(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=PROCESSES, jobs={"tick": job("* * * * *")})
    wait_ready(kube, namespace)
    # The CronJob controller starts the run at the next minute: at most about a minute away.
    (run,) = eventually(lambda: runs(kube, namespace, "tick"), timeout=90, interval=1,
                        what="a Job started by the CronJob controller")  # fmt: skip
    assert run["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "dyno-scheduler"
    (owner,) = run["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("CronJob", "shop-tick")

    def done() -> dict[str, Any] | None:
        f = get(kube, Formation, "shop", namespace) or {}
        tick = ((f.get("status") or {}).get("jobs") or {}).get("tick") or {}
        return tick if tick.get("result") == "succeeded" else None

    tick = eventually(done, timeout=60, what="status.jobs.tick succeeded")
    assert tick["schedule"] == "* * * * *"
    assert tick["lastRun"]
    assert tick["lastSucceeded"] >= tick["lastRun"]


# --- the CLI --------------------------------------------------------------------------------


def test_scheduler_run_starts_a_job_now_and_scheduler_shows_how_it_went(
    operator, installed, kube: Client, namespace: str
) -> None:
    # Yearly: the CronJob controller starts none of these during the test; only scheduler:run.
    jobs = {"nightly": job("@yearly"), "broken": {**job("@yearly"), **FAILS}}
    create(installed, namespace, processes=PROCESSES, jobs=jobs)
    wait_ready(kube, namespace)
    eventually(lambda: len(cronjobs(kube, namespace)) == 2, what="the CronJobs")
    before = dyno(namespace, "scheduler")
    assert before.code == 0, before.err
    assert " nightly   @yearly    Standard-1X   never      -        " in before.out

    started = dyno(namespace, "scheduler:run", "nightly")
    assert started.code == 0, started.err
    assert started.err.startswith("Running rake report on ⬢ shop... done, shop-nightly-")
    (made,) = runs(kube, namespace, "nightly")
    assert made["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    (owner,) = made["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("CronJob", "shop-nightly")
    assert dyno(namespace, "scheduler:run", "broken").code == 0

    # kwok completes the Jobs' pods (and fails `exit 1`); `scheduler` then shows each result.
    def shown() -> dict[str, str] | None:
        out = dyno(namespace, "scheduler").out
        rows = {line.split()[0]: line for line in out.splitlines()[3:] if line.strip()}
        done = " succeeded " in rows.get("nightly", "") and " failed " in rows.get("broken", "")
        return rows if done else None

    rows = eventually(shown, timeout=60, what="dyno scheduler showing both results")
    assert "(~ " in rows["nightly"]  # the last run's time, as Heroku prints times

    missing = dyno(namespace, "scheduler:run", "weekly")
    assert missing.code == 1
    assert missing.err == (
        " !    Couldn't find that scheduled job (weekly).\n !    Scheduled jobs: broken, nightly\n"
    )
