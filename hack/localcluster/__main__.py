"""`python -m localcluster up|down|status`: the local control plane outside of pytest.

Owns the command line only. `up` starts a detached LocalCluster (the same class the test fixture
uses) whose processes outlive this command, with its state in `.local/cluster/` at the repo root;
the last line it prints is `export KUBECONFIG=...`, so `eval "$(... up | tail -n1)"` works. `down`
stops exactly the processes recorded in the state file. `status` exits 0 when the cluster is up.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from localcluster.binaries import REPO_ROOT, BinariesError
from localcluster.cluster import ClusterStartError, LocalCluster, healthy
from localcluster.state import stop_recorded

DEFAULT_STATE_DIR = REPO_ROOT / ".local" / "cluster"


def up(state_dir: Path) -> int:
    if state := healthy(state_dir):
        print(f"localcluster: already running at {state.server} (state in {state_dir})")
        print(f"export KUBECONFIG={state.kubeconfig}")
        return 0
    if stale := stop_recorded(state_dir):
        print(f"localcluster: stopped leftovers of an unhealthy cluster: {', '.join(stale)}")
    started = time.monotonic()
    try:
        cluster = LocalCluster(state_dir, detached=True).start()
    except (BinariesError, ClusterStartError) as exc:
        print(f"localcluster: {exc}", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    nodes = len(cluster.node_specs)
    print(f"localcluster: ready in {took:.1f}s at {cluster.server} with {nodes} kwok Nodes")
    phases = ", ".join(f"{phase} {t:.1f}s" for phase, t in cluster.timings.items())
    print(f"localcluster: ready after: {phases}")
    print(f"localcluster: logs in {cluster.layout.logs}; stop with `make cluster-down`")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def down(state_dir: Path) -> int:
    stopped = stop_recorded(state_dir)
    for leftover in ("pki", "kubeconfigs", "kube-scheduler-config.yaml"):
        path = state_dir / leftover
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    print(f"localcluster: stopped {', '.join(stopped)}" if stopped else "localcluster: not running")
    return 0


def status(state_dir: Path) -> int:
    if state := healthy(state_dir):
        print(f"localcluster: up at {state.server}; KUBECONFIG={state.kubeconfig}")
        return 0
    print("localcluster: down")
    return 1


COMMANDS = {"up": up, "down": down, "status": status}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args.state_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
