"""Heroku's own clients against the Platform API server, changing the cluster as they would
change a Heroku app: the official `heroku` CLI from npm, and Heroku's Node API client
(`heroku-client`), each installed by the test setup (hack/install-npm-package.sh, pinned).

The CLI runs with a home and cache of its own, no update check and no telemetry; the API key is
a ServiceAccount's token. What the CLI sent is in the server's log (printed at the end).
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client

from dynoform.runtime.resources import generic
from tests.factories import formation_body
from tests.kubehelp import Deployment, Formation, Pod, apply_yaml, eventually, get
from tests.platform_api import (
    HEROKU_CLI,
    HEROKU_CLIENT,
    User,
    api_server,
    heroku_env,
    make_user,
    npm_package,
)

Job = generic("batch", "v1", "Job", "jobs")
HERE = Path(__file__).parent
RESTARTED = "kubectl.kubernetes.io/restartedAt"


@pytest.fixture(scope="module")
def heroku_bin() -> Path:
    return npm_package(HEROKU_CLI) / "node_modules" / ".bin" / "heroku"


@pytest.fixture
def setup(installed, namespace: str, tmp_path: Path) -> Iterator[tuple[str, User]]:
    user = make_user(installed.kubectl, namespace, "dev")
    apply_yaml(installed.kubectl, formation_body("shop", namespace))
    log = tmp_path / "api.log"
    with api_server(installed.kubeconfig, namespace, log) as url:
        yield url, user
    print(f"\n--- requests the clients made ---\n{_requests(log)}")


def _requests(log: Path) -> str:
    return "".join(line for line in log.read_text().splitlines(True) if "server.access" in line)


def _pods(kube: Client, namespace: str, ptype: str) -> set[str]:
    labels = {"dyno.dev/formation": "shop", "dyno.dev/process-type": ptype}
    pods = kube.list(Pod, namespace=namespace, labels=labels)
    return {p["metadata"]["uid"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def _processes(kube: Client, namespace: str) -> dict[str, tuple[int, str]]:
    f = get(kube, Formation, "shop", namespace)
    assert f is not None
    procs = f["spec"]["processes"]
    return {t: (p.get("quantity"), p.get("size", "standard-1x")) for t, p in procs.items()}


def test_the_heroku_cli_drives_the_cluster(
    operator, kube: Client, namespace: str, setup, heroku_bin: Path, tmp_path: Path
) -> None:
    url, user = setup
    env = heroku_env(tmp_path / "home", url, user.token)

    def heroku(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(heroku_bin), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"heroku {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result

    eventually(lambda: len(_pods(kube, namespace, "web")) == 2, timeout=60, what="2 web dynos")
    assert heroku("auth:whoami").stdout.strip() == user.name

    shown = heroku("ps", "-a", "shop").stdout
    assert "=== web (Standard-1X): bundle exec puma -p $PORT (2)" in shown
    assert re.search(r"^web\.1: (up|starting) ", shown, re.MULTILINE), shown

    scaled = heroku("ps:scale", "web=3:Standard-2X", "worker+1", "-a", "shop")
    assert "now running web at 3:Standard-2X, worker at 2:Standard-1X" in scaled.stderr
    assert _processes(kube, namespace)["web"] == (3, "standard-2x")
    assert _processes(kube, namespace)["worker"] == (2, "standard-1x")
    heroku("ps:scale", "worker-1", "-a", "shop")
    assert _processes(kube, namespace)["worker"][0] == 1
    assert heroku("ps:scale", "-a", "shop").stdout.strip() == (
        "clock=1:Standard-1X web=3:Standard-2X worker=1:Standard-1X"
    )
    eventually(
        lambda: get(kube, Deployment, "shop-web", namespace)["spec"]["replicas"] == 3,  # type: ignore[index]
        timeout=60,
        what="shop-web at 3 replicas",
    )

    typed = heroku("ps:type", "worker=performance-m", "-a", "shop")
    assert re.search(r"worker\s+Performance-M\s+1", typed.stdout), typed.stdout
    assert _processes(kube, namespace)["worker"] == (1, "performance-m")

    heroku("ps:restart", "--process-type", "web", "-a", "shop")
    web = get(kube, Deployment, "shop-web", namespace)
    assert RESTARTED in web["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]
    eventually(lambda: len(_pods(kube, namespace, "clock")) == 1, timeout=60, what="a clock dyno")
    clock = _pods(kube, namespace, "clock")
    heroku("ps:restart", "--dyno-name", "clock.1", "-a", "shop")
    eventually(
        lambda: (now := _pods(kube, namespace, "clock")) and not now & clock,
        timeout=60,
        what="clock.1 replaced",
    )
    heroku("ps:restart", "-a", "shop")
    worker = get(kube, Deployment, "shop-worker", namespace)
    assert RESTARTED in worker["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]

    clock = _pods(kube, namespace, "clock")
    heroku("ps:stop", "--process-type", "clock", "-a", "shop")
    eventually(
        lambda: not _pods(kube, namespace, "clock") & clock, timeout=60, what="clock stopped"
    )

    run = heroku("run:detached", "-a", "shop", "--size", "standard-2x", "--", "rake", "db:migrate")
    assert "run.1" in run.stdout + run.stderr
    job = get(kube, Job, "shop-run-1", namespace)
    assert job is not None
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][-1] == "rake db:migrate"

    info = heroku("apps:info", "-a", "shop").stdout
    assert "=== shop" in info
    assert re.search(rf"Owner:\s+{namespace}", info), info
    assert re.search(r"Stack:\s+container", info), info


def test_herokus_node_client_scales_and_pages(
    operator, kube: Client, namespace: str, setup
) -> None:
    url, user = setup
    modules = npm_package(HEROKU_CLIENT) / "node_modules"
    script = HERE / "heroku_client.mjs"
    result = subprocess.run(
        ["node", str(script), str(modules), url, user.token, "shop"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["types"] == ["clock", "web", "worker"]
    assert seen["scaled"] == [["web", 3, "Standard-2X"]]
    assert seen["web"] == [3, "Standard-2X"]
    assert seen["sizes"] >= 9
    assert seen["email"] == user.name
    assert seen["refused"]["status"] == 422
    assert seen["refused"]["body"]["id"] == "invalid_params"
    assert _processes(kube, namespace)["web"] == (3, "standard-2x")
    uuid.UUID(str(get(kube, Formation, "shop", namespace)["metadata"]["uid"]))  # type: ignore[index]
