"""The chart installed, then the operator run from source under the chart's ServiceAccount: a
token from `kubectl create token` is all it has, so a Formation turning Ready proves the chart's
RBAC is enough, and a forbidden action proves it is not more. It runs with leader election on
the chart's Lease (as the chart's Deployment does), so taking the Lease before reconciling
anything proves the leader-election Role in the release namespace is enough too. Then GitOps as
Argo CD and Flux see it: server-side apply is a no-op on a reconciled Formation, `kubectl diff`
is empty, `kubectl wait` and Flux's kstatus read the status, and the chart's Argo CD health
check (the very Lua file) judges real statuses.

Each scenario runs on a control plane of its own: the session's may have the test operator
running, and two operators over one Formation would prove nothing. The chart is installed with
no webhook (admission is the API server's own policies): nothing may dial a Service IP here.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from localcluster import binaries
from localcluster.cluster import LocalCluster
from localcluster.operator import ROOT, wait_for_admission, wait_for_catalog
from localcluster.processes import free_port
from tests.factories import formation_body
from tests.kubehelp import eventually
from tests.unit.test_chart_render import CHART

RELEASE, RELEASE_NS = "dynoform", "dynoform-system"
SERVICE_ACCOUNT = LEASE = "dynoform"  # the release's full name
HEALTH_LUA = CHART / "health" / "formation.lua"


@dataclass
class Shell:
    """kubectl and helm against one cluster, as a given identity."""

    env: dict[str, str]

    def run(
        self, *argv: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, env=self.env, timeout=120,
            check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr}")
        return result

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", *args, input=input, check=check)

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


class SourceOperator:
    """`python -m dynoform` from this checkout, with a kubeconfig of the chart's identity and the
    chart's leader-election flags (the Deployment's `$(POD_NAMESPACE)` is the release's)."""

    def __init__(self, kubeconfig: Path, log: Path, *flags: str) -> None:
        self.port = free_port()
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1"}
        argv = [
            sys.executable, "-m", "dynoform", "--resync", "2", "--leader-elect",
            "--lease-namespace", RELEASE_NS, "--lease-name", LEASE,
            "--liveness", f"http://127.0.0.1:{self.port}/healthz", *flags,
        ]  # fmt: skip
        self.log = log
        self.proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        eventually(self._alive, timeout=30, interval=0.2, what="the operator's liveness endpoint")

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the operator exited {self.proc.returncode}:\n{self.text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def problems(self) -> list[str]:
        """Permission errors and tracebacks: a run under sufficient RBAC has none."""
        bad = ("Forbidden", "forbidden", " 403", "Traceback", " ERROR ")
        return [ln for ln in self.text().splitlines() if any(b in ln for b in bad)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Install:
    admin: Shell
    operator_shell: Shell  # kubectl as the chart's ServiceAccount
    operator: SourceOperator
    watched: list[str]


def _token_kubeconfig(admin: Shell, local: LocalCluster, path: Path) -> Path:
    token = admin.kubectl(
        "create", "token", SERVICE_ACCOUNT, "-n", RELEASE_NS, "--duration=2h"
    ).stdout.strip()
    ca = yaml.safe_load(local.kubeconfig.read_text())["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": ca}],
        "users": [{"name": "dynoform", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "local", "user": "dynoform"}}],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def kstatus() -> Path:
    return binaries.ensure(["kstatus"]).path("kstatus")


def _install(tmp: Path, watched: list[str]) -> Iterator[Install]:
    with LocalCluster(tmp / "cluster") as local:
        admin = Shell(local.env())
        for ns in [RELEASE_NS, *watched]:
            admin.kubectl("create", "namespace", ns)
        values: list[str] = []
        if watched:
            values += ["--set", "watchNamespaces={" + ",".join(watched) + "}"]
        admin.run("helm", "install", RELEASE, str(CHART), "-n", RELEASE_NS, *values, "--wait")
        # The chart's CRDs, sizes and policies in force (the API server takes a moment).
        wait_for_admission(admin.kubectl)
        kubeconfig = _token_kubeconfig(admin, local, tmp / "sa-kubeconfig.yaml")
        flags = [f"--namespace={ns}" for ns in watched]
        operator = SourceOperator(kubeconfig, tmp / "operator.log", *flags)
        try:
            yield Install(
                admin, Shell({**local.env(), "KUBECONFIG": str(kubeconfig)}), operator, watched
            )
        finally:
            operator.stop()
            print(f"\n--- operator log tail ---\n{operator.text()[-3000:]}")


@pytest.fixture(scope="module")
def clusterwide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    """The default chart (cluster-wide, leader election) and the operator under its identity."""
    yield from _install(tmp_path_factory.mktemp("helm-clusterwide"), [])


def _lease_body(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"holderIdentity": "someone", "leaseDurationSeconds": 10},
    }


def _apply(
    shell: Shell, body: dict[str, Any], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return shell.kubectl("apply", "-f", "-", *args, input=yaml.safe_dump(body), check=check)


def _formation(shell: Shell, namespace: str, name: str) -> dict[str, Any]:
    return dict(shell.get("formation", name, "-n", namespace))


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _wait_for(
    shell: Shell, namespace: str, name: str, ctype: str, status: str, reason: str = ""
) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        obj = _formation(shell, namespace, name)
        cond = _conditions(obj).get(ctype)
        gen = obj["metadata"]["generation"]
        observed = (obj.get("status") or {}).get("observedGeneration") == gen
        if cond and cond["status"] == status and reason in cond["reason"] and observed:
            return obj
        return None

    return eventually(settled, timeout=60, interval=0.3, what=f"{name} {ctype}={status} {reason}")


# --- The chart's identity is enough, and no more ---------------------------------------------


def _scenario(install: Install, namespace: str) -> None:
    _apply(install.admin, formation_body(name="shop", namespace=namespace))
    done = install.admin.kubectl(
        "wait", "--for=condition=Ready", "--timeout=120s", "-n", namespace, "formation/shop"
    )
    assert "condition met" in done.stdout
    deployments = install.admin.get("deployments", "-n", namespace)["items"]
    ready = {d["metadata"]["name"]: d["status"].get("readyReplicas") for d in deployments}
    assert ready == {"shop-web": 2, "shop-worker": 1, "shop-clock": 1}


def _lease_holder(install: Install) -> str:
    """The holder of the chart's Lease, as the operator itself reads it (its Role allows it)."""
    lease = install.operator_shell.get("lease", LEASE, "-n", RELEASE_NS)
    return str(lease["spec"].get("holderIdentity") or "")


def test_a_formation_turns_ready_with_only_the_charts_permissions(clusterwide: Install) -> None:
    clusterwide.admin.kubectl("create", "namespace", "shop")
    _scenario(clusterwide, "shop")
    # It reconciled as the leader, on the chart's Lease in the release namespace.
    assert "Leading as" in clusterwide.operator.text()
    assert _lease_holder(clusterwide)
    assert clusterwide.operator.problems() == []


def test_the_charts_identity_may_not_read_secrets_or_delete_namespaces(
    clusterwide: Install,
) -> None:
    # Another controller's Lease in the release namespace: not the operator's to read or take.
    _apply(clusterwide.admin, _lease_body("someone-else", RELEASE_NS))
    denied: list[tuple[tuple[str, ...], str | None]] = [
        (("get", "secrets", "-n", RELEASE_NS), None),
        (("delete", "namespace", "default", "--wait=false"), None),
        (("create", "clusterrolebinding", "x", "--clusterrole=cluster-admin", "--user=me"), None),
        (("delete", "validatingadmissionpolicy", "formations.dyno.dev"), None),
        (("get", "lease", "someone-else", "-n", RELEASE_NS), None),
        (("get", "leases", "-n", RELEASE_NS), None),
        (("create", "-f", "-"), yaml.safe_dump(_lease_body(LEASE, "default"))),
        (("delete", "lease", LEASE, "-n", RELEASE_NS), None),
    ]
    for args, stdin in denied:
        result = clusterwide.operator_shell.kubectl(*args, input=stdin, check=False)
        assert result.returncode != 0, args
        assert "forbidden" in result.stderr.lower(), (args, result.stderr)
    # Only the operator's own verbs: it may read Formations, not edit their spec.
    patch = clusterwide.operator_shell.kubectl(
        "patch", "formation", "shop", "-n", "shop", "--type=merge", "-p", '{"spec":{}}', check=False
    )
    assert "Forbidden" in patch.stderr


def test_namespaced_install_serves_only_its_namespaces(tmp_path: Path) -> None:
    installed = _install(tmp_path, ["alpha", "beta"])
    install = next(installed)
    try:
        install.admin.kubectl("create", "namespace", "gamma")
        for ns in ("alpha", "beta"):
            _scenario(install, ns)
        _apply(install.admin, formation_body(name="shop", namespace="gamma"))
        denied = install.operator_shell.kubectl("get", "deployments", "-n", "gamma", check=False)
        assert "Forbidden" in denied.stderr
        # The chart's Lease, in the release namespace (not a watched one), held by it.
        assert _lease_holder(install)
        for ns in ("alpha", "beta", "gamma"):
            assert install.admin.get("leases", "-n", ns)["items"] == [], ns
        assert "status" not in _formation(install.admin, "gamma", "shop")  # not ours to touch
        assert install.operator.problems() == []
    finally:
        installed.close()


# --- GitOps -----------------------------------------------------------------------------------


def _lua_health(obj: dict[str, Any]) -> dict[str, str]:
    """The chart's Argo CD health check, run as Argo CD runs it (Lua 5.1, `obj` a global)."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(copy.deepcopy(obj), recursive=True)
    result = lua.execute(HEALTH_LUA.read_text())
    return {"status": str(result["status"]), "message": str(result["message"])}


def _kstatus(binary: Path, obj: dict[str, Any]) -> tuple[str, str]:
    out = subprocess.run(
        [str(binary)], input=json.dumps(obj), capture_output=True, text=True, check=True
    ).stdout.strip()
    status, _, message = out.partition("\t")
    return status, message


def test_server_side_apply_of_a_reconciled_formation_is_a_no_op_and_diff_is_empty(
    clusterwide: Install, tmp_path: Path
) -> None:
    ns = "gitops"
    clusterwide.admin.kubectl("create", "namespace", ns)
    manifest = tmp_path / "app.yaml"
    manifest.write_text(yaml.safe_dump(formation_body(name="app", namespace=ns)))
    apply = ("apply", "--server-side", "--field-manager=argocd", "-f", str(manifest))
    clusterwide.admin.kubectl(*apply)
    before = _wait_for(clusterwide.admin, ns, "app", "Ready", "True")
    again = clusterwide.admin.kubectl(*apply)
    assert "serverside-applied" in again.stdout
    after = _formation(clusterwide.admin, ns, "app")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    diff = clusterwide.admin.kubectl(
        "diff", "--server-side", "--field-manager=argocd", "-f", str(manifest), check=False
    )
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stdout + diff.stderr
    # The operator's fields are status only: nothing of its own in metadata or spec.
    shown = clusterwide.admin.get("formation", "app", "-n", ns, "--show-managed-fields")
    managers = {m["manager"]: m for m in shown["metadata"]["managedFields"]}
    spec_owners = {n for n, m in managers.items() if "f:spec" in json.dumps(m.get("fieldsV1"))}
    assert spec_owners == {"argocd"}
    assert managers["dynoform"]["subresource"] == "status"


def test_kubectl_wait_kstatus_and_argo_cd_read_a_ready_formation(
    clusterwide: Install, kstatus: Path
) -> None:
    ns = "ready"
    clusterwide.admin.kubectl("create", "namespace", ns)
    _apply(clusterwide.admin, formation_body(name="app", namespace=ns))
    waited = clusterwide.admin.kubectl(
        "wait", "--for=condition=Ready", "--timeout=120s", "-n", ns, "formation/app"
    )
    assert "condition met" in waited.stdout
    obj = _formation(clusterwide.admin, ns, "app")
    assert _kstatus(kstatus, obj) == ("Current", "Resource is Ready")
    assert _lua_health(obj) == {
        "status": "Healthy",
        "message": "clock=1:standard-1x web=2:standard-1x worker=1:standard-1x",
    }
    # The same object before the operator has seen a new generation (as right after a push).
    stale = copy.deepcopy(obj)
    stale["metadata"]["generation"] += 1
    assert _kstatus(kstatus, stale)[0] == "InProgress"
    assert _lua_health(stale)["status"] == "Progressing"
    assert _kstatus(kstatus, {k: v for k, v in obj.items() if k != "status"})[0] == "Current"
    assert _lua_health({k: v for k, v in obj.items() if k != "status"})["status"] == "Progressing"


def test_a_rollout_that_cannot_finish_is_in_progress_and_a_refused_spec_degraded(
    clusterwide: Install, kstatus: Path
) -> None:
    ns = "rolling"
    clusterwide.admin.kubectl("create", "namespace", ns)
    # A size whose nodes do not exist: its dynos stay Pending, the rollout never completes.
    _apply(clusterwide.admin, {
        "apiVersion": "dyno.dev/v1alpha1", "kind": "DynoSize", "metadata": {"name": "nowhere-1x"},
        "spec": {"tier": "standard", "requests": {"cpu": "100m", "memory": "128Mi"},
                 "limits": {"cpu": "1", "memory": "128Mi"}, "nodeSelector": {"pool": "none"}},
    })  # fmt: skip
    wait_for_catalog(clusterwide.admin.kubectl)  # the new size known to admission
    processes = {"web": {"command": "serve", "quantity": 2, "size": "nowhere-1x"}}
    _apply(clusterwide.admin, formation_body(name="pending", namespace=ns, processes=processes))
    pending = _wait_for(clusterwide.admin, ns, "pending", "Ready", "False", "RollingOut")
    assert _kstatus(kstatus, pending) == (
        "InProgress",
        _conditions(pending)["Ready"]["message"],
    )
    assert _lua_health(pending) == {
        "status": "Progressing",
        "message": "RollingOut: Waiting for dynos: web: 0/2 available",
    }
    wait = clusterwide.admin.kubectl(
        "wait", "--for=condition=Ready", "--timeout=2s", "-n", ns, "formation/pending", check=False
    )
    assert wait.returncode != 0

    # A spec the catalog no longer takes: an admin removes a size still in use (admission
    # refuses unknown sizes at apply time, so this is how one comes to be).
    _apply(clusterwide.admin, {
        "apiVersion": "dyno.dev/v1alpha1", "kind": "DynoSize", "metadata": {"name": "gone-1x"},
        "spec": {"tier": "standard", "requests": {"cpu": "100m", "memory": "128Mi"},
                 "limits": {"cpu": "1", "memory": "128Mi"}},
    })  # fmt: skip
    refused = {"web": {"command": "serve", "quantity": 1, "size": "gone-1x"}}
    body = formation_body(name="refused", namespace=ns, processes=refused)
    eventually(
        lambda: _apply(clusterwide.admin, body, check=False).returncode == 0,
        what="a Formation on the new size accepted",
    )
    clusterwide.admin.kubectl("delete", "dynosize", "gone-1x")
    obj = _wait_for(clusterwide.admin, ns, "refused", "Reconciled", "False", "UnknownSize")
    health = _lua_health(obj)
    assert health["status"] == "Degraded"
    assert health["message"].startswith("UnknownSize: No such size as gone-1x")
    assert _kstatus(kstatus, obj)[0] == "InProgress"  # kstatus: Ready=False, never Current
