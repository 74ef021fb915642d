"""Measuring from outside: child counts by watch, the operator's RSS and CPU from /proc, and
kubectl bound to a cluster.

The convergence clock stops when every expected child exists with the spec we asked for
(replicas, image); a watch per kind keeps that cheap for the API server.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightkube import ALL_NS, AsyncClient

from dynoform.api.labels import CHILD_LABELS
from dynoform.runtime.resources import RESOURCES
from localcluster.cluster import LocalCluster

CLK_TCK = 100  # os.sysconf("SC_CLK_TCK") on Linux
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def kubectl_for(cluster: LocalCluster) -> Kubectl:
    """`kubectl(*args, input=None)` against `cluster` (its pinned kubectl, its admin
    kubeconfig); a failure raises CalledProcessError."""
    argv, env = [str(cluster.kubectl)], cluster.env()

    def kubectl(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args], env=env, input=input, check=True, capture_output=True, text=True
        )

    return kubectl


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class ChildWatch:
    """Counts children that match the expected spec, per kind, from watch events."""

    def __init__(self, client: AsyncClient, namespace: str | None = None) -> None:
        self.client = client
        self.namespace = namespace or ALL_NS
        self.good: dict[tuple[str, str, str], bool] = {}
        self.running_pods: set[tuple[str, str]] = set()

    def count(self) -> int:
        return sum(self.good.values())

    async def run(self, ok: Callable[[dict[str, Any]], bool]) -> None:
        await asyncio.gather(*(self._watch(kind, ok) for kind in RESOURCES))

    async def _watch(self, kind: str, ok: Callable[[dict[str, Any]], bool]) -> None:
        res = RESOURCES[kind]
        labels: dict[str, Any] = dict(CHILD_LABELS)
        async for etype, obj in self.client.watch(res, namespace=self.namespace, labels=labels):
            meta = obj["metadata"]
            key = (kind, meta["namespace"], meta["name"])
            self.good[key] = etype != "DELETED" and ok({**obj, "kind": kind})


def right_spec(obj: dict[str, Any]) -> bool:
    if obj["kind"] != "Deployment":
        return True
    spec = obj["spec"]
    ptype = obj["metadata"]["labels"]["dyno.dev/process-type"]
    want = 2 if ptype == "web" else 1
    image = spec["template"]["spec"]["containers"][0]["image"]
    return bool(spec.get("replicas") == want and image.endswith("bench:v1"))


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `predicate` holds (polled every 20 ms), or TimeoutError."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start
