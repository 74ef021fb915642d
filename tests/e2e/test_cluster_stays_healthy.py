"""The cluster keeps its Nodes and Pods Ready past the node-lifecycle grace period.

Without node Leases renewed by kwok, the node-lifecycle controller marks every Pod NotReady
about 50 s after start and nothing makes them Ready again; tests that run longer than a minute
then see unavailable Deployments. This test waits out that window once.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from localcluster.pytest_plugin import ClusterHandle

GRACE = 50  # kube-controller-manager's default --node-monitor-grace-period


def test_nodes_renew_leases_and_pods_stay_ready_past_the_grace_period(
    cluster: ClusterHandle,
) -> None:
    leases = json.loads(
        cluster.kubectl("get", "leases", "-n", "kube-node-lease", "-o", "json").stdout
    )
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)
    assert {lease["metadata"]["name"] for lease in leases["items"]} >= {
        n["metadata"]["name"] for n in nodes["items"]
    }
    cluster.kubectl("create", "namespace", "lease-check")
    try:
        cluster.kubectl(
            "create",
            "deployment",
            "probe",
            "-n",
            "lease-check",
            "--image=registry.invalid/probe:1",
            "--replicas=3",
        )
        cluster.kubectl(
            "rollout", "status", "-n", "lease-check", "deployment/probe", "--timeout=60s"
        )
        # Past the point where missed heartbeats made Pods NotReady: every Node's Lease renewed
        # more than the grace period after the pods were available.
        available = datetime.now(UTC)
        wait_for_renewals(cluster, available + timedelta(seconds=GRACE + 5))
        dep = json.loads(
            cluster.kubectl("get", "deployment", "probe", "-n", "lease-check", "-o", "json").stdout
        )
        assert dep["status"].get("availableReplicas") == 3, dep["status"]
        ready = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        assert all(
            c["status"] == "True"
            for n in ready
            for c in n["status"]["conditions"]
            if c["type"] == "Ready"
        )
    finally:
        cluster.kubectl("delete", "namespace", "lease-check", "--wait=false")


def wait_for_renewals(cluster: ClusterHandle, after: datetime, timeout: float = 120) -> None:
    """Wait until every Node's Lease has been renewed at `after` or later."""
    deadline = time.monotonic() + timeout
    while True:
        leases = json.loads(
            cluster.kubectl("get", "leases", "-n", "kube-node-lease", "-o", "json").stdout
        )["items"]
        renewed = [
            datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))
            for lease in leases
        ]
        if renewed and min(renewed) >= after:
            return
        assert time.monotonic() < deadline, f"Leases not renewed after {after}: {renewed}"
        time.sleep(1)  # a poll: the kubelet and kwok renew every few seconds
