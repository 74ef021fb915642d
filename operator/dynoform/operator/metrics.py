"""The operator's Prometheus metrics: Formations and their dynos, releases, refusals, the build.

The controller runtime's own figures (API requests, the work queue, reconcile durations, the
leader) are dynoform.runtime.metrics'; these are the domain's. `FormationTally` keeps the
Formation gauges from the Formations' watch events, which every replica receives: the figures
are what the API server stores (the leader's status writes), on the leader and on standbys
alike. Each event moves the gauges by the difference it makes, so an update is a few
additions, never a pass over every Formation.

Cardinality is bounded by construction: Formations are counted per namespace by their Ready
condition's status and reason (a fixed set of reasons), dynos summed per namespace (no
per-Formation or per-pod label); a namespace's series go when its last Formation does.

`serve` starts prometheus_client's HTTP server in a thread of its own: a scrape never waits
for the event loop, and the loop never waits for a scrape.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping
from importlib import metadata
from platform import python_version
from typing import Any

from prometheus_client import Counter, Gauge, Info, start_http_server

from dynoform.api import conditions as c

Key = tuple[str, str]

FORMATIONS = Gauge(
    "dynoform_formations",
    "Formations by namespace and the status and reason of their Ready condition "
    "(Unknown/NoStatus: not reported yet).",
    ["namespace", "ready", "reason"],
)
DYNOS_DESIRED = Gauge(
    "dynoform_dynos_desired",
    "Dynos the namespace's Formations ask for (an autoscaled type: what its autoscaler asks for).",
    ["namespace"],
)
DYNOS_READY = Gauge("dynoform_dynos_ready", "Dynos Ready in the namespace.", ["namespace"])
RELEASES = Counter(
    "dynoform_releases",
    "Release phases that ended, by result (succeeded, failed).",
    ["result"],
)
ADMISSION_REFUSALS = Counter(
    "dynoform_admission_refusals",
    "Formations the operator's admission webhook refused, by reason (UnknownSize, "
    "SizeLimitExceeded, IncompatibleSizes).",
    ["reason"],
)
BUILD = Info("dynoform_build", "The running operator's version (value 1).")

RELEASE_RESULTS = {c.RELEASE_SUCCEEDED: "succeeded", c.RELEASE_FAILED: "failed"}


def _version() -> str:
    try:
        return metadata.version("dynoform")
    except metadata.PackageNotFoundError:
        return "unknown"


BUILD.info({"version": _version(), "python": python_version()})


def serve(port: int, address: str) -> None:
    """Serve /metrics on address:port from a thread of prometheus_client's."""
    start_http_server(port, addr=address)


# (Ready status, reason), namespace, desired, ready: what one Formation adds to the gauges.
Share = tuple[tuple[str, str], str, int, int]


def share_of(obj: Mapping[str, Any]) -> Share:
    """What a Formation, as the API server stores it, adds to the gauges."""
    status = obj.get("status") or {}
    ready = ("Unknown", "NoStatus")
    for condition in status.get("conditions") or []:
        if condition.get("type") == c.READY:
            ready = (str(condition.get("status")), str(condition.get("reason") or ""))
    desired = ready_dynos = 0
    for process in (status.get("processes") or {}).values():
        desired += int(process.get("desired") or 0)
        ready_dynos += int(process.get("ready") or 0)
    return ready, str(obj["metadata"].get("namespace", "")), desired, ready_dynos


class FormationTally:
    """The Formation gauges, moved by each Formation's difference."""

    def __init__(self) -> None:
        self._shares: dict[Key, Share] = {}
        self._per_namespace: Tally[str] = Tally()

    def observe(self, key: Key, obj: Mapping[str, Any]) -> None:
        share = share_of(obj)
        old = self._shares.get(key)
        if old == share:
            return
        if old is None:
            self._per_namespace[share[1]] += 1
        else:
            self._add(old, -1)
        self._shares[key] = share
        self._add(share, 1)

    def forget(self, key: Key) -> None:
        old = self._shares.pop(key, None)
        if old is None:
            return
        self._add(old, -1)
        namespace = old[1]
        self._per_namespace[namespace] -= 1
        if self._per_namespace[namespace] <= 0:
            del self._per_namespace[namespace]
            DYNOS_DESIRED.remove(namespace)
            DYNOS_READY.remove(namespace)
            for labels in [s for s in _label_sets(FORMATIONS) if s[0] == namespace]:
                FORMATIONS.remove(*labels)

    def _add(self, share: Share, sign: int) -> None:
        (ready, reason), namespace, desired, ready_dynos = share
        FORMATIONS.labels(namespace, ready, reason).inc(sign)
        DYNOS_DESIRED.labels(namespace).inc(sign * desired)
        DYNOS_READY.labels(namespace).inc(sign * ready_dynos)


def _label_sets(gauge: Gauge) -> list[tuple[str, ...]]:
    """The label values of every series of a labelled gauge."""
    return [tuple(sample.labels.values()) for sample in next(iter(gauge.collect())).samples]
