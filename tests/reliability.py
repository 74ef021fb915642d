"""What "converged, with nothing lost" means, checked through the API as a user would check it.

Shared by the fault, fuzzing and security tests. The expected children of a Formation are
computed here from the documented rules (one Deployment per process type; a Service for `web` and
any type with a port; a PodDisruptionBudget for a non-singleton type with 2+ dynos), not from
the operator's builders, so the tests do not grade the operator with its own code.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from dynoform.runtime.resources import generic
from localcluster.audit import AuditLog, Write
from localcluster.operator import OPERATOR_USER, Operator
from tests.kubehelp import PDB, Deployment, Formation, Pod, Service, condition

ReplicaSet = generic("apps", "v1", "ReplicaSet", "replicasets")
KINDS = {"Deployment": Deployment, "Service": Service, "PodDisruptionBudget": PDB}
SINGLETONS = ("clock", "scheduler")
Obj = dict[str, Any]


# --- The oracle: what a Formation should have ----------------------------------------------


def quantity(ptype: str, process: Obj) -> int:
    q = process.get("quantity")
    return int(q) if q is not None else (1 if ptype == "web" else 0)


def singleton(ptype: str, process: Obj) -> bool:
    s = process.get("singleton")
    return bool(s) if s is not None else ptype in SINGLETONS


def expected_children(formation: Obj) -> dict[str, set[str]]:
    """Kind -> the names of the children this Formation should own (the documented rules)."""
    name, out = formation["metadata"]["name"], defaultdict(set)
    for ptype, process in formation["spec"]["processes"].items():
        child = f"{name}-{ptype}"
        out["Deployment"].add(child)
        if ptype == "web" or process.get("port") is not None:
            out["Service"].add(child)
        if not singleton(ptype, process) and quantity(ptype, process) >= 2:
            out["PodDisruptionBudget"].add(child)
    return {kind: set(out.get(kind, set())) for kind in KINDS}


# --- Reading a namespace ---------------------------------------------------------------------


@dataclass
class Snapshot:
    """Every Formation, child, ReplicaSet and pod of one namespace, read through the API."""

    formations: dict[str, Obj]
    children: dict[str, dict[str, Obj]]  # kind -> name -> object
    replicasets: list[Obj]
    pods: list[Obj]

    @classmethod
    def read(cls, kube: Client, namespace: str) -> Snapshot:
        def listed(res: Any) -> list[Obj]:
            return [dict(o) for o in kube.list(res, namespace=namespace)]

        return cls(
            {f["metadata"]["name"]: f for f in listed(Formation)},
            {kind: {o["metadata"]["name"]: o for o in listed(res)} for kind, res in KINDS.items()},
            listed(ReplicaSet),
            listed(Pod),
        )

    def owned_by(self, formation: Obj) -> dict[str, set[str]]:
        uid = formation["metadata"]["uid"]
        return {
            kind: {n for n, o in objs.items() if uid in _controller_uids(o)}
            for kind, objs in self.children.items()
        }


def _controller_uids(obj: Obj) -> list[str]:
    refs = obj["metadata"].get("ownerReferences") or []
    return [r["uid"] for r in refs if r.get("controller")]


def settled(formation: Obj) -> bool:
    """The operator has reported on the Formation's current generation."""
    status = formation.get("status") or {}
    gen = formation["metadata"].get("generation")
    reconciled = condition(formation, "Reconciled")
    return bool(
        reconciled
        and status.get("observedGeneration") == gen
        and reconciled.get("observedGeneration") == gen
    )


def ready(formation: Obj) -> bool:
    c, r = condition(formation, "Ready"), condition(formation, "Reconciled")
    return settled(formation) and bool(c and c["status"] == "True" and r and r["status"] == "True")


def problems(snap: Snapshot, only: set[str] | None = None) -> list[str]:
    """Everything that keeps the namespace from "every Formation Ready with exactly its
    children, no child without a live owner, no duplicate rollout, every dyno Running".
    `only`: check these Formations (the namespace may hold others, e.g. refused ones)."""
    out: list[str] = []
    live = {f["metadata"]["uid"]: f for f in snap.formations.values()}
    for name, formation in snap.formations.items():
        if only is not None and name not in only:
            continue
        if not ready(formation):
            out.append(f"{name}: not Ready: {(formation.get('status') or {}).get('conditions')}")
            continue
        want, have = expected_children(formation), snap.owned_by(formation)
        out += [f"{name}: {k} {have[k]} != expected {want[k]}" for k in KINDS if have[k] != want[k]]
        for ptype, process in formation["spec"]["processes"].items():
            out += _deployment_problems(snap, f"{name}-{ptype}", quantity(ptype, process))
    for kind, objs in snap.children.items():
        for child, obj in objs.items():
            uids = _controller_uids(obj)
            refs = obj["metadata"].get("ownerReferences") or []
            if len(refs) != 1 or len(uids) != 1 or uids[0] not in live:
                out.append(f"{kind} {child}: not owned by exactly one live Formation: {refs}")
    if only is not None and (missing := only - set(snap.formations)):
        out.append(f"Formations missing: {sorted(missing)}")
    return out


def _deployment_problems(snap: Snapshot, name: str, replicas: int) -> list[str]:
    dep = snap.children["Deployment"].get(name)
    if dep is None:
        return [f"Deployment {name} missing"]
    out = []
    available = (dep.get("status") or {}).get("availableReplicas") or 0
    if dep["spec"]["replicas"] != replicas or available != replicas:
        out.append(f"Deployment {name}: replicas {dep['spec']['replicas']}, available {available}")
    uid = dep["metadata"]["uid"]
    sets = [rs for rs in snap.replicasets if uid in _controller_uids(rs)]
    if len(sets) != 1:  # the template never changed: one rollout, never a second
        out.append(f"Deployment {name}: {len(sets)} ReplicaSets")
    rs_uids = {rs["metadata"]["uid"] for rs in sets}
    pods = [
        p
        for p in snap.pods
        if set(_controller_uids(p)) & rs_uids and not p["metadata"].get("deletionTimestamp")
    ]
    phases = Counter((p.get("status") or {}).get("phase") for p in pods)
    if phases != (Counter({"Running": replicas}) if replicas else Counter()):
        out.append(f"Deployment {name}: pods {dict(phases)}, want {replicas} Running")
    return out


def wait_converged(
    kube: Client, namespace: str, timeout: float, only: set[str] | None = None
) -> float:
    """Poll until `problems` is empty; return the seconds it took, or fail listing them."""
    start, last = time.monotonic(), ["not read yet"]
    while time.monotonic() - start < timeout:
        try:
            last = problems(Snapshot.read(kube, namespace), only)
        except (ApiError, httpx.HTTPError) as exc:  # the API server may be restarting
            last = [f"read failed: {exc}"]
        if not last:
            return time.monotonic() - start
        time.sleep(1.0)
    shown = "\n".join(last[:30])
    raise AssertionError(f"{namespace} not converged after {timeout}s ({len(last)}):\n{shown}")


# --- Creating many, with bounded concurrency ------------------------------------------------


def create_all(
    bodies: Sequence[Obj],
    workers: int = 8,
    retry_for: float = 0.0,
    on_created: Callable[[int], None] | None = None,
) -> list[Obj]:
    """Create every body (a user's POST each) with at most `workers` in flight. With
    `retry_for`, a request that fails on the connection (the API server restarting) is tried
    again for that long, as any client would. Returns the created objects."""
    local, done, lock = threading.local(), [0], threading.Lock()

    def client() -> Client:
        if not hasattr(local, "client"):
            local.client = Client(field_manager="dynoform-tests")
        return local.client  # type: ignore[no-any-return]

    def one(body: Obj) -> Obj:
        deadline = time.monotonic() + retry_for
        while True:
            try:
                created = dict(client().create(Formation.from_dict(body)))
                break
            except ApiError as exc:
                if exc.status.code == 409:  # created by an attempt whose answer was lost
                    meta = body["metadata"]
                    created = dict(
                        client().get(Formation, meta["name"], namespace=meta["namespace"])
                    )
                    break
                if exc.status.code < 500 or time.monotonic() > deadline:
                    raise
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)
        with lock:
            done[0] += 1
            if on_created is not None:
                on_created(done[0])
        return created

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, bodies))


@contextmanager
def in_background(job: Callable[[], Any]) -> Iterator[Callable[[], Any]]:
    """Run `job` in a thread; the block gets a `join()` that returns its result or raises."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = job()
        except BaseException as exc:  # handed to join()
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join(timeout: float = 600) -> Any:
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"background job still running after {timeout}s")
        if "error" in result:
            raise result["error"]
        return result.get("value")

    try:
        yield join
    finally:
        thread.join(600)


# --- Namespaces, the operator's log, its writes ----------------------------------------------


@contextmanager
def scratch_namespace(kube: Client, prefix: str = "r", timeout: float = 300) -> Iterator[str]:
    """A namespace deleted afterwards and waited for: the garbage collection of hundreds of
    children must not spill into the timing of the tests that follow."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    try:
        yield name
    finally:
        kube.delete(Namespace, name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                kube.get(Namespace, name)
            except ApiError as exc:
                if exc.status.code == 404:
                    break
            time.sleep(1)


ERROR_MARKS = ("Traceback", "[ERROR", "[CRITICAL")


def log_errors(path: Path, offset: int = 0) -> list[str]:
    """Tracebacks and ERROR/CRITICAL lines the operator logged after byte `offset`."""
    with path.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return [line for line in text.splitlines() if any(m in line for m in ERROR_MARKS)]


def log_size(op: Operator) -> int:
    return op.log_path.stat().st_size if op.log_path.exists() else 0


# In local mode (--webhook-port) kopf points its webhook configurations at the operator's port
# each time it starts: the one cluster-scoped write the operator makes, and not a Formation's.
OWN_CONFIGURATIONS = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")


def foreign_writes(audit: AuditLog, mark: int, namespaces: set[str]) -> list[Write]:
    """The operator's writes since `mark` outside `namespaces` (cluster-scoped ones included,
    but for its own webhook configurations)."""
    return [
        w
        for w in audit.writes_since(mark, OPERATOR_USER)
        if w.namespace not in namespaces and w.resource not in OWN_CONFIGURATIONS
    ]


def quiet(audit: AuditLog, operator: Operator, namespace: str, passes: int = 3) -> list[Write]:
    """The operator's writes in `namespace` during its next resync `passes` (none once
    converged: every Formation reconciled that many times more, and nothing to write)."""
    mark = audit.mark()
    operator.wait_for_resyncs(passes)
    return audit.writes_since(mark, OPERATOR_USER, namespace)


@dataclass
class Figures:
    """Figures a test prints for the docs (pytest -s, or the captured output on failure)."""

    title: str
    values: dict[str, Any] = field(default_factory=dict)

    def put(self, name: str, value: Any) -> None:
        self.values[name] = round(value, 1) if isinstance(value, float) else value
        print(f"[{self.title}] {name} = {self.values[name]}", flush=True)
