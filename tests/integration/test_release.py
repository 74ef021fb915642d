"""The release phase against the real API server: a Job per new image, the dynos moved only after
it succeeded, a failure holding every type on the released image.

kwok completes Job pods (its pod-complete stage); the test-only stage in
hack/localcluster/stages/job-pod-fails.yaml fails those whose command is `exit 1`, which is how
a failing release command is made here.
"""

from __future__ import annotations

from typing import Any

from lightkube import Client
from lightkube.types import PatchType

from dynoform.api.dyno import EXEC
from dynoform.runtime.resources import RESOURCES, generic
from localcluster.audit import AuditLog
from localcluster.operator import OPERATOR_USER
from tests.integration.test_operator import create, wait_ready
from tests.integration.test_writes import settled
from tests.kubehelp import Deployment, Formation, condition, events_for, eventually, get, names

Job = RESOURCES["Job"]
ReplicaSet = generic("apps", "v1", "ReplicaSet", "replicasets")
V1, V2, V3 = (f"registry.example/shop:v{i}" for i in (1, 2, 3))
MIGRATE = {"command": "bundle exec rake db:migrate"}
FAILS = {"command": "exit 1"}  # failed by kwok's test-only stage
PROCESSES = {
    "web": {"command": "puma", "quantity": 2},
    "worker": {"command": "sidekiq", "quantity": 1},
}


def patch(kube: Client, namespace: str, spec: dict[str, Any]) -> None:
    kube.patch(Formation, "shop", {"spec": spec}, namespace=namespace, patch_type=PatchType.MERGE)


def images(kube: Client, namespace: str) -> dict[str, str]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in kube.list(Deployment, namespace=namespace)
    }


def jobs(kube: Client, namespace: str) -> dict[str, dict[str, Any]]:
    return {j["metadata"]["name"]: dict(j) for j in kube.list(Job, namespace=namespace)}


def job_for(kube: Client, namespace: str, image: str) -> dict[str, Any] | None:
    for job in jobs(kube, namespace).values():
        container = job["spec"]["template"]["spec"]["containers"][0]
        if container["image"] == image:
            return job
    return None


def released(kube: Client, namespace: str, image: str) -> dict[str, Any] | None:
    f = get(kube, Formation, "shop", namespace)
    c = condition(f, "Released")
    status = (f or {}).get("status") or {}
    ok = status.get("releasedImage") == image and c and c["status"] == "True"
    return f if ok else None


def test_a_new_formation_runs_its_release_before_any_dyno_starts(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, image=V1, release=MIGRATE, processes=PROCESSES)
    f = eventually(lambda: released(kube, namespace, V1), timeout=60, what="v1 released")
    job = job_for(kube, namespace, V1)
    assert job is not None
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "/bin/sh",
        "-c",
        EXEC,
        "bundle exec rake db:migrate",
    ]
    assert condition(job, "Complete") is not None
    assert condition(f, "Released")["message"] == f"Released {V1}."  # type: ignore[index]
    wait_ready(kube, namespace)
    assert images(kube, namespace) == {"shop-web": V1, "shop-worker": V1}
    for dep in kube.list(Deployment, namespace=namespace):
        # Created only once the release had completed (both to the second).
        assert dep["metadata"]["creationTimestamp"] >= job["status"]["completionTime"]


def test_an_image_change_moves_the_dynos_only_after_its_release_succeeded(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, image=V1, release=MIGRATE, processes=PROCESSES)
    eventually(lambda: released(kube, namespace, V1), timeout=60, what="v1 released")
    wait_ready(kube, namespace)
    first = job_for(kube, namespace, V1)
    assert first is not None
    patch(kube, namespace, {"image": V2})
    eventually(lambda: released(kube, namespace, V2), timeout=60, what="v2 released")
    wait_ready(kube, namespace)
    assert images(kube, namespace) == {"shop-web": V2, "shop-worker": V2}
    job = job_for(kube, namespace, V2)
    assert job is not None
    # The ReplicaSets of the new image were made after the release had completed.
    new_sets = [
        rs
        for rs in kube.list(ReplicaSet, namespace=namespace)
        if rs["spec"]["template"]["spec"]["containers"][0]["image"] == V2
    ]
    assert len(new_sets) == 2
    for rs in new_sets:
        assert rs["metadata"]["creationTimestamp"] >= job["status"]["completionTime"]
    # The last release's Job is kept (its logs), the one before it pruned.
    eventually(lambda: set(jobs(kube, namespace)) == {job["metadata"]["name"]},
               what="v1's release Job pruned")  # fmt: skip


def test_a_failed_release_holds_every_type_and_the_next_image_tries_again(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, image=V1, release=MIGRATE, processes=PROCESSES)
    eventually(lambda: released(kube, namespace, V1), timeout=60, what="v1 released")
    wait_ready(kube, namespace)
    patch(kube, namespace, {"image": V2, "release": FAILS})

    def failed() -> dict[str, Any] | None:
        c = condition(get(kube, Formation, "shop", namespace), "Released")
        return c if c and c["reason"] == "ReleaseFailed" else None

    said = eventually(failed, timeout=60, what="Released=False, ReleaseFailed")
    failed_job = job_for(kube, namespace, V2)
    assert failed_job is not None
    assert said["message"].startswith(f"The release command failed for {V2}: ")
    assert f"kubectl logs job/{failed_job['metadata']['name']}" in said["message"]
    assert f"Every process type stays on {V1}." in said["message"]
    f = get(kube, Formation, "shop", namespace)
    ready = condition(f, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "ReleaseFailed")
    assert f is not None
    assert f["status"]["releasedImage"] == V1
    assert images(kube, namespace) == {"shop-web": V1, "shop-worker": V1}
    warnings = [e for e in events_for(kube, namespace, "shop") if e["reason"] == "ReleaseFailed"]
    assert len(warnings) == 1
    assert warnings[0]["type"] == "Warning"

    patch(kube, namespace, {"image": V3, "release": MIGRATE})
    eventually(lambda: released(kube, namespace, V3), timeout=60, what="v3 released")
    wait_ready(kube, namespace)
    assert images(kube, namespace) == {"shop-web": V3, "shop-worker": V3}
    retried = job_for(kube, namespace, V3)
    assert retried is not None
    eventually(lambda: set(jobs(kube, namespace)) == {retried["metadata"]["name"]},
               what="the failed release Job pruned")  # fmt: skip


def test_a_restart_does_not_run_a_succeeded_release_again(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, image=V1, release=MIGRATE, processes=PROCESSES)
    eventually(lambda: released(kube, namespace, V1), timeout=60, what="v1 released")
    wait_ready(kube, namespace)
    before = {n: j["metadata"]["uid"] for n, j in jobs(kube, namespace).items()}
    with operator.down():
        # Even with the record gone, status says v1 is released: nothing to run again.
        kube.delete(Job, next(iter(before)), namespace=namespace)
        eventually(lambda: not jobs(kube, namespace), what="the Job deleted")
    wait_ready(kube, namespace)
    f = eventually(lambda: released(kube, namespace, V1), what="v1 still released")
    assert not jobs(kube, namespace)
    assert names(kube, Deployment, namespace) == {"shop-web", "shop-worker"}
    assert f["status"]["releasedImage"] == V1


def test_a_released_formation_costs_no_write_across_resyncs(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    create(installed, namespace, image=V1, release=MIGRATE, processes=PROCESSES)
    eventually(lambda: released(kube, namespace, V1), timeout=60, what="v1 released")
    wait_ready(kube, namespace)
    settled(audit, operator, namespace)
    mark = audit.mark()
    operator.wait_for_resyncs(3)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]
