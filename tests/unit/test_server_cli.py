"""`dyno api`: the CLI command that runs the Platform API server, loaded only when used."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from dynoform.cli.main import build_parser, main


def test_the_cli_loads_no_web_framework_until_dyno_api_runs() -> None:
    probe = (
        "import sys; from dynoform.cli.main import build_parser; build_parser()"
        ".parse_args(['api', '--port', '5101']); "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_dyno_api_takes_a_port_and_the_global_namespace() -> None:
    args = build_parser().parse_args(["api", "--port", "5101", "-n", "team-a"])
    assert (args.port, args.namespace) == (5101, "team-a")
    assert build_parser().parse_args(["api"]).port == 5100


def test_dyno_api_without_a_cluster_is_a_clear_error(tmp_path: Path) -> None:
    err = io.StringIO()
    code = main(["api", "--kubeconfig", str(tmp_path / "missing")], out=io.StringIO(), err=err)
    assert code == 1
    assert err.getvalue().startswith(" !    Cannot read the kubeconfig")


def test_dyno_api_serves_the_dashboard_unless_told_and_takes_a_proxys_header() -> None:
    from dynoform.server.dashboard.options import Settings, from_args

    assert from_args(build_parser().parse_args(["api"])) == Settings(True, None)
    args = build_parser().parse_args(
        ["api", "--no-dashboard", "--dashboard-token-header", "X-Forwarded-Access-Token"]
    )
    assert from_args(args) == Settings(False, "X-Forwarded-Access-Token")
