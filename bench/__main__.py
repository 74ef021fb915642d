"""`python -m bench`: run every scenario, each on a new local control plane; record the figures.

python -m bench                      # the full run (make bench): N = 100, 300, 1000 (3 runs), 3000
python -m bench --sizes 10,20 --target 20 --runs 2 --idle 5 --changes 10 --writes 20 --out /tmp/b
                                     # a small run (make test)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from lightkube import AsyncClient

from bench import admission, api, report, scenarios
from bench.measure import kubectl_for, until
from bench.scenarios import Figures
from localcluster.audit import AuditLog
from localcluster.cluster import LocalCluster
from localcluster.nodes import default_nodes
from localcluster.operator import OPERATOR_USER, ROOT, Operator, install

# Room for 3000 Formations' 12000 pods of standard-1x (fake nodes cost nothing).
BIG = (("cpu", "1024"), ("memory", "8Ti"), ("pods", "2500"), ("ephemeral-storage", "20Ti"))


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--sizes", default="100,300,1000,3000", help="Formation counts, comma-separated")
    p.add_argument(
        "--target",
        type=int,
        default=1000,
        help="the size the targets are for: its convergence is run --runs times (the spread "
        "is reported) and the scale latency is measured with it present",
    )
    p.add_argument("--runs", type=int, default=3, help="convergence runs at the target size")
    p.add_argument("--writes", type=int, default=1000, help="Formation writes for admission cost")
    p.add_argument("--idle", type=float, default=120.0, help="quiet seconds to watch")
    p.add_argument("--changes", type=int, default=200, help="quantity changes to time")
    p.add_argument("--api-requests", type=int, default=2000, help="Platform API requests a figure")
    p.add_argument("--out", type=Path, default=ROOT / "bench", help="where results go")
    return p.parse_args(argv)


class Stage:
    """One fresh control plane: what one measurement runs against, so that each starts from
    the same empty etcd and idle controllers (and nothing of a previous run has to be deleted
    first: 12,000 fake pods take minutes to go)."""

    def __init__(self, cluster: LocalCluster, client: AsyncClient) -> None:
        self.cluster, self.client = cluster, client
        self.kubectl = kubectl_for(cluster)


@contextlib.asynccontextmanager
async def stage(work: Path, name: str, installed: bool = True) -> AsyncIterator[Stage]:
    """A new cluster for one measurement; `installed`: dynoform's CRDs, policies, sizes and
    RBAC in force (the baseline, which writes only the children, needs none of them)."""
    nodes = [type(n)(n.name, n.zone, BIG) for n in default_nodes()]
    t0 = time.monotonic()
    # No real node: the benchmarks measure the operator and the control plane, and a
    # kubelet's own work would only add noise on the same two cores.
    with LocalCluster(work / name, node_specs=nodes, real_node=False) as cluster:
        async with _client(cluster) as client:
            s = Stage(cluster, client)
            if installed:
                install(s.kubectl)
            print(f"  (cluster {name} ready in {time.monotonic() - t0:.0f}s)", flush=True)
            yield s
    shutil.rmtree(work / name, ignore_errors=True)


async def run(args: argparse.Namespace, work: Path) -> Figures:
    # Measure the code as it is now, whatever is edited while the benchmark runs.
    source = Path(shutil.copytree(ROOT / "operator", work / "src"))
    figures = Figures()
    sizes = [int(s) for s in args.sizes.split(",")]
    async with stage(work, "admission") as s:
        await admission.cost(s.client, s.kubectl, args.writes, figures)
    for n in sizes:
        runs = args.runs if n == args.target else 1
        ratios = []
        for i in range(runs):
            print(f"N = {n}, run {i + 1} of {runs}", flush=True)
            async with stage(work, f"baseline-{n}-{i}", installed=False) as s:
                base = await scenarios.baseline(s.client, n, figures)
            async with stage(work, f"operator-{n}-{i}") as s:
                op = Operator(
                    str(s.cluster.kubeconfig_for(OPERATOR_USER)),
                    work / f"operator-{n}-{i}.log", 300.0, source=source,
                )  # fmt: skip
                op.start()
                try:
                    last = i == runs - 1
                    ratios.append(await _operator(args, s, op, n, last, figures) / base)
                finally:
                    op.stop()
        scenarios.ratios(n, ratios, figures)
    return figures


async def _operator(
    args: argparse.Namespace, s: Stage, op: Operator, n: int, last: bool, figures: Figures
) -> float:
    """The operator's convergence at N; in the last run at the target size, with the N
    Formations present, the scale latency, the Platform API, idle and restart."""
    await until(lambda: "Caches synced" in op.log_since_start(), 60, "sync")
    seconds = await scenarios.convergence(s.client, op, n, figures, pods=last)
    if last and n == args.target:
        audit = AuditLog(s.cluster.layout.audit_log)
        await _scale_latency(s.client, audit, n, args.changes, figures)
        # The Platform API with the N Formations present, the operator running.
        await api.scenario(
            s.kubectl, str(s.cluster.kubeconfig), f"bench-{n}", n, args.api_requests, figures
        )
        # The API's thousands of changes applied and reported: nothing left to write, so
        # what idle measures is the operator at rest.
        await scenarios.settle(s.client, audit, n, figures, figure="settled_after_api")
        await scenarios.idle(op, audit, args.idle, figures)
        await scenarios.restart(op, audit, figures)
    return seconds


async def _scale_latency(
    client: AsyncClient, audit: AuditLog, n: int, changes: int, figures: Figures
) -> None:
    # Right after the pods run, the controller manager is still writing Deployment statuses
    # (and we the Formations'); the target is for N Formations present, settled.
    await scenarios.scale_latency(client, n, changes, figures, "_converging")
    await scenarios.settle(client, audit, n, figures)
    await scenarios.scale_latency(client, n, changes, figures)


def _client(cluster: LocalCluster) -> AsyncClient:
    from lightkube import KubeConfig

    return AsyncClient(KubeConfig.from_file(cluster.kubeconfig), field_manager="bench")


def machine() -> str:
    cpus = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    gib = int(mem) // 1024**2
    load = os.getloadavg()[0]  # other work on the machine when the run started
    return (
        f"{platform.machine()}, {cpus} cores, {gib} GiB, Python {platform.python_version()}, "
        f"load average {load:.1f} at start"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    described = machine()  # before the run: the load it records is the machine's, not ours
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dynoform-bench-") as tmp:
        figures = asyncio.run(run(args, Path(tmp)))
    sizes = [int(s) for s in args.sizes.split(",")]
    report.write(args.out, figures.values, described, sizes, args.target)
    if args.out.resolve() == (ROOT / "bench").resolve():
        # The docs site shows the committed run's plot, and MkDocs serves only docs/.
        shutil.copyfile(args.out / "convergence.png", ROOT / "docs/images/convergence.png")
    print(f"bench: done in {time.monotonic() - start:.0f}s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
