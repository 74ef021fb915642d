"""The release phase, pure parts: the Job, the plan each reconcile derives from status, the
spec and the observed Job, and what status says."""

from __future__ import annotations

from typing import Any

from dynoform.api.conditions import find
from dynoform.api.dyno import EXEC
from dynoform.api.sizes import BUILTIN
from dynoform.api.v1alpha1 import Formation, FormationStatus
from dynoform.core.builders.release import build_release_job, release_job_name
from dynoform.core.release import plan
from dynoform.core.status import Observed, Outcome, Phases, build_status, release_news
from tests.factories import make_formation

SIZE = BUILTIN["standard-1x"]
APPLIED = (True, "Applied", "ok")
V1, V2 = "registry.example/shop:v1", "registry.example/shop:v2"


def formation(image: str = V2, released: str | None = V1, **spec: Any) -> Formation:
    f = make_formation(image=image, release={"command": "rake db:migrate"}, **spec)
    return f.model_copy(update={"status": FormationStatus(released_image=released)})


def job(f: Formation, state: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The observed release Job of f's image: running (None), Complete or Failed."""
    conditions = []
    if state == "Complete":
        conditions = [
            {"type": "SuccessCriteriaMet", "status": "True"},
            {"type": "Complete", "status": "True"},
        ]
    elif state == "Failed":
        conditions = [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"},
        ]  # fmt: skip
    name = release_job_name(f)
    observed = {"kind": "Job", "metadata": {"name": name}, "status": {"conditions": conditions}}
    return {("Job", name): observed}


def test_the_job_runs_the_release_command_once_with_the_new_image_and_the_app_config() -> None:
    f = formation(env={"RAILS_ENV": "production"}, envFrom=[{"secretRef": {"name": "db"}}])
    body = build_release_job(f, SIZE)
    assert body["metadata"]["name"] == release_job_name(f)
    assert body["metadata"]["name"].startswith("shop-release-")
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert body["spec"]["backoffLimit"] == 0
    assert body["spec"]["activeDeadlineSeconds"] == 3600
    pod = body["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert "topologySpreadConstraints" not in pod
    (container,) = pod["containers"]
    assert container["image"] == V2
    assert container["command"] == ["/bin/sh", "-c", EXEC, "rake db:migrate"]
    assert container["envFrom"] == [{"secretRef": {"name": "db"}}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RAILS_ENV"] == "production"
    assert env["DYNO_TYPE"] == "release"
    assert "PORT" not in env
    labels = body["spec"]["template"]["metadata"]["labels"]
    assert "dyno.dev/process-type" not in labels  # no Deployment, Service or PDB selects it
    assert labels["dyno.dev/formation"] == "shop"


def test_each_image_has_its_own_job_name_within_63_characters() -> None:
    long = make_formation(name="a" * 60, image=V1, release={"command": "x"})
    assert len(release_job_name(long)) <= 63
    assert release_job_name(formation(V1)) != release_job_name(formation(V2))


def test_without_a_release_phase_the_dynos_run_the_spec_image() -> None:
    p = plan(make_formation(image=V2), {}, None)
    assert (p.image, p.job, p.verdict) == (V2, None, None)


def test_a_new_image_runs_the_release_job_and_keeps_the_dynos_on_the_released_image() -> None:
    f = formation()
    p = plan(f, {}, SIZE)
    assert p.image == V1
    assert p.job is not None
    assert p.job["spec"]["template"]["spec"]["containers"][0]["image"] == V2
    assert p.keep == release_job_name(f)
    assert p.verdict is not None
    assert p.verdict[:2] == (False, "ReleaseRunning")
    assert "Every process type stays on registry.example/shop:v1." in p.verdict[2]
    assert plan(f, job(f), SIZE).image == V1  # still running


def test_the_dynos_move_only_once_the_job_succeeded() -> None:
    f = formation()
    p = plan(f, job(f, "Complete"), SIZE)
    assert p.image == V2
    assert p.verdict == (True, "ReleaseSucceeded", f"Released {V2}.")


def test_a_failed_release_holds_every_type_on_the_old_image_and_says_why() -> None:
    f = formation()
    p = plan(f, job(f, "Failed"), SIZE)
    assert p.image == V1
    assert p.verdict is not None
    ok, reason, message = p.verdict
    assert (ok, reason) == (False, "ReleaseFailed")
    assert message == (
        f"The release command failed for {V2}: BackoffLimitExceeded: Job has reached the "
        f"specified backoff limit (kubectl logs job/{release_job_name(f)}). Every process type "
        f"stays on {V1}. Change the image to try again."
    )


def test_the_next_image_tries_again_with_a_job_of_its_own() -> None:
    failed = formation(V2)
    nxt = formation("registry.example/shop:v3")
    p = plan(nxt, job(failed, "Failed"), SIZE)
    assert p.job is not None
    assert p.job["metadata"]["name"] != release_job_name(failed)
    assert p.keep == release_job_name(nxt)  # the failed one is pruned
    assert p.verdict is not None
    assert p.verdict[1] == "ReleaseRunning"


def test_a_released_image_is_never_released_again() -> None:
    f = formation(V2, released=V2)
    p = plan(f, {}, SIZE)  # the Job may be gone: status is what counts
    assert (p.image, p.job) == (V2, None)
    assert p.verdict == (True, "ReleaseSucceeded", f"Released {V2}.")


def test_nothing_runs_before_the_first_release() -> None:
    f = formation(V1, released=None)
    p = plan(f, {}, SIZE)
    assert p.image is None
    assert p.verdict is not None
    assert "No dyno runs until a release succeeds." in p.verdict[2]


def test_without_a_recorded_image_the_one_the_deployments_run_is_adopted() -> None:
    f = formation(V2, released=None)
    running = {"spec": {"template": {"spec": {"containers": [{"image": V1}]}}}}
    p = plan(f, {("Deployment", "shop-web"): running}, SIZE)
    assert p.image == V1
    assert p.job is not None


def test_status_records_the_released_image_and_ready_waits_for_the_release() -> None:
    f = formation()
    p = plan(f, job(f), SIZE)
    phases = Phases(released_image=p.image, release=p.verdict)
    st = build_status(f, Observed(), Outcome(APPLIED, "t1", phases=phases))
    assert st.released_image == V1
    ready, released = find(st.conditions, "Ready"), find(st.conditions, "Released")
    assert ready is not None
    assert released is not None
    assert (ready.status, ready.reason) == ("False", "ReleaseRunning")
    assert (released.status, released.reason) == ("False", "ReleaseRunning")


def test_a_release_is_told_as_events_started_failed_succeeded() -> None:
    f = formation()
    running = build_status(
        f, Observed(), Outcome(APPLIED, "t1", phases=Phases(V1, plan(f, job(f), SIZE).verdict))
    )
    failed_plan = plan(f, job(f, "Failed"), SIZE)
    outcome = Outcome(APPLIED, "t2", phases=Phases(V1, failed_plan.verdict))
    failed = build_status(f.model_copy(update={"status": running}), Observed(), outcome)
    assert [(r, t) for r, _, t in release_news(FormationStatus(), running)] == [
        ("ReleaseRunning", "Normal")
    ]
    assert [(r, t) for r, _, t in release_news(running, failed)] == [("ReleaseFailed", "Warning")]
    assert release_news(failed, failed) == []


def test_argo_cds_health_check_calls_a_failed_release_degraded() -> None:
    from pathlib import Path

    from lupa import lua51

    lua_file = Path(__file__).resolve().parents[2] / "charts/dynoform/health/formation.lua"

    def health(status: FormationStatus) -> tuple[str, str]:
        obj = {"metadata": {"generation": 1}, "status": status.wire()}
        lua = lua51.LuaRuntime(unpack_returned_tuples=True)
        lua.globals().obj = lua.table_from(obj, recursive=True)
        result = lua.execute(lua_file.read_text())
        return str(result["status"]), str(result["message"])

    f = formation()
    running = build_status(
        f, Observed(), Outcome(APPLIED, "t1", phases=Phases(V1, plan(f, job(f), SIZE).verdict))
    )
    verdict = plan(f, job(f, "Failed"), SIZE).verdict
    failed = build_status(f, Observed(), Outcome(APPLIED, "t1", phases=Phases(V1, verdict)))
    assert health(running)[0] == "Progressing"
    status, message = health(failed)
    assert status == "Degraded"
    assert message.startswith(f"ReleaseFailed: The release command failed for {V2}")


def test_a_failed_release_says_how_the_command_ended_with_its_last_lines() -> None:
    f = formation()
    ended = "exit 1: Running migrations...\nmigration 0042 failed: no relation orders\n"
    p = plan(f, job(f, "Failed"), SIZE, ended)
    assert p.verdict is not None
    message = p.verdict[2]
    assert "The command ended with exit 1; its last lines:\n" in message
    assert message.endswith("Running migrations...\nmigration 0042 failed: no relation orders")
    assert (
        plan(f, job(f, "Failed"), SIZE, "exit 137: ")
        .verdict[2]
        .endswith(  # type: ignore[index]
            "The command ended with exit 137."
        )
    )


def test_the_release_container_leaves_its_last_log_lines_as_its_termination_message() -> None:
    (container,) = build_release_job(formation(), SIZE)["spec"]["template"]["spec"]["containers"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
