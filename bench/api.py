"""The Platform API server's benchmark: requests per second and p99 of formation info and of
batch update with N Formations present, beside the same reads and writes made directly against
the Kubernetes API with the same token.

The server runs as `dyno api` does (a subprocess on 127.0.0.1), as a ServiceAccount allowed to
use the namespace's Formations; each figure is `REQUESTS` requests, `CONCURRENCY` in flight,
over the N Formations in turn (no two writes of one Formation at once, so no conflicts).

python -m bench.api --formations 20 --requests 200   # on a fresh local control plane
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import yaml

from bench import workload
from bench.measure import Kubectl, kubectl_for
from bench.scenarios import Figures
from dynoform.server.config import from_kubeconfig

CONCURRENCY = 8
ACCEPT = "application/vnd.heroku+json; version=3"
USER = "bench-api"
RULES = [
    {"apiGroups": ["dyno.dev"], "resources": ["formations"], "verbs": ["get", "list", "patch"]}
]
Call = Callable[[httpx2.AsyncClient, str, int], Awaitable[httpx2.Response]]


async def scenario(
    kubectl: Kubectl, kubeconfig: str, namespace: str, n: int, requests: int, figures: Figures
) -> None:
    """The four figures (API and direct, info and update) for the `n` Formations of
    `namespace`, named as bench.workload names them."""
    token = _token(kubectl, namespace)
    names = workload.names(n)
    upstream = from_kubeconfig(kubeconfig)
    auth = {"Authorization": f"Bearer {token}"}
    direct = httpx2.AsyncClient(
        base_url=upstream.server,
        verify=upstream.ssl_context(),
        headers={**auth, "Accept": "application/json"},
        timeout=30,
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        _serve(kubeconfig, namespace, Path(tmp)) as url,
    ):
        api = httpx2.AsyncClient(base_url=url, headers={**auth, "Accept": ACCEPT}, timeout=30)
        path = f"/apis/dyno.dev/v1alpha1/namespaces/{namespace}/formations"
        calls: dict[str, Call] = {
            "api_formation_info": lambda c, name, i: c.get(f"/apps/{name}/formation/web"),
            "direct_formation_get": lambda c, name, i: c.get(f"{path}/{name}"),
            "api_batch_update": lambda c, name, i: c.patch(
                f"/apps/{name}/formation",
                json={"updates": [{"type": "web", "quantity": 2 + i % 2}]},
            ),
            "direct_formation_patch": lambda c, name, i: c.patch(
                f"{path}/{name}",
                json={"spec": {"processes": {"web": {"quantity": 2 + i % 2}}}},
                headers={"Content-Type": "application/merge-patch+json"},
            ),
        }
        for figure, call in calls.items():
            client = api if figure.startswith("api_") else direct
            rps, p99 = await _measure(client, call, names, requests)
            figures.put(f"{figure}_rps_n{n}", rps)
            figures.put(f"{figure}_p99_ms_n{n}", p99)
        await api.aclose()
    await direct.aclose()


async def _measure(
    client: httpx2.AsyncClient, call: Call, names: list[str], requests: int
) -> tuple[float, float]:
    """(requests per second, p99 in ms) of `requests` calls, CONCURRENCY at a time."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            start = time.monotonic()
            response = await call(client, names[i % len(names)], i // len(names))
            if response.status_code != 200:
                raise RuntimeError(
                    f"{response.request.url}: {response.status_code} {response.text}"
                )
            latencies.append((time.monotonic() - start) * 1000)

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall = time.monotonic() - start
    latencies.sort()
    return requests / wall, latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]


def _token(kubectl: Kubectl, namespace: str) -> str:
    """A ServiceAccount of `namespace` that may read and scale its Formations, and its token."""
    meta = {"name": USER, "namespace": namespace}
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": USER}
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": ref,
            "subjects": [{"kind": "ServiceAccount", "name": USER, "namespace": namespace}],
        },
    ]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    return kubectl("create", "token", USER, "-n", namespace).stdout.strip()


@contextmanager
def _serve(kubeconfig: str, namespace: str, work: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    argv = [sys.executable, "-m", "dynoform.cli", "api", "--port", str(port)]
    log = (work / "api.log").open("w")
    proc = subprocess.Popen(
        [*argv, "--kubeconfig", kubeconfig, "-n", namespace], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dyno api did not start:\n{(work / 'api.log').read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str] | None = None) -> int:
    from localcluster.cluster import LocalCluster
    from localcluster.operator import ROOT

    p = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    p.add_argument("--formations", type=int, default=1000, help="Formations present (N)")
    p.add_argument("--requests", type=int, default=2000, help="requests per figure")
    args = p.parse_args(argv)
    figures = Figures()
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-cluster-") as tmp,
        LocalCluster(Path(tmp) / "cluster", real_node=False) as cluster,
    ):
        kubectl = kubectl_for(cluster)
        kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        kubectl("wait", "--for=condition=Established", "crd/formations.dyno.dev")
        namespace = f"bench-{args.formations}"
        kubectl("create", "namespace", namespace)
        docs = [workload.formation(name, namespace) for name in workload.names(args.formations)]
        kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))
        asyncio.run(
            scenario(
                kubectl, str(cluster.kubeconfig), namespace, args.formations, args.requests, figures
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
