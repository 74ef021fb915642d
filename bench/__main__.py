"""`python -m bench`: run every scenario on a fresh local control plane and record the figures.

python -m bench                      # the full run (make bench): N = 100, 300, 1000
python -m bench --sizes 10 --idle 5 --changes 20 --out /tmp/b   # a small run (make test)
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

from bench import api, report, scenarios, webhooks
from bench.measure import until
from bench.scenarios import Figures
from localcluster.audit import AuditLog
from localcluster.cluster import LocalCluster
from localcluster.nodes import default_nodes
from localcluster.operator import OPERATOR_USER, ROOT, Operator

# Room for 1000 Formations' 4000 pods of standard-1x (fake nodes cost nothing).
BIG = (("cpu", "512"), ("memory", "4Ti"), ("pods", "1000"), ("ephemeral-storage", "10Ti"))


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--sizes", default="100,300,1000", help="Formation counts, comma-separated")
    p.add_argument("--idle", type=float, default=300.0, help="quiet seconds to watch")
    p.add_argument("--changes", type=int, default=200, help="quantity changes to time")
    p.add_argument("--api-requests", type=int, default=2000, help="Platform API requests a figure")
    p.add_argument("--out", type=Path, default=ROOT / "bench", help="where results go")
    return p.parse_args(argv)


async def run(args: argparse.Namespace, cluster: LocalCluster, work: Path) -> Figures:
    env = cluster.env()
    kubectl = [str(cluster.kubectl)]
    subprocess.run(
        [*kubectl, "apply", "--server-side", "-f", str(ROOT / "crds")],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "crd/formations.dyno.dev"],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*kubectl, "apply", "-f", str(ROOT / "deploy" / "rbac.yaml")],
        env=env,
        check=True,
        capture_output=True,
    )
    # Measure the code as it is now, whatever is edited while the benchmark runs.
    source = Path(shutil.copytree(ROOT / "operator", work / "src"))
    op = Operator(
        str(cluster.kubeconfig_for(OPERATOR_USER)),
        work / "operator.log",
        resync=300.0,
        extra_args=webhooks.install(kubectl, env, work),
        source=source,
    )
    audit = AuditLog(cluster.layout.audit_log)
    figures = Figures()
    sizes = [int(s) for s in args.sizes.split(",")]
    async with _client(cluster) as client:
        for n in sizes:
            print(f"N = {n}", flush=True)
            base = await scenarios.baseline(client, n, figures)
            op.start()
            await until(lambda: "Caches synced" in op.log_since_start(), 60, "sync")
            took = await scenarios.convergence(client, op, n, figures)
            figures.put(f"convergence_ratio_n{n}", took / base)
            if n != sizes[-1]:
                op.stop()
                await scenarios.delete_namespace(client, f"bench-{n}")
        # Right after the pods run, the controller manager is still writing Deployment
        # statuses (and we the Formations'); the target is for N Formations present, settled.
        await scenarios.scale_latency(client, sizes[-1], args.changes, figures, "_converging")
        await scenarios.settle(client, sizes[-1], figures)
        await scenarios.scale_latency(client, sizes[-1], args.changes, figures)
        await scenarios.idle(op, audit, args.idle, figures)
        await scenarios.restart(op, audit, figures)
        # The Platform API with the N Formations present (the operator still running).
        ns = f"bench-{sizes[-1]}"
        await api.scenario(
            _kubectl(cluster), str(cluster.kubeconfig), ns, sizes[-1], args.api_requests, figures
        )
    op.stop()
    return figures


def _kubectl(cluster: LocalCluster) -> api.Kubectl:
    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [str(cluster.kubectl), *args]
        env = cluster.env()
        return subprocess.run(
            argv, input=input, env=env, check=True, capture_output=True, text=True
        )

    return run


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
    report.write(args.out, figures.values, described, [int(s) for s in args.sizes.split(",")])
    print(f"bench: done in {time.monotonic() - start:.0f}s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
