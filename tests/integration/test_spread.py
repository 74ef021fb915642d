"""Redundancy you can see: the operator verifies where the Running dynos are, not only what the
spread constraints asked for, and gives Heroku's advice for a single web dyno."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client

from tests.integration.test_operator import create, patch_spec, wait_ready
from tests.kubehelp import Formation, condition, events_for, eventually, get

TAINT = "dyno.dev/spread-test=full:NoSchedule"


def nodes_in(installed, *zones: str) -> list[str]:
    items = json.loads(installed.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return [
        n["metadata"]["name"]
        for n in items
        if n["metadata"]["labels"].get("topology.kubernetes.io/zone") in zones
    ]


@pytest.fixture
def only_zone_a(installed) -> Iterator[list[str]]:
    """The nodes of zone-b and zone-c refuse new pods, as if full or cordoned."""
    tainted = nodes_in(installed, "zone-b", "zone-c")
    installed.kubectl("taint", "nodes", *tainted, TAINT)
    try:
        yield tainted
    finally:
        installed.kubectl("taint", "nodes", *tainted, TAINT + "-", check=False)


def spread_condition(kube: Client, namespace: str, status: str) -> dict[str, Any] | None:
    c = condition(get(kube, Formation, "shop", namespace), "ZoneRedundant")
    return c if c and c["status"] == status else None


def dyno(installed, namespace: str, *args: str) -> str:
    cli = str(Path(sys.executable).parent / "dyno")
    result = subprocess.run(
        [cli, *args, "-a", "shop", "-n", namespace],
        capture_output=True,
        text=True,
        env=installed.env(),
        check=True,
    )
    return result.stdout


def test_dynos_crowded_into_one_zone_are_reported_then_cleared_after_a_restart(
    operator, installed, kube: Client, namespace: str, only_zone_a: list[str]
) -> None:
    create(installed, namespace, processes={"web": {"command": "a", "quantity": 3}})
    wait_ready(kube, namespace)
    c = eventually(lambda: spread_condition(kube, namespace, "False"), what="ZoneRedundant=False")
    assert (c["reason"], c["message"]) == ("NotSpreadAcrossZones", "web: 3 of 3 dynos in zone-a")
    assert dyno(installed, namespace, "ps").splitlines()[-1] == (
        "Redundancy: NOT spread across zones: web: 3 of 3 dynos in zone-a"
    )

    installed.kubectl("taint", "nodes", *only_zone_a, TAINT + "-")
    dyno(installed, namespace, "ps:restart", "web")
    c = eventually(
        lambda: spread_condition(kube, namespace, "True"),
        timeout=60,
        what="ZoneRedundant=True after the restart",
    )
    assert c["reason"] == "SpreadAcrossZones"
    expected = [("Warning", "NotSpreadAcrossZones"), ("Normal", "SpreadAcrossZones")]

    def news() -> list[tuple[str, str]]:
        events = events_for(kube, namespace, "shop")
        return [(e["type"], e["reason"]) for e in events if "SpreadAcrossZones" in e["reason"]]

    # The Event follows the status write that flipped the condition.
    eventually(lambda: news() == expected, what=f"the Events {expected}")


def test_a_single_web_dyno_gets_herokus_advice_once_and_two_clear_it(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes={"web": {"command": "a", "quantity": 1}})
    wait_ready(kube, namespace)

    def advised(status: str) -> dict[str, Any] | None:
        c = condition(get(kube, Formation, "shop", namespace), "RedundancyAdvised")
        return c if c and c["status"] == status else None

    c = eventually(lambda: advised("False"), what="the advice")
    assert c["message"] == "Run at least two web dynos for redundancy."
    ready = condition(get(kube, Formation, "shop", namespace), "Ready")
    assert ready is not None
    assert ready["status"] == "True"  # advice, never an error
    patch_spec(kube, namespace, {"web": {"quantity": 2}})
    eventually(lambda: advised("True"), what="the advice gone at two web dynos")
    warnings = [e for e in events_for(kube, namespace, "shop") if e["reason"] == "SingleDyno"]
    assert len(warnings) == 1
