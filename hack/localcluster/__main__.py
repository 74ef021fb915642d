"""`python -m localcluster up|down|status|images|ctr`: the local cluster outside of pytest.

Owns the command line only. `up` starts a detached LocalCluster (the same class the test fixture
uses) whose processes outlive this command, with its state in `.local/cluster/` at the repo root;
the last line it prints is `export KUBECONFIG=...`, so `eval "$(... up | tail -n1)"` works. `down`
stops exactly the processes recorded in the state file, and ends the real node's pods. `status`
exits 0 when the cluster is up. `images NAME...` builds images (cached) and, with `--load`,
imports them into the running cluster's real node. `ctr ARGS...` runs containerd's own client
against the real node (namespace k8s.io), e.g. `ctr tasks ls`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from localcluster import images
from localcluster.binaries import REPO_ROOT, BinariesError
from localcluster.cluster import ClusterStartError, LocalCluster, healthy
from localcluster.node import NodeLayout
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


def build_images(state_dir: Path, names: list[str], load: bool) -> int:
    try:
        archives = images.ensure(names)
        for name, archive in archives.items():
            print(f"localcluster: {images.IMAGES[name].ref} in {archive}")
        if load:
            if healthy(state_dir) is None:
                print(f"localcluster: no cluster runs in {state_dir}", file=sys.stderr)
                return 1
            took = images.import_into(NodeLayout.of(state_dir).containerd_socket, archives.values())
            print(f"localcluster: imported into the real node in {took:.1f}s")
    except images.ImageError as exc:
        print(f"localcluster: {exc}", file=sys.stderr)
        return 1
    return 0


def ctr(state_dir: Path, args: list[str]) -> int:
    socket = NodeLayout.of(state_dir).containerd_socket
    argv = ["ctr", "--address", str(socket), "--namespace", "k8s.io", *args]
    return subprocess.run(argv, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func in (("up", up), ("down", down), ("status", status)):
        commands.add_parser(name).set_defaults(run=lambda a, f=func: f(a.state_dir.resolve()))
    p = commands.add_parser("images", help="build images (cached); --load: into the real node")
    p.add_argument("names", nargs="+", choices=sorted(images.IMAGES), metavar="NAME")
    p.add_argument("--load", action="store_true", help="import them into the real node")
    p.set_defaults(run=lambda a: build_images(a.state_dir.resolve(), a.names, a.load))
    p = commands.add_parser("ctr", help="containerd's client on the real node (namespace k8s.io)")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(run=lambda a: ctr(a.state_dir.resolve(), a.args))
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
