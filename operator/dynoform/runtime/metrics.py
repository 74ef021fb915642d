"""The controller runtime's Prometheus metrics: API requests, the work queue, the election.

Defined once, in prometheus_client's default registry, and updated where the work happens with
no I/O: a labelled child is resolved once and then costs a lock and an addition per update.
Every label takes values from a small set fixed by the code (verbs, the resources of
dynoform.runtime.resources, HTTP codes, two results), never from object names: the series
stay bounded whatever the cluster holds.

`CountingTransport` counts the requests of dynoform's own client at its httpx transport seam
(the same public seam as dynoform.runtime.watch.WatchSafeTransport); kopf's own requests (the
Formation watch, its webhook configuration) go through kopf's client and are not counted.
"""

from __future__ import annotations

import httpx2 as httpx  # lightkube 1.0's HTTP client
from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter(
    "dynoform_api_requests",
    "Requests dynoform's client made to the Kubernetes API, by verb, resource and HTTP status "
    'code (code "error": no answer).',
    ["verb", "resource", "code"],
)
QUEUE_DEPTH = Gauge("dynoform_workqueue_depth", "Keys waiting in the work queue.")
QUEUE_WAIT = Histogram(
    "dynoform_workqueue_wait_seconds",
    "How long a key waited in the work queue before a worker took it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
QUEUE_RETRIES = Counter(
    "dynoform_workqueue_retries", "Keys whose handler failed and that come back after a backoff."
)
RECONCILE_SECONDS = Histogram(
    "dynoform_reconcile_duration_seconds",
    "How long one reconcile took, by result (success, or error: it is retried).",
    ["result"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LEADER = Gauge(
    "dynoform_leader",
    "1 while this replica reconciles (it holds the leader Lease, or runs without election).",
)

# The verb of a request, as the API server's audit log names it.
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def request_labels(method: str, path: str, watching: bool) -> tuple[str, str]:
    """(verb, resource) of an API request, e.g. ("list", "deployments"), ("patch",
    "formations/status"); resource "other" for what is no resource path (/version, discovery)."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        rest = parts[2:]
    elif parts[0] == "apis":
        rest = parts[3:]
    else:
        return method.lower(), "other"
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest or not rest[0]:
        return method.lower(), "other"
    named = len(rest) > 1
    resource = rest[0] if len(rest) < 3 else f"{rest[0]}/{rest[2]}"
    if method == "GET":
        verb = "watch" if watching else ("get" if named else "list")
    elif method == "DELETE":
        verb = "delete" if named else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    return verb, resource


class CountingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that counts every request in API_REQUESTS, then hands it on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        watching = request.url.params.get("watch") in ("true", "1")
        verb, resource = request_labels(request.method, request.url.path, watching)
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            API_REQUESTS.labels(verb, resource, "error").inc()
            raise
        API_REQUESTS.labels(verb, resource, str(response.status_code)).inc()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def leading(value: bool) -> None:
    LEADER.set(1 if value else 0)
