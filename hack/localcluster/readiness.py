"""Readiness checks and the one polling loop that waits for them.

Owns what "ready" means for each part of the bring-up, as small checks that return None when
satisfied or a description of what is still pending (so a timeout can say exactly what was not
ready), and `wait_until`, which polls them cheaply (every 0.1 s; the cluster is ready in seconds)
and fails fast when a started process has exited.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence

from localcluster import kubeapi, nodes

POLL_SECONDS = 0.1
Check = Callable[[], str | None]  # None when satisfied, else what is still pending


def http_check(url: str, context: ssl.SSLContext | None, expected: str) -> Check:
    """GET `url` answers 200 with `expected` in the body."""

    def check() -> str | None:
        status, body = kubeapi.get_text(url, context)
        return None if status == 200 and expected in body else f"{url}: {status} {body[-200:]}"

    return check


def nodes_check(client: kubeapi.Client, names: Sequence[str]) -> Check:
    """Every named Node is Ready and free of the not-ready taints."""

    def check() -> str | None:
        pending = nodes.unready(client.get("/api/v1/nodes")["items"], names)
        return f"Nodes not Ready or still tainted: {pending}" if pending else None

    return check


def lease_check(client: kubeapi.Client, name: str) -> Check:
    """The kubelet of Node `name` holds its Lease (its heartbeat, which the node-lifecycle
    controller reads): proof that it talks to the API server on its own."""
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
    return lambda: None if client.exists(path) else f"no Lease of {name} yet"


def service_account_check(client: kubeapi.Client, namespace: str = "default") -> Check:
    """The namespace's `default` ServiceAccount exists (the controller-manager made it)."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
    return lambda: None if client.exists(path) else f"no ServiceAccount {namespace}/default yet"


def wait_until(checks: dict[str, Check], timeout: float, alive: Callable[[], None]) -> None:
    """Poll until every check passes. `alive` raises if a process died; timeouts raise too."""
    deadline = time.monotonic() + timeout
    while True:
        alive()
        results = {name: _run(check) for name, check in checks.items()}
        pending = {name: result for name, result in results.items() if result is not None}
        if not pending:
            return
        if time.monotonic() > deadline:
            details = "; ".join(f"{name}: {result}" for name, result in pending.items())
            raise TimeoutError(f"not ready after {timeout:.0f}s: {details}")
        checks = {name: checks[name] for name in pending}
        time.sleep(POLL_SECONDS)


def _run(check: Check) -> str | None:
    try:
        return check()
    except kubeapi.ApiError as exc:
        return str(exc)
