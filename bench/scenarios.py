"""The benchmark's scenarios; `python -m bench` runs each measurement on a control plane of its
own.

- admission cost (bench.admission): N Formation writes with the admission policies and
  without any.
- baseline: the children applied directly by one client (server-side apply) at the operator's
  concurrency: what this API server can do at best.
- convergence: N Formations created; until every child exists with the right spec, then until
  every pod is Running; the operator's RSS once settled.
- scale latency: quantity changes of one Formation, each until its Deployment follows; once
  right after the pods run (the controllers' backlog still flowing), once settled.
- idle: quiet minutes; the operator's writes (audit log) and CPU.
- restart: kill -9 and start again; until its first pass is done, and its writes.
"""

from __future__ import annotations

import asyncio
import re
import signal
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from bench import workload
from bench.measure import ChildWatch, cpu_seconds, right_spec, rss_mib, until
from dynoform.api.labels import CHANGED_BY
from dynoform.runtime import kube
from dynoform.runtime.resources import RESOURCES, FormationResource, generic
from localcluster.audit import AuditLog
from localcluster.operator import OPERATOR_USER, Operator

Pod = generic("", "v1", "Pod", "pods")
CONCURRENCY = kube.CONCURRENCY  # the operator's requests in flight at most
FIELD_MANAGER = "bench"
QUIET_SECONDS = 2.0  # no write to the namespace for this long: the cluster has settled


@dataclass
class Figures:
    values: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def put(self, name: str, value: float) -> None:
        self.values[name] = round(float(value), 3)  # one type for every figure, counts too
        # When in the run each figure came: where a long run's minutes go.
        minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
        print(f"  [{minutes:02d}:{seconds:02d}] {name} = {self.values[name]}", flush=True)


async def bounded(n: int, jobs: list[Any]) -> None:
    """Run coroutines with at most `n` in flight."""
    slots = asyncio.Semaphore(n)

    async def one(job: Any) -> None:
        async with slots:
            await job

    await asyncio.gather(*(one(j) for j in jobs))


async def fresh_namespace(client: AsyncClient, name: str) -> None:
    await client.create(Namespace(metadata=ObjectMeta(name=name)))


async def delete_namespace(client: AsyncClient, name: str, timeout: float = 600) -> None:
    await client.delete(Namespace, name)
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            await client.get(Namespace, name)
        except ApiError as exc:
            if exc.status.code == 404:
                return
            raise
        await asyncio.sleep(0.5)
    raise TimeoutError(f"namespace {name} not deleted in {timeout}s")


async def baseline(client: AsyncClient, n: int, figures: Figures) -> float:
    ns = f"base-{n}"
    await fresh_namespace(client, ns)
    watch = ChildWatch(client, ns)
    task = asyncio.create_task(watch.run(right_spec))
    await asyncio.sleep(0.5)
    start = time.monotonic()
    bodies = [kid for name in workload.names(n) for kid in workload.children(name, ns)]
    await bounded(CONCURRENCY, [_apply(client, body) for body in bodies])
    await until(lambda: watch.count() >= len(bodies), 600, "baseline children")
    seconds = time.monotonic() - start
    task.cancel()
    figures.put(f"baseline_seconds_n{n}", seconds)
    return seconds


async def _apply(client: AsyncClient, body: dict[str, Any]) -> None:
    meta = body["metadata"]
    await client.patch(
        RESOURCES[body["kind"]],
        meta["name"],
        body,
        namespace=meta["namespace"],
        patch_type=PatchType.APPLY,
        field_manager=FIELD_MANAGER,
        force=True,
    )


async def convergence(
    client: AsyncClient, op: Operator, n: int, figures: Figures, pods: bool = True
) -> float:
    """N Formations created, until every child is right; with `pods`, then until every pod
    runs, and the stamped fraction and the RSS once settled (a run only for the ratio's spread
    skips them: the figures of the last run are the ones recorded)."""
    ns = f"bench-{n}"
    await fresh_namespace(client, ns)
    watch = ChildWatch(client, ns)
    task = asyncio.create_task(watch.run(right_spec))
    pods_task = asyncio.create_task(_watch_running(client, ns, watch))
    await asyncio.sleep(0.5)
    assert op.proc is not None
    start, cpu0 = time.monotonic(), cpu_seconds(op.proc.pid)
    formations = [workload.formation(name, ns) for name in workload.names(n)]
    await bounded(CONCURRENCY, [client.create(FormationResource.from_dict(f)) for f in formations])
    # The creates pass admission (the policies, in the API server): shown apart.
    figures.put(f"formations_created_seconds_n{n}", time.monotonic() - start)
    want = n * workload.CHILDREN_PER_FORMATION
    await until(lambda: watch.count() >= want, 900, "operator children")
    seconds = time.monotonic() - start
    figures.put(f"operator_seconds_n{n}", seconds)
    # Whether the operator's one thread was the bottleneck (100 = a whole core).
    figures.put(f"operator_cpu_percent_n{n}", (cpu_seconds(op.proc.pid) - cpu0) / seconds * 100)
    if pods:
        await until(lambda: len(watch.running_pods) >= n * workload.PODS_PER_FORMATION, 900, "pods")
        figures.put(f"pods_running_seconds_n{n}", time.monotonic() - start)
    task.cancel()
    pods_task.cancel()
    if not pods:
        return seconds
    stamped = [
        f
        async for f in client.list(FormationResource, namespace=ns)
        if CHANGED_BY in (f["metadata"].get("annotations") or {})
    ]
    figures.put(f"admission_stamped_fraction_n{n}", len(stamped) / n)
    await asyncio.sleep(5)  # let status writes settle before reading memory
    assert op.proc is not None
    figures.put(f"operator_rss_mib_n{n}", rss_mib(op.proc.pid))
    return seconds


def ratios(n: int, runs: list[float], figures: Figures) -> None:
    """The convergence ratio at N: the median of the runs, and their spread (never the best)."""
    figures.put(f"convergence_ratio_n{n}", statistics.median(runs))
    if len(runs) > 1:
        figures.put(f"convergence_ratio_min_n{n}", min(runs))
        figures.put(f"convergence_ratio_max_n{n}", max(runs))


async def _watch_running(client: AsyncClient, ns: str, watch: ChildWatch) -> None:
    async for etype, pod in client.watch(Pod, namespace=ns):
        key = (ns, pod["metadata"]["name"])
        if etype != "DELETED" and (pod.get("status") or {}).get("phase") == "Running":
            watch.running_pods.add(key)
        else:
            watch.running_pods.discard(key)


async def settle(
    client: AsyncClient,
    audit: AuditLog,
    n: int,
    figures: Figures,
    timeout: float = 900,
    figure: str = "settled",
) -> None:
    """Until every Formation reports Ready for its generation, then until nothing has written
    to the namespace for QUIET_SECONDS. Ready means the Deployments' statuses have caught up;
    the controllers' work that follows them (ReplicaSet and PDB statuses, EndpointSlices,
    Events) can still be flowing then, and a change measured meanwhile waits behind it."""
    ns, start = f"bench-{n}", time.monotonic()

    async def ready() -> bool:
        found = [f async for f in client.list(FormationResource, namespace=ns) if _ready(f)]
        return len(found) >= n

    while not await ready():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"Formations not all Ready in {timeout}s")
        await asyncio.sleep(2)
    while True:
        mark = audit.mark()
        await asyncio.sleep(QUIET_SECONDS)
        if not audit.writes_since(mark, None, ns):
            figures.put(f"{figure}_seconds", time.monotonic() - start)
            return
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"namespace {ns} not quiet in {timeout}s")


def _ready(formation: dict[str, Any]) -> bool:
    status = formation.get("status") or {}
    if status.get("observedGeneration") != formation["metadata"].get("generation"):
        return False
    conditions = status.get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def scale_latency(
    client: AsyncClient, n: int, changes: int, figures: Figures, when: str = ""
) -> None:
    """`changes` quantity changes of one Formation, one after another, each timed until its
    Deployment's replicas follow; `when` names the figures of a run under other conditions."""
    ns, name = f"bench-{n}", workload.names(n)[0]
    dep = RESOURCES["Deployment"]
    seen: asyncio.Queue[int] = asyncio.Queue()

    async def follow() -> None:
        async for _, obj in client.watch(
            dep, namespace=ns, fields={"metadata.name": f"{name}-web"}
        ):
            seen.put_nowait(int(obj["spec"]["replicas"]))

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    latencies, patches = [], []
    for i in range(changes):
        want = 3 if i % 2 == 0 else 2
        start = time.monotonic()
        await client.patch(
            FormationResource,
            name,
            {"spec": {"processes": {"web": {"quantity": want}}}},
            namespace=ns,
            patch_type=PatchType.MERGE,
        )
        patches.append((time.monotonic() - start) * 1000)
        while await asyncio.wait_for(seen.get(), 30) != want:
            pass
        latencies.append((time.monotonic() - start) * 1000)
    task.cancel()
    latencies.sort()
    # The user's own PATCH (admission included) is part of the latency; shown apart.
    figures.put(f"scale_patch_p50_ms{when}", statistics.median(patches))
    figures.put(f"scale_latency_p50_ms{when}", statistics.median(latencies))
    figures.put(
        f"scale_latency_p99_ms{when}",
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    )


async def idle(op: Operator, audit: AuditLog, seconds: float, figures: Figures) -> None:
    assert op.proc is not None
    await asyncio.sleep(10)  # the last status writes of the scale test
    mark, cpu0, t0 = audit.mark(), cpu_seconds(op.proc.pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = (cpu_seconds(op.proc.pid) - cpu0) / (time.monotonic() - t0)
    writes = audit.writes_since(mark, OPERATOR_USER)
    figures.put("idle_writes", len(writes))
    for w in writes[:20]:
        print(f"    idle write: {w}", flush=True)
    figures.put("idle_cpu_percent", cpu * 100)


async def restart(op: Operator, audit: AuditLog, figures: Figures) -> None:
    op.stop(signal.SIGKILL)
    mark = audit.mark()
    op.start()
    await until(lambda: "First pass done" in op.log_since_start(), 600, "first pass")
    found = re.search(r"First pass done: (\d+) formations in ([\d.]+) s", op.log_since_start())
    assert found is not None
    figures.put("restart_formations", float(found.group(1)))
    figures.put("restart_seconds", float(found.group(2)))
    writes = audit.writes_since(mark, OPERATOR_USER)
    figures.put("restart_writes", len(writes))
    for w in writes[:20]:
        print(f"    restart write: {w}", flush=True)
