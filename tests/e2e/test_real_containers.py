"""The Helm-installed operator at work on real containers, as a user sees it.

On a local cluster of their own (one real node beside the kwok nodes; no other operator in it),
the chart is installed with the operator's image built here (charts/dynoform/ci/
local-cluster-values.yaml), then the sample app of examples/sample-app is applied: a Procfile app
whose web process serves HTTP on $PORT, a worker and a clock that log, and a release command.
Every check goes through the clients a user has: kubectl (port-forward, wait), helm, the `dyno`
CLI, and containerd's `ctr` on the node for a crash. Nothing dials a Pod or Service IP from the
host: the web page comes through `kubectl port-forward` on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster import netns, node
from localcluster.cluster import LocalCluster
from localcluster.operator import ROOT, wait_for_admission, wait_for_catalog
from localcluster.pytest_plugin import ClusterHandle
from localcluster.scrape import scrape

RELEASE, NS = "dynoform", "dynoform-system"
VALUES = ROOT / "charts" / "dynoform" / "ci" / "local-cluster-values.yaml"
HELLO = ROOT / "examples" / "sample-app" / "hello.yaml"
IMAGE = "localhost/dynoform/sample-app"
DYNO = str(Path(sys.executable).parent / "dyno")
TIMEOUT = "120s"


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHandle]:
    """A cluster of its own with the chart installed and the sample app Ready."""
    local = LocalCluster(tmp_path_factory.mktemp("real") / "cluster").start()
    try:
        tools = [str(local.kubectl.parent), str(local.helm.parent)]
        handle = ClusterHandle(str(local.kubeconfig), "local", tools, local)
        local.load_images(["operator", "sample-app"])
        handle.helm(
            "install", RELEASE, str(ROOT / "charts" / "dynoform"), "-n", NS, "--create-namespace",
            "-f", str(VALUES), "--wait", "--timeout", TIMEOUT,
        )  # fmt: skip
        wait_for_admission(handle.kubectl)  # Formation writes served, the policies in force
        wait_for_catalog(handle.kubectl)  # real-1x, from the chart's values, known to admission
        handle.kubectl("apply", "-f", str(HELLO))
        wait_ready(handle, "hello")
        yield handle
    finally:
        local.stop()


def wait_ready(cluster: ClusterHandle, name: str) -> None:
    gen = cluster.kubectl("get", "formation", name, "-o", "jsonpath={.metadata.generation}").stdout
    cluster.kubectl(
        "wait", f"--for=jsonpath={{.status.observedGeneration}}={gen}", "--timeout", TIMEOUT,
        f"formation/{name}",
    )  # fmt: skip
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout", TIMEOUT, f"formation/{name}")


def get_json(cluster: ClusterHandle, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def dyno(
    cluster: ClusterHandle, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DYNO, args[0], "-a", "hello", *args[1:]], input=input, capture_output=True, text=True,
        env=cluster.env(), timeout=180, check=False,
    )  # fmt: skip


def pods(cluster: ClusterHandle, formation: str, ptype: str) -> list[dict[str, Any]]:
    selector = f"dyno.dev/formation={formation},dyno.dev/process-type={ptype}"
    items: list[dict[str, Any]] = get_json(cluster, "pods", "-l", selector)["items"]
    return items


# --- the operator, installed by the chart ---------------------------------------------------


def test_the_chart_runs_two_operator_replicas_on_the_real_node_and_one_leads(
    real: ClusterHandle,
) -> None:
    operators = get_json(real, "pods", "-n", NS, "-l", "app.kubernetes.io/name=dynoform")["items"]
    assert len(operators) == 2
    for pod in operators:
        spec = pod["spec"]
        assert spec["nodeName"] == node.NODE_NAME
        assert spec["serviceAccountName"] == RELEASE
        assert spec["securityContext"]["runAsUser"] == 65532
        assert spec["containers"][0]["image"] == "localhost/dynoform/operator:0.1.0"
        assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True"  # its readiness probe passed: kopf's /healthz answers
    real.kubectl(
        "wait", "-n", NS, "--for=jsonpath={.spec.holderIdentity}", "--timeout", "60s",
        f"lease/{RELEASE}",
    )  # fmt: skip
    holder = get_json(real, "lease", "-n", NS, RELEASE)["spec"]["holderIdentity"]
    assert holder.split("_")[0] in {p["metadata"]["name"] for p in operators}


def test_every_operator_replica_serves_its_metrics_and_exactly_one_leads(
    real: ClusterHandle,
) -> None:
    """The chart's metrics port, scraped from each replica through `kubectl port-forward` (and
    the metrics Service): one leader, and both replicas report the Formations they watch."""
    operators = get_json(real, "pods", "-n", NS, "-l", "app.kubernetes.io/name=dynoform")["items"]
    scrapes = []
    for pod in operators:
        with port_forward(real, f"pod/{pod['metadata']['name']}", 8081, NS) as port:
            scrapes.append(scrape(f"http://127.0.0.1:{port}/metrics"))
    assert sorted(s.value("dynoform_leader") for s in scrapes) == [0, 1]
    for taken in scrapes:
        assert taken.total("dynoform_build_info", version="0.1.0") == 1
        ready = taken.value(
            "dynoform_formations", namespace="default", ready="True", reason="DynosAvailable"
        )
        assert ready == 1  # the sample app, on the standby too (from its watch)
    with port_forward(real, f"svc/{RELEASE}-metrics", 8081, NS) as port:
        assert scrape(f"http://127.0.0.1:{port}/metrics").total("dynoform_build_info") == 1


BAD = (
    "apiVersion: dyno.dev/v1alpha1\nkind: Formation\nmetadata: {name: bad}\n"
    "spec: {image: x:1, processes: {web: {command: a, quantity: 3, size: eco}}}\n"
)


def test_the_api_server_judges_and_stamps_formations_itself(real: ClusterHandle) -> None:
    refused = real.kubectl("apply", "-f", "-", input=BAD, check=False)
    assert refused.returncode == 1
    assert "ValidatingAdmissionPolicy 'catalog.formations.dyno.dev'" in refused.stderr
    assert "Cannot run more than 1 Eco dyno per process type (web=3)" in refused.stderr
    # The stamp on the sample app came from the MutatingAdmissionPolicy: who made it.
    history = get_json(real, "formation", "hello")["status"]["history"]
    assert history[0]["by"] == "admin"
    # No webhook: the API server dialled nothing for admission.
    assert get_json(real, "mutatingwebhookconfigurations")["items"] == []
    assert get_json(real, "validatingwebhookconfigurations")["items"] == []


# --- the sample app's dynos -----------------------------------------------------------------


def test_the_web_dyno_answers_http_on_its_port(real: ClusterHandle) -> None:
    with (
        port_forward(real, "svc/hello-web", 80) as port,
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response,
    ):
        body = response.read().decode()
    (web,) = pods(real, "hello", "web")
    assert body == f"Hello from {web['metadata']['name']} (real-1x)\n"


def test_dyno_logs_tail_streams_lines_of_web_and_worker(real: ClusterHandle) -> None:
    seen: set[str] = set()
    with subprocess.Popen(
        [DYNO, "logs", "-a", "hello", "--tail", "--num", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=real.env(),
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        try:
            deadline = time.monotonic() + 60
            for line in proc.stdout:  # a line arrives every second: the worker's job
                seen |= set(re.findall(r" app\[((?:web|worker|clock)\.1)\]: ", line))
                if {"web.1", "worker.1"} <= seen or time.monotonic() > deadline:
                    break
        finally:
            proc.send_signal(signal.SIGINT)
    assert {"web.1", "worker.1"} <= seen


def test_an_attached_run_gets_its_input_and_returns_its_exit_code(real: ClusterHandle) -> None:
    program = "import os, sys\nprint('2 + 2 =', 2 + 2, 'in', os.environ['DYNO'])\nsys.exit(3)\n"
    result = dyno(real, "run", "-s", "real-1x", "-x", "--no-tty", "--", "python3", input=program)
    assert result.returncode == 3, result.stderr
    started = re.search(r"up, run\.(\d+) \(Real-1X\)", result.stderr)
    assert started is not None, result.stderr
    assert result.stdout == f"2 + 2 = 4 in run.{started.group(1)}\n"
    # One-off dynos never linger.
    real.kubectl("wait", "--for=delete", f"pod/hello-run-{started.group(1)}", "--timeout", TIMEOUT)


def test_ps_restart_web_replaces_its_dyno_with_a_new_one(real: ClusterHandle) -> None:
    (before,) = pods(real, "hello", "web")
    result = dyno(real, "ps:restart", "web")
    assert result.returncode == 0, result.stderr
    # Gone well within the 30 s grace: its process heard SIGTERM (as PID 1, exec'd by the shell)
    # and stopped, rather than being killed at the end of the grace.
    real.kubectl("wait", "--for=delete", f"pod/{before['metadata']['name']}", "--timeout", "25s")
    wait_ready(real, "hello")
    (after,) = pods(real, "hello", "web")
    assert after["metadata"]["name"] != before["metadata"]["name"]
    assert after["status"]["containerStatuses"][0]["state"]["running"]
    assert re.search(r"^web\.1: up .* on real-zone-a-1$", dyno(real, "ps", "web").stdout, re.M)


def test_a_killed_container_is_restarted_and_dyno_ps_shows_the_restart(
    real: ClusterHandle,
) -> None:
    (worker,) = pods(real, "hello", "worker")
    container = worker["status"]["containerStatuses"][0]["containerID"]
    assert real.local is not None
    ctr = ["-m", "localcluster", "--state-dir", str(real.local.state_dir), "ctr"]
    subprocess.run(
        [sys.executable, *ctr, "tasks", "kill", "--signal", "SIGKILL",
         container.removeprefix("containerd://")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    pod = f"pod/{worker['metadata']['name']}"
    real.kubectl("wait", "--for=jsonpath={.status.containerStatuses[0].restartCount}=1", pod)
    real.kubectl("wait", "--for=condition=Ready", "--timeout", TIMEOUT, pod)
    line = dyno(real, "ps", "worker").stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"worker\.1: up .* on real-zone-a-1, 1 restart", line), line


# --- the release phase and readiness, for real ----------------------------------------------


def formation(name: str, web: str, release: str | None, image: str = f"{IMAGE}:1") -> str:
    text = (
        f"apiVersion: dyno.dev/v1alpha1\nkind: Formation\nmetadata: {{name: {name}}}\n"
        f"spec:\n  image: {image}\n"
        f"  processes: {{web: {{command: '{web}', quantity: 1, size: real-1x}}}}\n"
    )
    if release:
        text += f"  release: {{command: '{release}', size: real-1x}}\n"
    return text


def test_a_failing_release_command_keeps_every_dyno_on_the_released_image(
    real: ClusterHandle,
) -> None:
    real.kubectl("apply", "-f", "-", input=formation("rel", "python3 web.py", "python3 release.py"))
    wait_ready(real, "rel")  # exit 0: the release went, the dynos run :1
    assert real.local is not None
    tag = ["-m", "localcluster", "--state-dir", str(real.local.state_dir), "ctr", "images", "tag"]
    subprocess.run(
        [sys.executable, *tag, "--force", f"{IMAGE}:1", f"{IMAGE}:2"], check=True, timeout=30
    )
    failing = formation(
        "rel", "python3 web.py", "MIGRATION_FAILS=1 python3 release.py", f"{IMAGE}:2"
    )
    real.kubectl("apply", "-f", "-", input=failing)
    real.kubectl(
        "wait", "--for=jsonpath={.status.conditions[?(@.type=='Released')].reason}=ReleaseFailed",
        "--timeout", TIMEOUT, "formation/rel",
    )  # fmt: skip
    status = get_json(real, "formation", "rel")["status"]
    released = next(c for c in status["conditions"] if c["type"] == "Released")
    assert released["message"].endswith(
        "The command ended with exit 1; its last lines:\nRunning migrations...\n"
        "migration 0042_add_index failed: relation orders does not exist"
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ReleaseFailed")
    (web,) = pods(real, "rel", "web")
    assert web["spec"]["containers"][0]["image"] == f"{IMAGE}:1"
    deployment = get_json(real, "deployment", "rel-web")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:1"


def test_a_web_dyno_that_does_not_bind_its_port_is_never_ready_and_status_says_so(
    real: ClusterHandle,
) -> None:
    real.kubectl("apply", "-f", "-", input=formation("deaf", "python3 worker.py", None))
    message = "web: 0/1 available (1 dyno runs but does not answer on $PORT 5000 yet)"
    real.kubectl(
        "wait", f"--for=jsonpath={{.status.conditions[?(@.type=='Ready')].message}}="
        f"Waiting for dynos: {message}", "--timeout", TIMEOUT, "formation/deaf",
    )  # fmt: skip
    (web,) = pods(real, "deaf", "web")
    # The kubelet really probed it and was refused: its own Event says so.
    events = get_json(
        real, "events", "--field-selector", f"involvedObject.name={web['metadata']['name']}"
    )["items"]
    assert any(
        e["reason"] == "Unhealthy" and "connection refused" in e["message"] for e in events
    ), events
    assert web["status"]["phase"] == "Running"
    ready = {c["type"]: c["status"] for c in web["status"]["conditions"]}
    assert ready["Ready"] == "False"


# --- the network rule -------------------------------------------------------------------------


def test_nothing_on_the_node_dials_outside_its_namespace(real: ClusterHandle) -> None:
    assert real.local is not None
    layout = real.local.node
    routes = subprocess.run(
        ["ip", "-n", layout.netns, "route", "show", "table", "main"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "default" not in routes  # no way out: a dial elsewhere fails at once
    inside = {node.NODE_IP, "10.96.0.1"}
    subnet = ipaddress.ip_network(node.POD_SUBNET)
    for peer in tcp_peers(layout.netns):
        address = ipaddress.ip_address(peer)
        assert address.is_loopback or peer in inside or address in subnet, peer


WORKERS_2 = '{"spec":{"processes":{"worker":{"quantity":2}}}}'
AS_WEBHOOK_USER = ("--as=webhook-user", "--as-group=system:masters")


def test_the_optional_webhook_is_served_in_cluster_through_the_node_proxy(
    real: ClusterHandle,
) -> None:
    """The fallback for clusters without MutatingAdmissionPolicy: the chart's webhook, served
    by the operator pods and called by the API server inside the network rule."""
    real.helm(
        "upgrade", RELEASE, str(ROOT / "charts" / "dynoform"), "-n", NS, "-f", str(VALUES),
        "--set", "webhooks.enabled=true", "--set", "admission.stampPolicy=false",
        "--wait", "--timeout", TIMEOUT,
    )  # fmt: skip
    assert get_json(real, "mutatingadmissionpolicies")["items"] == []
    scale = ("patch", "formation/hello", "--type=merge", "-p", WORKERS_2, *AS_WEBHOOK_USER)

    def stamped(result: subprocess.CompletedProcess[str]) -> str | None:
        return dict(json.loads(result.stdout)["metadata"].get("annotations") or {}).get(
            "dyno.dev/changed-by"
        )

    # Until the API server has the new configuration and an operator pod answers it.
    deadline = time.monotonic() + 60
    while stamped(real.kubectl(*scale, "--dry-run=server", "-o", "json")) != "webhook-user":
        assert time.monotonic() < deadline, "the webhook never stamped a scale"
    assert stamped(real.kubectl(*scale, "-o", "json")) == "webhook-user"
    # The call reached an operator pod by its IP inside the node's namespace (aggregator
    # routing), through the egress Unix socket: never a Service IP, never from the host.
    assert real.local is not None
    log = (real.local.layout.logs / "nodeproxy.log").read_text()
    targets = set(re.findall(r"CONNECT (10\.88\.\d+\.\d+):9443", log))
    operator_ips = {
        p["status"]["podIP"]
        for p in get_json(real, "pods", "-n", NS, "-l", "app.kubernetes.io/name=dynoform")["items"]
    }
    assert targets
    assert targets <= operator_ips


def tcp_peers(namespace: str) -> set[str]:
    """The peer addresses of every TCP connection in the namespace."""
    out = subprocess.run(
        ["ip", "netns", "exec", namespace, "ss", "-tnH"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[4].rpartition(":")[0].strip("[]") for line in out.splitlines()}


# --- helpers ------------------------------------------------------------------------------------


def started(pid: int) -> str | None:
    """The start time of a live process (None when it is gone or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


class port_forward:
    """`kubectl port-forward TARGET :PORT`; yields the local port once kubectl says it listens."""

    def __init__(self, cluster: ClusterHandle, target: str, port: int, namespace: str = "") -> None:
        self.argv = ["kubectl", "port-forward", target, f":{port}", "--address", "127.0.0.1"]
        self.argv += ["-n", namespace] if namespace else []
        self.env = cluster.env()

    def __enter__(self) -> int:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "Forwarding from 127.0.0.1:NNNN -> 5000"
        match = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) ->", line)
        if match is None:
            self.proc.kill()
            raise AssertionError(f"kubectl port-forward: {line}{self.proc.stdout.read()}")
        return int(match.group(1))

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_stopping_a_cluster_ends_its_containers_and_leaves_nothing_of_the_node(
    tmp_path: Path,
) -> None:
    local = LocalCluster(tmp_path / "cluster").start()
    layout = local.node
    try:
        handle = ClusterHandle(str(local.kubeconfig), "local", [str(local.kubectl.parent)], local)
        pod = (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: sleeper}\nspec:\n"
            f"  nodeSelector: {{{node.LABEL}: real}}\n"
            f"  tolerations: [{{key: {node.TAINT}, operator: Exists}}]\n"
            f"  containers: [{{name: pause, image: '{node.PAUSE_IMAGE}'}}]\n"
        )
        handle.kubectl("apply", "-f", "-", input=pod)
        handle.kubectl("wait", "--for=condition=Ready", "--timeout", TIMEOUT, "pod/sleeper")
        running = {pid: started(pid) for pid in node.node_pids(layout)}
        assert len(running) >= 5  # containerd, the kubelet, a shim, the sandbox, the container
    finally:
        local.stop()
    # Gone, or a zombie that init has not reaped yet (the same pid, the same start time).
    assert not [pid for pid, when in running.items() if started(pid) == when]
    assert not netns.exists(layout.netns)
    cgroups = node.hierarchies(node.EVERY_HIERARCHY)
    assert not any((h / layout.cgroup.lstrip("/")).exists() for h in cgroups)
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(layout.files) not in mounts
    assert str(layout.run) not in mounts
    assert not [
        link
        for link in node.CONTAINER_LOG_LINKS.glob("sleeper_*")
        if str(layout.pod_logs) in str(link.readlink())
    ]
