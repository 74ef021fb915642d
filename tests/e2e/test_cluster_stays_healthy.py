"""The cluster keeps its Nodes and Pods Ready past the node-lifecycle grace period.

Without node Leases renewed by kwok, the node-lifecycle controller marks every Pod NotReady
about 50 s after start and nothing makes them Ready again; tests that run longer than a minute
then see unavailable Deployments. This test waits out that window once.
"""

from __future__ import annotations

import json
import time

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
        time.sleep(GRACE + 15)  # past the point where missed heartbeats made Pods NotReady
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
