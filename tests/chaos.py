"""The reliability suite's sizes: `--chaos` selects the long variants (`make chaos`).

The fault, fuzzing and security tests are marked `chaos` and run in `make test` at a reduced
size; `pytest -m chaos --chaos` (what `make chaos` runs) runs only them, at full size. Every
figure a test depends on comes from `Budget`, so the two runs differ in size only, never in what
they assert.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Budget:
    full: bool
    killed_formations: int  # Formations being created when the operator is killed -9
    kills: int  # kill -9 of the operator during that creation
    restart_formations: int  # Formations in flight when the apiserver or etcd restarts
    restarts: tuple[tuple[str, bool], ...]  # (component, SIGKILL?) restarted in place
    takeovers: int  # leaders killed in a row, each replaced by the standby
    dry_run_manifests: int  # generated manifests sent as a server-side dry run
    created_manifests: int  # generated valid Formations created for real and reconciled


REDUCED = Budget(
    full=False,
    killed_formations=200,
    kills=1,
    restart_formations=30,
    restarts=(("kube-apiserver", False), ("etcd", False)),
    takeovers=2,
    dry_run_manifests=2000,
    created_manifests=200,
)
FULL = Budget(
    full=True,
    killed_formations=200,
    kills=3,
    restart_formations=60,
    # Not etcd kill -9: the local etcd runs with --unsafe-no-fsync, and killed so it loses
    # writes it had acknowledged (its revision goes back), which no Kubernetes client survives.
    restarts=(("kube-apiserver", False), ("kube-apiserver", True), ("etcd", False)),
    takeovers=5,
    dry_run_manifests=10000,
    created_manifests=600,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos",
        action="store_true",
        default=False,
        help="run the reliability tests (marker `chaos`) at full size: more kills, restarts, "
        "takeovers and generated manifests (make chaos).",
    )


@pytest.fixture(scope="session")
def budget(request: pytest.FixtureRequest) -> Budget:
    return FULL if request.config.getoption("--chaos") else REDUCED
