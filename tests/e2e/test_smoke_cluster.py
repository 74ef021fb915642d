"""Smoke tests of the cluster itself: real scheduling across zones on kwok's fake Nodes.

These prove the harness gives the operator's tests what they rely on: Nodes Ready in three zones,
the pinned Kubernetes version, Deployments whose Pods the real scheduler spreads by zone and
kwok turns Running, garbage collection of a deleted Deployment's Pods, RBAC for certificates
minted for other users, and admission webhooks served on https://127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from localcluster import LocalCluster, binaries, node, nodes
from localcluster.pytest_plugin import ClusterHandle

ZONE_LABEL = "topology.kubernetes.io/zone"
TIMEOUT = 60.0


def wait_for(what: str, probe: Callable[[], tuple[bool, Any]], timeout: float = TIMEOUT) -> Any:
    """Poll `probe` (returning (done, observed)) until done; fail with the last observation."""
    deadline = time.monotonic() + timeout
    while True:
        done, observed = probe()
        if done:
            return observed
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {observed}")
        time.sleep(0.5)


def get_json(cluster: ClusterHandle, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def node_zones(cluster: ClusterHandle) -> dict[str, str]:
    items = get_json(cluster, "nodes")["items"]
    return {n["metadata"]["name"]: n["metadata"]["labels"].get(ZONE_LABEL, "") for n in items}


def running_pods_per_zone(cluster: ClusterHandle, namespace: str) -> Counter[str]:
    """Zone -> number of Running, not terminating Pods in `namespace`."""
    zones = node_zones(cluster)
    pods = get_json(cluster, "pods", "-n", namespace)["items"]
    return Counter(
        zones.get(pod["spec"].get("nodeName", ""), "?")
        for pod in pods
        if pod["status"].get("phase") == "Running" and "deletionTimestamp" not in pod["metadata"]
    )


def spread_deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "web", "image": "registry.invalid/web:1"}],
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": ZONE_LABEL,
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": labels},
                        }
                    ],
                },
            },
        },
    }


@pytest.fixture
def smoke_namespace(cluster: ClusterHandle) -> Iterator[str]:
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply_deployment(cluster: ClusterHandle, namespace: str, replicas: int) -> None:
    manifest = json.dumps(spread_deployment("web", replicas))
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)


def wait_for_spread(cluster: ClusterHandle, namespace: str, expected: dict[str, int]) -> None:
    def probe() -> tuple[bool, Counter[str]]:
        per_zone = running_pods_per_zone(cluster, namespace)
        return per_zone == Counter(expected), per_zone

    wait_for(f"Running Pods per zone {expected} in {namespace}", probe)


def local_cluster(cluster: ClusterHandle) -> LocalCluster:
    if cluster.local is None:
        pytest.skip("needs the local control plane")
    return cluster.local


def test_six_fake_nodes_are_ready_untainted_and_spread_over_three_zones(
    cluster: ClusterHandle,
) -> None:
    local_cluster(cluster)
    items = get_json(cluster, "nodes")["items"]
    fake = [n for n in items if n["metadata"].get("annotations", {}).get(nodes.FAKE_ANNOTATION)]
    assert len(fake) == 6
    assert [n["metadata"]["name"] for n in fake if not nodes.is_ready(n)] == []
    assert [n["spec"]["taints"] for n in fake if n["spec"].get("taints")] == []
    zones = Counter(n["metadata"]["labels"][ZONE_LABEL] for n in fake)
    assert zones == Counter({"zone-a": 2, "zone-b": 2, "zone-c": 2})


def test_the_real_node_is_ready_and_only_takes_pods_meant_for_it(cluster: ClusterHandle) -> None:
    local_cluster(cluster)
    real = get_json(cluster, "node", node.NODE_NAME)
    assert nodes.is_ready(real)
    assert real["spec"]["taints"] == [{"key": node.TAINT, "value": "true", "effect": "NoSchedule"}]
    assert real["metadata"]["labels"][node.LABEL] == "real"
    assert real["metadata"]["labels"][ZONE_LABEL] == "zone-a"
    assert real["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    # kwok leaves it to its kubelet: no fake annotation, and a Lease the kubelet renews.
    assert nodes.FAKE_ANNOTATION not in real["metadata"].get("annotations", {})
    lease = get_json(cluster, "lease", "-n", "kube-node-lease", node.NODE_NAME)
    assert lease["spec"]["holderIdentity"] == node.NODE_NAME


def test_the_api_server_reports_the_pinned_version(cluster: ClusterHandle) -> None:
    local_cluster(cluster)
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    # The build stamps the version; unstamped binaries report v0.0.0-master+$Format:%H$.
    assert version["serverVersion"]["gitVersion"] == binaries.pinned_version("kubernetes")


def test_six_replicas_run_two_pods_in_each_zone(
    cluster: ClusterHandle, smoke_namespace: str
) -> None:
    apply_deployment(cluster, smoke_namespace, replicas=6)
    wait_for_spread(cluster, smoke_namespace, {"zone-a": 2, "zone-b": 2, "zone-c": 2})


def test_three_replicas_run_one_pod_in_each_zone(
    cluster: ClusterHandle, smoke_namespace: str
) -> None:
    apply_deployment(cluster, smoke_namespace, replicas=3)
    wait_for_spread(cluster, smoke_namespace, {"zone-a": 1, "zone-b": 1, "zone-c": 1})


def test_scaling_six_replicas_to_three_keeps_one_pod_per_zone(
    cluster: ClusterHandle, smoke_namespace: str
) -> None:
    apply_deployment(cluster, smoke_namespace, replicas=6)
    wait_for_spread(cluster, smoke_namespace, {"zone-a": 2, "zone-b": 2, "zone-c": 2})
    # A ReplicaSet picks the Pods to remove without looking at zones (a documented limitation of
    # topology spread), so a user who wants the spread kept says which Pods cost more to delete:
    # one per zone here. This also proves the controller-manager honours pod-deletion-cost.
    # https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#known-limitations
    zones = node_zones(cluster)
    kept: dict[str, str] = {}
    for pod in get_json(cluster, "pods", "-n", smoke_namespace)["items"]:
        kept.setdefault(zones[pod["spec"]["nodeName"]], pod["metadata"]["name"])
    for pod_name in kept.values():
        cluster.kubectl(
            "annotate",
            "-n",
            smoke_namespace,
            f"pod/{pod_name}",
            "controller.kubernetes.io/pod-deletion-cost=100",
        )
    cluster.kubectl("scale", "-n", smoke_namespace, "deployment/web", "--replicas=3")
    wait_for_spread(cluster, smoke_namespace, {"zone-a": 1, "zone-b": 1, "zone-c": 1})
    pods = get_json(cluster, "pods", "-n", smoke_namespace)["items"]
    left = {p["metadata"]["name"] for p in pods if "deletionTimestamp" not in p["metadata"]}
    assert left == set(kept.values())


def test_deleting_the_deployment_garbage_collects_its_pods(
    cluster: ClusterHandle, smoke_namespace: str
) -> None:
    apply_deployment(cluster, smoke_namespace, replicas=6)
    wait_for_spread(cluster, smoke_namespace, {"zone-a": 2, "zone-b": 2, "zone-c": 2})
    cluster.kubectl("delete", "-n", smoke_namespace, "deployment/web", "--wait=false")

    def probe() -> tuple[bool, list[str]]:
        pods = get_json(cluster, "pods,replicasets", "-n", smoke_namespace)["items"]
        names = [f"{p['kind']}/{p['metadata']['name']}" for p in pods]
        return not names, names

    wait_for(f"no ReplicaSets or Pods left in {smoke_namespace}", probe)


def test_a_minted_user_certificate_is_subject_to_rbac(cluster: ClusterHandle) -> None:
    user = local_cluster(cluster).kubeconfig_for("jane", groups=["developers"])
    whoami = cluster.kubectl("--kubeconfig", str(user), "auth", "whoami", "-o", "json").stdout
    assert json.loads(whoami)["status"]["userInfo"]["groups"] == [
        "developers",
        "system:authenticated",
    ]
    denied = cluster.kubectl("--kubeconfig", str(user), "get", "pods", check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr


class DenyingWebhook(BaseHTTPRequestHandler):
    """Answers every AdmissionReview with a denial."""

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        response = {"uid": review["request"]["uid"], "allowed": False}
        response["status"] = {"code": 403, "message": "denied by the smoke-test webhook"}
        body = json.dumps({**review, "response": response}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook_url(cluster: ClusterHandle, tmp_path: Path) -> Iterator[str]:
    """An HTTPS admission webhook on 127.0.0.1 with a certificate from the cluster's CA."""
    cert, key = local_cluster(cluster).pki.issue_server("smoke-webhook").write(tmp_path, "hook")
    server = ThreadingHTTPServer(("127.0.0.1", 0), DenyingWebhook)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/validate"
    server.shutdown()
    server.server_close()


def test_an_admission_webhook_on_localhost_is_called(
    cluster: ClusterHandle, smoke_namespace: str, webhook_url: str
) -> None:
    ca = base64.b64encode(local_cluster(cluster).pki.ca_pem).decode()
    name = f"deny-{smoke_namespace}"
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "deny.smoke.dynoform.dev",
                "clientConfig": {"url": webhook_url, "caBundle": ca},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ],
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": smoke_namespace}
                },
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(config))
    try:

        def probe() -> tuple[bool, str]:
            result = cluster.kubectl(
                "create",
                "configmap",
                f"c{uuid.uuid4().hex[:6]}",
                "-n",
                smoke_namespace,
                check=False,
            )
            return "denied by the smoke-test webhook" in result.stderr, result.stderr or "created"

        wait_for("the webhook to deny a ConfigMap", probe, timeout=20)
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", name, check=False)
