"""Small helpers for tests that talk to a real API server: polling, kubectl, lightkube reads."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from lightkube import Client
from lightkube.core.exceptions import ApiError

from dynoform.runtime.resources import RESOURCES, EventResource, FormationResource, generic

T = TypeVar("T")

Formation = FormationResource
Deployment = RESOURCES["Deployment"]
Service = RESOURCES["Service"]
PDB = RESOURCES["PodDisruptionBudget"]
Event = EventResource
Pod = generic("", "v1", "Pod", "pods")


def eventually(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until `probe` returns something truthy; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except AssertionError as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def get(client: Client, res: Any, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        return dict(client.get(res, name, namespace=namespace))
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise


def names(client: Client, res: Any, namespace: str, **labels: Any) -> set[str]:
    return {
        o["metadata"]["name"] for o in client.list(res, namespace=namespace, labels=labels or None)
    }


def apply_yaml(
    kubectl: Callable[..., subprocess.CompletedProcess[str]],
    obj: dict[str, Any],
    *args: str,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", "-f", "-", *args, input=yaml.safe_dump(obj), check=check)


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return dict(c)
    return None


def condition_with(
    client: Client, namespace: str, ctype: str, reason: str, name: str = "shop"
) -> dict[str, Any] | None:
    """The Formation's `ctype` condition when its reason is `reason` (a probe for eventually)."""
    c = condition(get(client, FormationResource, name, namespace), ctype)
    return c if c and c["reason"] == reason else None


def events_for(client: Client, namespace: str, name: str) -> list[dict[str, Any]]:
    evs = client.list(Event, namespace=namespace, fields={"involvedObject.name": name})
    return sorted((dict(e) for e in evs), key=lambda e: e["metadata"]["creationTimestamp"])


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)
