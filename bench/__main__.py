"""`python -m bench`: run every scenario on a fresh local control plane and record the figures.

python -m bench                      # the full run (make bench): N = 100, 300, 1000 (3 runs), 3000
python -m bench --sizes 10,20 --target 20 --runs 2 --idle 5 --changes 10 --writes 20 --out /tmp/b
                                     # a small run (make test)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lightkube import AsyncClient

from bench import admission, api, report, scenarios
from bench.measure import until
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


async def run(args: argparse.Namespace, cluster: LocalCluster, work: Path) -> Figures:
    env = cluster.env()
    kubectl = [str(cluster.kubectl)]

    def run_kubectl(*argv: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*kubectl, *argv], env=env, input=input, check=True, capture_output=True, text=True
        )

    install(run_kubectl)
    # Measure the code as it is now, whatever is edited while the benchmark runs.
    source = Path(shutil.copytree(ROOT / "operator", work / "src"))
    op = Operator(
        str(cluster.kubeconfig_for(OPERATOR_USER)), work / "operator.log", 300.0, source=source
    )
    audit = AuditLog(cluster.layout.audit_log)
    figures = Figures()
    sizes = [int(s) for s in args.sizes.split(",")]
    async with _client(cluster) as client:
        await admission.cost(client, kubectl, env, args.writes, figures)
        for n in sizes:
            runs = args.runs if n == args.target else 1
            ratios = []
            for i in range(runs):
                print(f"N = {n}, run {i + 1} of {runs}", flush=True)
                base = await scenarios.baseline(client, n, figures)
                op.start()
                await until(lambda: "Caches synced" in op.log_since_start(), 60, "sync")
                last = i == runs - 1
                seconds = await scenarios.convergence(client, op, n, figures, pods=last)
                ratios.append(seconds / base)
                if last and n == args.target:
                    await _scale_latency(client, n, args.changes, figures)
                    # The Platform API with the N Formations present, the operator running.
                    await api.scenario(
                        run_kubectl, str(cluster.kubeconfig), f"bench-{n}", n,
                        args.api_requests, figures,
                    )  # fmt: skip
                    # The API's thousands of changes applied and reported: nothing left to
                    # write, so what idle measures is the operator at rest.
                    await scenarios.settle(client, n, figures, figure="settled_after_api")
                    await scenarios.idle(op, audit, args.idle, figures)
                    await scenarios.restart(op, audit, figures)
                if i < runs - 1 or n != sizes[-1]:
                    op.stop()
                    await scenarios.delete_namespace(client, f"bench-{n}")
            scenarios.ratios(n, ratios, figures)
    op.stop()
    return figures


async def _scale_latency(client: AsyncClient, n: int, changes: int, figures: Figures) -> None:
    # Right after the pods run, the controller manager is still writing Deployment statuses
    # (and we the Formations'); the target is for N Formations present, settled.
    await scenarios.scale_latency(client, n, changes, figures, "_converging")
    await scenarios.settle(client, n, figures)
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
    nodes = [type(n)(n.name, n.zone, BIG) for n in default_nodes()]
    start = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="dynoform-bench-") as tmp,
        # No real node: the benchmarks measure the operator and the control plane, and a
        # kubelet's own work would only add noise on the same two cores.
        LocalCluster(Path(tmp) / "cluster", node_specs=nodes, real_node=False) as cluster,
    ):
        figures = asyncio.run(run(args, cluster, Path(tmp)))
    sizes = [int(s) for s in args.sizes.split(",")]
    report.write(args.out, figures.values, described, sizes, args.target)
    print(f"bench: done in {time.monotonic() - start:.0f}s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
