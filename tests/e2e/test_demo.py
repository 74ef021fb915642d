"""`make demo`, the README's first command, does what it says: on a cluster of its own, the
example app turns Ready, and web scaled to 6 runs 2 dynos in each of the 3 zones."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from localcluster.cluster import LocalCluster
from tests.operator_fixture import ROOT, _free_port


@pytest.fixture
def own_cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    # Not the session's cluster: the demo starts an operator, and two would fight.
    with LocalCluster(tmp_path / "cluster") as local:
        yield local


def test_make_demo_spreads_web_two_per_zone_after_the_scale(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    state = tmp_path / "demo"
    env = {
        **own_cluster.env(),
        "DYNOFORM_STATE": str(state),
        "DYNOFORM_DEMO_PORT": str(_free_port()),
        "PY": sys.executable,
    }
    try:
        result = subprocess.run(
            ["bash", str(ROOT / "hack" / "demo.sh")],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        pid_file = state / "operator.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    before, after = out.split("Scaling web to 6", 1)
    assert re.search(
        r"shop\s+clock=1:standard-1x web=3:standard-2x worker=2:standard-1x\s+True", before
    )
    assert re.search(
        r"shop\s+clock=1:standard-1x web=6:standard-2x worker=2:standard-1x\s+True", after
    )
    web_per_zone = dict(re.findall(r"^\s+(zone-[abc])\s+web\s+(\d+) dynos?$", after, re.M))
    assert web_per_zone == {"zone-a": "2", "zone-b": "2", "zone-c": "2"}, after
    assert "Scale to clock=1, web=6, worker=2" in after
    assert "Tear down: make down" in out
