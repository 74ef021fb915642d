"""A small run of the benchmarks in `make test`, so that `make bench` keeps working.

Not a timed test: it asserts that every figure is produced and that the ones with a hard
meaning hold at any size (no writes when idle or on restart, admission wired in).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from localcluster.operator import ROOT


def test_the_benchmark_runs_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--sizes",
            "10,20",
            "--target",
            "20",
            "--runs",
            "2",
            "--writes",
            "20",
            "--idle",
            "5",
            "--changes",
            "10",
            "--api-requests",
            "40",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    entries = {e["name"]: e for e in json.loads((out / "results.json").read_text())}
    for name in (
        "convergence_ratio_n20",
        "convergence_ratio_min_n20",
        "convergence_ratio_max_n20",
        "admission_cost_ratio",
        "scale_latency_p99_ms",
        "scale_latency_p99_ms_converging",
        "settled_seconds",
        "operator_rss_mb_n20",
        "formations_created_seconds_n20",
        "operator_cpu_percent_n20",
        "idle_writes",
        "restart_seconds",
        "restart_writes",
        "api_formation_info_rps_n20",
        "api_batch_update_p99_ms_n20",
        "direct_formation_get_rps_n20",
        "direct_formation_patch_p99_ms_n20",
    ):
        assert isinstance(entries[name]["value"], float), name
    assert set(entries["restart_writes"]) == {"name", "value", "unit", "target", "goal", "better"}
    assert entries["idle_writes"]["value"] == 0
    assert entries["restart_writes"]["value"] == 0
    assert entries["restart_formations"]["value"] == 20
    # Every create stamped by the API server's MutatingAdmissionPolicy.
    assert entries["admission_stamped_fraction_n20"]["value"] == 1
    assert (out / "convergence.png").stat().st_size > 10_000
