"""The dyno CLI against the real API server, with the operator running: real patches, their
effect on Deployments, pods from kwok, and ten clients scaling at once.

Commands run in-process through `main()` (the same code as the `dyno` script, minus the process
start), except where processes are the point: the concurrency case and the attached run.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from lightkube import Client

from dynoform.api.dyno import EXEC
from dynoform.runtime.resources import generic
from tests.factories import formation_body
from tests.kubehelp import Deployment, Formation, Pod, apply_yaml, condition, eventually, get

ReplicaSet = generic("apps", "v1", "ReplicaSet", "replicasets")
Job = generic("batch", "v1", "Job", "jobs")
DYNO_LINE = re.compile(
    r"^(?P<name>web\.\d+): up \d{4}/\d\d/\d\d \d\d:\d\d:\d\d [+-]\d{4} \(~ \d+[smh] ago\) "
    r"in (?P<zone>zone-[abc]) on (?P<node>kwok-zone-[abc]-\d)$"
)


@dataclass
class Result:
    code: int
    out: str
    err: str


def dyno(namespace: str, *args: str, app: str = "shop") -> Result:
    from dynoform.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["-n", namespace, "-a", app, *args], out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue())


def create(installed, namespace: str, **spec: Any) -> None:
    apply_yaml(installed.kubectl, formation_body("shop", namespace, **spec))


def formation(kube: Client, namespace: str) -> dict[str, Any]:
    f = get(kube, Formation, "shop", namespace)
    assert f is not None
    return f


def wait_ready(kube: Client, namespace: str, timeout: float = 90) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        f = formation(kube, namespace)
        c = condition(f, "Ready")
        observed = (f.get("status") or {}).get("observedGeneration")
        ok = c and c["status"] == "True" and observed == f["metadata"]["generation"]
        return f if ok else None

    return eventually(ready, timeout=timeout, what="Formation shop Ready")


def live_pods(kube: Client, namespace: str, ptype: str) -> set[str]:
    labels = {"dyno.dev/formation": "shop", "dyno.dev/process-type": ptype}
    pods = kube.list(Pod, namespace=namespace, labels=labels)
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def unchanged_view(kube: Client, namespace: str) -> tuple[int, dict[str, Any]]:
    """What a write would change: the generation and the spec (status moves on its own)."""
    f = formation(kube, namespace)
    return f["metadata"]["generation"], f["spec"]


def quantities(kube: Client, namespace: str) -> dict[str, tuple[int, str]]:
    procs = formation(kube, namespace)["spec"]["processes"]
    return {t: (p.get("quantity"), p.get("size", "standard-1x")) for t, p in procs.items()}


def test_ps_scale_writes_one_update_and_the_deployments_follow(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    generation = wait_ready(kube, namespace)["metadata"]["generation"]
    result = dyno(namespace, "ps:scale", "web=3:Performance-L", "worker+1")
    assert result.code == 0, result.err
    assert result.err == (
        "Scaling dynos... done, now running web at 3:Performance-L, worker at 2:Standard-1X\n"
    )
    f = wait_ready(kube, namespace)
    assert f["metadata"]["generation"] == generation + 1  # both changes in one write
    assert quantities(kube, namespace) == {
        "web": (3, "performance-l"),
        "worker": (2, "standard-1x"),
        "clock": (1, "standard-1x"),
    }
    web = get(kube, Deployment, "shop-web", namespace)
    assert web is not None
    assert web["spec"]["replicas"] == 3
    resources = web["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "8", "memory": "14Gi"}
    assert get(kube, Deployment, "shop-worker", namespace)["spec"]["replicas"] == 2  # type: ignore[index]


def test_ps_scale_keeps_the_size_and_prints_the_formation_to_pass_back(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    assert dyno(namespace, "ps:scale", "web=2:standard-2x").code == 0
    assert dyno(namespace, "ps:scale", "web=1").err.endswith("now running web at 1:Standard-2X\n")
    shown = dyno(namespace, "ps:scale")
    assert shown.out == "clock=1:standard-1x web=1:standard-2x worker=1:standard-1x\n"
    # The printed form scales back to the same formation.
    assert dyno(namespace, "ps:scale", *shown.out.split()).code == 0
    assert quantities(kube, namespace)["web"] == (1, "standard-2x")


def test_ten_parallel_increments_add_exactly_ten(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    argv = [sys.executable, "-m", "dynoform.cli", "-n", namespace, "-a", "shop"]
    env = {**installed.env(), "DYNO_DEBUG": "1"}

    def scale_once(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, "ps:scale", "web+1"], env=env, capture_output=True, text=True, timeout=120
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(scale_once, range(10)))
    took = time.monotonic() - started
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    seen = sorted(int(re.findall(r"web at (\d+):", r.stderr)[-1]) for r in results)
    assert seen == list(range(3, 13))  # every client saw its own step: no lost update
    assert quantities(kube, namespace)["web"] == (12, "standard-1x")
    conflicts = sum(r.stderr.count("Conflict on Formation") for r in results)
    print(f"\n10 parallel `dyno ps:scale web+1`: {took:.1f}s, {conflicts} conflicts retried")
    eventually(
        lambda: get(kube, Deployment, "shop-web", namespace)["spec"]["replicas"] == 12,  # type: ignore[index]
        what="shop-web at 12 replicas",
    )


REFUSED = [
    (["foo=1"], 1, "Couldn't find that process type (foo)."),
    (["web=1:tiny"], 1, "No such size as tiny (process type web). Available dyno sizes are eco,"),
    (["clock=2"], 1, "clock is a singleton process type and runs at most 1 dyno"),
    (["worker-2"], 1, "Cannot scale worker below 0 dynos"),
    (["web=11:performance-l"], 1, "Cannot run more than 10 Performance-L dynos per process type"),
    (["web=2:eco"], 1, "Cannot run more than 1 Eco dyno per process type"),
    (["web+1", "oops"], 2, 'Cannot parse "oops"'),
]


@pytest.mark.parametrize(
    ("args", "code", "message"), REFUSED, ids=[" ".join(r[0]) for r in REFUSED]
)
def test_a_refused_scale_changes_nothing(
    operator, installed, kube: Client, namespace: str, args: list[str], code: int, message: str
) -> None:
    create(installed, namespace)
    before = unchanged_view(kube, namespace)
    result = dyno(namespace, "ps:scale", *args)
    assert (result.code, result.out) == (code, "")
    assert message in result.err
    if code == 1:
        assert result.err.startswith("Scaling dynos... !\n !    ")
    assert unchanged_view(kube, namespace) == before


def test_the_server_refuses_what_a_client_without_the_catalog_cannot_check(
    operator, installed, kube: Client, namespace: str
) -> None:
    # A developer who may edit Formations but not read the cluster's DynoSizes: the CLI leaves
    # sizes to the server, and the server's admission refuses an unknown one.
    if installed.local is None:
        pytest.skip("minting a user needs the local control plane")
    create(installed, namespace)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "developer", "namespace": namespace},
        "rules": [
            {"apiGroups": ["dyno.dev"], "resources": ["formations"], "verbs": ["get", "patch"]}
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "developer", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "developer"},
        "subjects": [{"kind": "User", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    apply_yaml(installed.kubectl, role)
    apply_yaml(installed.kubectl, binding)
    kubeconfig = str(installed.local.kubeconfig_for("dev"))
    before = unchanged_view(kube, namespace)
    refused = dyno(namespace, "--kubeconfig", kubeconfig, "ps:scale", "web=1:tiny")
    assert refused.code == 1
    assert refused.err.startswith("Scaling dynos... !\n !    ")
    assert "No such size as tiny" in refused.err
    assert unchanged_view(kube, namespace) == before
    allowed = dyno(namespace, "--kubeconfig", kubeconfig, "ps:scale", "web=3:standard-2x")
    assert allowed.code == 0, allowed.err
    assert quantities(kube, namespace)["web"] == (3, "standard-2x")


def test_ps_shows_the_kwok_pods_numbered_by_age_with_zone_and_node(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes={"web": {"command": "puma", "quantity": 3}})
    wait_ready(kube, namespace)
    result = dyno(namespace, "ps")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[:2] == ["=== web (Standard-1X): puma (3)", ""]
    matches = [DYNO_LINE.match(line) for line in lines[2:5]]
    assert all(matches), lines
    pods = sorted(
        kube.list(Pod, namespace=namespace, labels={"dyno.dev/formation": "shop"}),
        key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]),
    )
    as_json = {d["name"]: d for d in json.loads(dyno(namespace, "ps", "--json").out)}
    for i, (m, p) in enumerate(zip(matches, pods, strict=True), start=1):
        assert m is not None
        node = kube.get(generic("", "v1", "Node", "nodes", namespaced=False), p["spec"]["nodeName"])
        assert m["name"] == f"web.{i}"
        assert as_json[m["name"]]["pod"] == p["metadata"]["name"]
        assert (m["node"], m["zone"]) == (
            p["spec"]["nodeName"],
            node["metadata"]["labels"]["topology.kubernetes.io/zone"],
        )


def test_ps_of_a_type_with_no_dynos_says_so(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    eventually(lambda: live_pods(kube, namespace, "worker"), what="a worker dyno")
    result = dyno(namespace, "ps", "worker", "cron")
    assert (result.code, result.err) == (1, " !    No cron dynos on ⬢ shop\n")
    missing = dyno(namespace, "ps", app="nope")
    assert missing.code == 1
    assert f"Couldn't find that app (nope in namespace {namespace})." in missing.err


def test_ps_type_resizes_and_prints_memory_and_cpu_per_dyno(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    result = dyno(namespace, "ps:type", "web=Standard-2X")
    assert result.code == 0, result.err
    assert result.err == "Scaling dynos on ⬢ shop... done\n"
    assert " web      Standard-2X   2     1Gi      500m/2" in result.out.splitlines()
    assert " all           4       3Gi      1.5" in result.out.splitlines()
    eventually(
        lambda: (
            get(kube, Deployment, "shop-web", namespace)["spec"]["template"]["spec"][  # type: ignore[index]
                "containers"
            ][0]["resources"]["limits"]["memory"]
            == "1Gi"
        ),
        what="shop-web at 1Gi",
    )
    every = dyno(namespace, "ps:type", "standard-2x")
    assert every.code == 0
    assert {s for _, s in quantities(kube, namespace).values()} == {"standard-2x"}


def test_ps_restart_of_a_type_rolls_its_deployment_and_the_operator_keeps_it(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    before_rs = {r["metadata"]["name"] for r in kube.list(ReplicaSet, namespace=namespace)}
    before_pods = live_pods(kube, namespace, "web")
    result = dyno(namespace, "ps:restart", "web")
    assert result.code == 0, result.err
    assert result.err == "Restarting all web dynos on ⬢ shop... done\n"
    eventually(
        lambda: (
            {r["metadata"]["name"] for r in kube.list(ReplicaSet, namespace=namespace)} - before_rs
        ),
        what="a new ReplicaSet for web",
    )
    eventually(
        lambda: (
            live_pods(kube, namespace, "web").isdisjoint(before_pods)
            and len(live_pods(kube, namespace, "web")) == 2
        ),
        what="every web dyno replaced",
    )
    operator.wait_for_resyncs(2)  # the operator reconciled it twice more: not undone
    web = get(kube, Deployment, "shop-web", namespace)
    assert web is not None
    assert "kubectl.kubernetes.io/restartedAt" in web["spec"]["template"]["metadata"]["annotations"]
    worker = get(kube, Deployment, "shop-worker", namespace)
    assert "annotations" not in worker["spec"]["template"]["metadata"]  # type: ignore[index]


def test_ps_restart_without_a_type_rolls_every_process_type(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    result = dyno(namespace, "ps:restart")
    assert result.code == 0, result.err
    assert result.err == "Restarting all dynos on ⬢ shop... done\n"
    for ptype in ("web", "worker", "clock"):
        d = get(kube, Deployment, f"shop-{ptype}", namespace)
        assert d is not None
        assert (
            "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
        )
    wait_ready(kube, namespace)


def test_ps_restart_of_one_dyno_replaces_only_that_pod(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes={"web": {"command": "puma", "quantity": 3}})
    wait_ready(kube, namespace)
    dynos = {d["name"]: d["pod"] for d in json.loads(dyno(namespace, "ps", "--json").out)}
    result = dyno(namespace, "ps:restart", "web.2")
    assert result.code == 0, result.err
    assert result.err == "Restarting dyno web.2 on ⬢ shop... done\n"

    def replaced() -> bool:
        pods = live_pods(kube, namespace, "web")
        return dynos["web.2"] not in pods and len(pods) == 3

    eventually(replaced, what="web.2's pod replaced")
    assert {dynos["web.1"], dynos["web.3"]} <= live_pods(kube, namespace, "web")
    assert dyno(namespace, "ps:restart", "web.9").err == " !    Couldn't find that dyno (web.9).\n"


def test_ps_stop_deletes_the_dynos_and_the_formation_brings_them_back(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    before = live_pods(kube, namespace, "web")
    result = dyno(namespace, "ps:stop", "web")
    assert result.code == 0, result.err
    assert result.err.startswith("Stopping all web dynos on ⬢ shop... done\n")
    assert "To stop them for good, scale to 0: dyno ps:scale web=0 -a shop" in result.err
    eventually(
        lambda: (
            live_pods(kube, namespace, "web").isdisjoint(before)
            and len(live_pods(kube, namespace, "web")) == 2
        ),
        what="web dynos started again",
    )
    assert quantities(kube, namespace)["web"][0] == 2


def test_run_detached_creates_a_job_outside_the_formation(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    f = wait_ready(kube, namespace)
    first = dyno(namespace, "run", "--detached", "--env", "VERBOSE=1", "--", "rake", "db:migrate")
    assert first.code == 0, first.err
    assert first.err == (
        "Running rake db:migrate on ⬢ shop... done, run.1 (Standard-1X)\n"
        "Run dyno logs -a shop -d run.1 to view the output.\n"
    )
    second = dyno(namespace, "run:detached", "-s", "Standard-2X", "worker")
    assert "done, run.2 (Standard-2X)" in second.err
    job = get(kube, Job, "shop-run-1", namespace)
    assert job is not None
    assert job["metadata"]["labels"]["dyno.dev/one-off"] == "run.1"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/bin/sh", "-c", EXEC, "rake db:migrate"]
    assert {"name": "VERBOSE", "value": "1"} in container["env"]
    worker_job = get(kube, Job, "shop-run-2", namespace)
    assert worker_job["spec"]["template"]["spec"]["containers"][0]["command"][3] == (  # type: ignore[index]
        "bundle exec sidekiq"
    )

    def both_listed() -> Result | None:
        listed = dyno(namespace, "ps", "run")
        return listed if listed.out.count("\nrun.") == 2 else None

    ps = eventually(both_listed, what="run.1 and run.2 in ps")
    assert ps.out.startswith("=== run: one-off processes (2)\n\nrun.1 (Standard-1X): ")
    assert ": rake db:migrate\n" in ps.out
    # Not part of the formation: its generation did not move, no Deployment adopted the pods.
    assert formation(kube, namespace)["metadata"]["generation"] == f["metadata"]["generation"]
    assert len(live_pods(kube, namespace, "web")) == 2
    stopped = dyno(namespace, "ps:stop", "run.1")
    assert stopped.err == "Stopping dyno run.1 on ⬢ shop... done\n"
    eventually(lambda: get(kube, Job, "shop-run-1", namespace) is None, what="run.1's Job gone")
    # Heroku's restart of a one-off dyno ends it: one-off dynos never restart.
    restarted = dyno(namespace, "ps:restart", "run.2")
    assert restarted.err == (
        "Restarting dyno run.2 on ⬢ shop... done\n"
        "One-off dynos never restart: stopped, not started again.\n"
    )
    eventually(lambda: get(kube, Job, "shop-run-2", namespace) is None, what="run.2's Job gone")


def test_an_attached_run_is_deleted_when_attaching_fails(
    operator, installed, kube: Client, namespace: str
) -> None:
    # No kubelet here, so `kubectl attach` cannot connect: what is left to check is that the
    # one-off pod started, the failure is reported, and nothing is left behind.
    create(installed, namespace)
    result = subprocess.run(
        [sys.executable, "-m", "dynoform.cli", "-n", namespace, "-a", "shop", "run", "bash"],
        env=installed.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Running bash on ⬢ shop... up, run.1 (Standard-1X)" in result.stderr
    assert "Could not attach to the run (kubectl attach exited 1); it was deleted." in result.stderr
    pod = get(kube, Pod, "shop-run-1", namespace)
    assert pod is None or pod["metadata"].get("deletionTimestamp")


def test_logs_report_each_dynos_failure_without_a_kubelet(
    operator, installed, kube: Client, namespace: str
) -> None:
    # The request reaches the API server, which cannot dial a kwok node: each dyno says so.
    create(installed, namespace)
    wait_ready(kube, namespace)
    result = dyno(namespace, "logs", "-p", "web")
    assert result.code == 1
    assert [line.split(":")[0] for line in result.err.splitlines()] == [
        " !    web.1",
        " !    web.2",
    ]
