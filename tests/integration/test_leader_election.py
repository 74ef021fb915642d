"""Two replicas: only the Lease holder reconciles, and the other takes over when it dies.

The session's operator is stopped meanwhile; two replicas run with --leader-elect, as the Helm
chart runs them. Takeover is timed from the leader's kill -9 to the moment a change made after
the kill reaches the Deployment (target: <= 15 s).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client

from localcluster.operator import OPERATOR_USER, Operator
from tests.integration.test_operator import create, deployment, patch_spec, wait_ready
from tests.kubehelp import eventually

TAKEOVER_TARGET = 15.0


@pytest.fixture
def replicas(operator, installed, tmp_path: Path) -> Iterator[list[Operator]]:
    kubeconfig = (
        str(installed.local.kubeconfig_for(OPERATOR_USER))
        if installed.local
        else installed.kubeconfig
    )
    lease = (
        "--leader-elect",
        "--lease-namespace",
        "default",
        "--lease-name",
        f"ha-{uuid.uuid4().hex[:8]}",
    )
    pair = [Operator(kubeconfig, tmp_path / f"replica-{i}.log", extra_args=lease) for i in (0, 1)]
    with operator.down():
        for replica in pair:
            replica.start()
        try:
            yield pair
        finally:
            for replica in pair:
                replica.stop()


def leader(pair: list[Operator]) -> Operator | None:
    leading = [r for r in pair if "Leading as" in r.log_since_start()]
    return leading[0] if len(leading) == 1 else None


def applies(replica: Operator) -> int:
    return replica.log_since_start().count("Applied ")


def test_only_the_lease_holder_reconciles(
    replicas: list[Operator], installed, kube: Client, namespace: str
) -> None:
    first = eventually(lambda: leader(replicas), timeout=20, what="one replica leading")
    other = next(r for r in replicas if r is not first)
    create(installed, namespace)
    wait_ready(kube, namespace)
    patch_spec(kube, namespace, {"web": {"quantity": 3}})
    eventually(
        lambda: deployment(kube, namespace, "shop-web")["spec"]["replicas"] == 3, what="web at 3"
    )
    assert applies(first) >= 5
    assert applies(other) == 0
    assert "Leading as" not in other.log_since_start()


def test_a_killed_leader_is_replaced_within_fifteen_seconds(
    replicas: list[Operator], installed, kube: Client, namespace: str
) -> None:
    first = eventually(lambda: leader(replicas), timeout=20, what="one replica leading")
    other = next(r for r in replicas if r is not first)
    create(installed, namespace)
    wait_ready(kube, namespace)
    first.stop(signal.SIGKILL)
    killed = time.monotonic()
    patch_spec(kube, namespace, {"worker": {"quantity": 2}})
    eventually(
        lambda: deployment(kube, namespace, "shop-worker")["spec"]["replicas"] == 2,
        timeout=TAKEOVER_TARGET + 10,
        interval=0.1,
        what="the change applied by the new leader",
    )
    takeover = time.monotonic() - killed
    print(f"\ntakeover after kill -9: {takeover:.1f}s")
    assert "Leading as" in other.log_since_start()
    assert takeover <= TAKEOVER_TARGET


def test_a_leader_that_stops_cleanly_hands_over_at_once(
    replicas: list[Operator], installed, kube: Client, namespace: str
) -> None:
    first = eventually(lambda: leader(replicas), timeout=20, what="one replica leading")
    other = next(r for r in replicas if r is not first)
    first.stop()  # SIGTERM: the Lease is released
    stopped = time.monotonic()
    eventually(
        lambda: "Leading as" in other.log_since_start(),
        timeout=10,
        interval=0.1,
        what="the other replica leading",
    )
    handover = time.monotonic() - stopped
    print(f"\nhandover after a clean stop: {handover:.1f}s")
    assert "Released the Lease" in first.log_since_start()
    assert handover <= 5
