"""Measuring from outside: child counts by watch, the operator's memory and CPU from /proc.

The operator is a pair of processes (its webhook server is forked): its memory is the sum of
their PSS (proportional set size: a page the two share counts half in each, so the sum counts
it once, where summing RSS would count it twice), its CPU the sum of their CPU times.

The convergence clock stops when every expected child exists with the spec we asked for
(replicas, image); a watch per kind keeps that cheap for the API server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightkube import ALL_NS, AsyncClient

from dynoform.builders.meta import CHILD_LABELS
from dynoform.kube import RESOURCES

CLK_TCK = 100  # os.sysconf("SC_CLK_TCK") on Linux


def family(pid: int) -> list[int]:
    """The process and its descendants, from /proc/<pid>/task/*/children where the kernel
    offers it (CONFIG_PROC_CHILDREN), else from every process's parent in /proc/*/stat."""
    pids, i = [pid], 0
    while i < len(pids):
        pids += _children(pids[i])
        i += 1
    return pids


def _children(pid: int) -> list[int]:
    tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    if tasks:
        return [int(c) for t in tasks for c in _read(t).split()]
    return [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat") if _ppid(p) == pid]


def _ppid(stat: Path) -> int:
    fields = _read(stat).rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 else -1


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # the process has just exited
        return ""


def pss_mib(pid: int) -> float:
    """The PSS of the process and its descendants, in MiB."""
    kib = 0
    for p in family(pid):
        for line in _read(Path(f"/proc/{p}/smaps_rollup")).splitlines():
            if line.startswith("Pss:"):
                kib += int(line.split()[1])
    return kib / 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its descendants."""
    ticks = 0
    for p in family(pid):
        fields = _read(Path(f"/proc/{p}/stat")).rsplit(")", 1)[-1].split()
        if len(fields) > 12:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


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
