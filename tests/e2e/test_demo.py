"""`make demo`, the README's first command, does what it says, on a cluster of its own: the
operator installed with Helm runs in the cluster, the example app spreads 2 web dynos per zone
after the scale, and the sample app runs for real: its page, its logs, a run, a restart, a crash
and a failed release; the chart's Platform API and Dashboard answer a user's token and scale a
real dyno; each step showing what a user would see."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from localcluster.operator import ROOT
from localcluster.processes import free_port


def test_make_demo_installs_the_operator_and_runs_both_apps(tmp_path: Path) -> None:
    state = tmp_path / "cluster"
    env_vars = {
        "DYNOFORM_CLUSTER_STATE": str(state),
        "DYNOFORM_DEMO_PORT": str(free_port()),
        "DYNOFORM_DEMO_API_PORT": str(free_port()),
    }
    env = {**_clean_env(), **env_vars, "PY": sys.executable}
    try:
        result = subprocess.run(
            ["bash", str(ROOT / "hack" / "demo.sh")],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        subprocess.run(
            [sys.executable, "-m", "localcluster", "--state-dir", str(state), "down"],
            env=env, cwd=ROOT, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    steps = dict(re.findall(r"==> (.*?)\x1b\[0m\n(.*?)(?=\n\x1b\[1m==> |\Z)", out, re.S))

    def step(prefix: str) -> str:
        return next(text for title, text in steps.items() if title.startswith(prefix))

    assert re.search(r"^real-zone-a-1\s+Ready\s.*zone-a\s+real$", step("Starting"), re.M)
    helm = step("Installing the operator with Helm")
    operators = re.findall(r"^dynoform-(?!api-)\S+\s+1/1\s+Running\s.*real-zone-a-1", helm, re.M)
    assert len(operators) == 2, helm
    assert re.search(r"^dynoform-api-\S+\s+1/1\s+Running\s.*real-zone-a-1", helm, re.M), helm
    assert re.search(r"^leader: dynoform-", helm, re.M)

    before, after = step("Applying examples/shop.yaml"), step("Scaling web to 6")
    assert re.search(
        r"shop\s+clock=1:standard-1x web=3:standard-2x worker=2:standard-1x\s+True", before
    )
    assert re.search(
        r"shop\s+clock=1:standard-1x web=6:standard-2x worker=2:standard-1x\s+True", after
    )
    web_per_zone = dict(re.findall(r"^\s+(zone-[abc])\s+web\s+(\d+) dynos?$", after, re.M))
    assert web_per_zone == {"zone-a": "2", "zone-b": "2", "zone-c": "2"}, after
    assert "Scale to clock=1, web=6, worker=2 by admin" in after

    hello = step("A real app on the real node")
    assert re.search(r"hello\s+clock=1:real-1x web=1:real-1x worker=1:real-1x\s+True", hello)
    assert re.search(r"^web\.1: up .* in zone-a on real-zone-a-1$", hello, re.M)
    assert re.match(r"Hello from hello-web-\S+ \(real-1x\)$", step("Its web dyno answers"))
    logs = step("dyno logs --tail")
    assert re.search(r"^\S+ app\[web\.1\]: ", logs, re.M)
    assert re.search(r"^\S+ app\[worker\.1\]: hello-worker-\S+ processed job \d+$", logs, re.M)
    run = step("dyno run")
    assert "2 + 2 = 4\nexit code: 3" in run
    assert re.search(r"^web\.1: up .* on real-zone-a-1$", step("dyno ps:restart web"), re.M)
    assert re.search(r"^worker\.1: up .* on real-zone-a-1, 1 restart$", step("A crash"), re.M)
    failed = step("A failed release")
    assert "migration 0042_add_index failed: relation orders does not exist" in failed
    assert (
        re.findall(r"^hello-\w+\s+(\S+)$", failed, re.M) == ["localhost/dynoform/sample-app:1"] * 3
    )
    served = step("The Platform API and the Dashboard")
    # In the API's order: by id, as Heroku's default Range (ids are derived from the app's uid).
    assert sorted(re.findall(r"^  (\w+): (\d+) x (\S+)$", served, re.M)) == [
        ("clock", "1", "Real-1X"),
        ("web", "1", "Real-1X"),
        ("worker", "1", "Real-1X"),
    ], served
    assert "Dashboard: Signed in as system:serviceaccount:default:demo-user" in served
    assert "Scaled hello.default: worker=2." in served
    workers = re.findall(r"^worker\.(\d): up .* on real-zone-a-1", served, re.M)
    assert sorted(workers) == ["1", "2"], served
    assert "Tear down: make down" in out


def _clean_env() -> dict[str, str]:
    """The test session's environment without its KUBECONFIG: the demo makes its own cluster."""
    return {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
