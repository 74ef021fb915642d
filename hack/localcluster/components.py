"""The command lines of etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.

Owns every flag the harness passes (pure functions of the binaries, the file layout and the
ports), with the reason for each non-obvious one, the health URL of each component, and the file
layout of a cluster (its etcd data lives on tmpfs; dirs left by killed owners are swept).
Everything listens on 127.0.0.1 only, on ports picked when the cluster starts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from localcluster import nodes
from localcluster.binaries import Binaries
from localcluster.node import NodeLayout
from localcluster.processes import free_ports, running_cmdlines

HOST = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"  # kwok's default /24 runs out after 254 Pods
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
CLUSTER_NAME = "dynoform-local"


def first_service_ip(cidr: str = SERVICE_CIDR) -> str:
    """The ClusterIP of the `kubernetes` Service (the apiserver's certificate must name it)."""
    return str(next(ipaddress.ip_network(cidr).hosts()))


@dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(*free_ports(len(fields(cls))))


ETCD_DIR_PREFIX = "dynoform-etcd-"


def tmpfs_dir() -> Path | None:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def sweep_stale_etcd_dirs(parent: Path, min_age: float = 60.0) -> list[Path]:
    """Remove etcd data dirs no running process names (left by a killed owner; they hold RAM)."""
    in_use = " ".join(running_cmdlines())
    removed = []
    for directory in parent.glob(f"{ETCD_DIR_PREFIX}*"):
        with contextlib.suppress(OSError):
            if str(directory) not in in_use and time.time() - directory.stat().st_mtime > min_age:
                shutil.rmtree(directory)
                removed.append(directory)
    return removed


@dataclass(frozen=True)
class Layout:
    """Where one cluster keeps its files: `state_dir` and the etcd data dir (on tmpfs)."""

    state_dir: Path
    etcd_data: Path

    @classmethod
    def create(cls, state_dir: Path) -> Layout:
        """Make `state_dir` and a fresh etcd data dir (in /dev/shm when it is writable)."""
        state_dir.mkdir(parents=True, exist_ok=True)
        tmpfs = tmpfs_dir()
        if tmpfs is not None:
            sweep_stale_etcd_dirs(tmpfs)
        etcd_data = tempfile.mkdtemp(prefix=ETCD_DIR_PREFIX, dir=tmpfs or state_dir)
        return cls(state_dir, Path(etcd_data))

    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    def kubeconfig(self, component: str) -> Path:
        return self.state_dir / "kubeconfigs" / f"{component}.yaml"

    @property
    def scheduler_config(self) -> Path:
        return self.state_dir / "kube-scheduler-config.yaml"

    @property
    def audit_policy(self) -> Path:
        return self.state_dir / "audit-policy.yaml"

    @property
    def egress_selector(self) -> Path:
        return self.state_dir / "egress-selector.yaml"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"


def audit_policy() -> dict[str, Any]:
    """Record every write (who, what, verb, code) and nothing else: tests and benchmarks count
    a client's writes from it, as the API server saw them."""
    writes = ["create", "update", "patch", "delete", "deletecollection"]
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [{"level": "Metadata", "verbs": writes}, {"level": "None"}],
    }


def etcd(bins: Binaries, layout: Layout, ports: Ports) -> list[str]:
    client, peer = f"http://{HOST}:{ports.etcd}", f"http://{HOST}:{ports.etcd_peer}"
    return [
        str(bins.path("etcd")),
        "--name=dynoform",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        # Without an explicit peer URL etcd binds :2380, which a second cluster would clash on.
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=dynoform={peer}",
        "--unsafe-no-fsync",  # throwaway data on tmpfs: durability buys nothing here
        "--log-level=warn",
    ]


def apiserver(bins: Binaries, layout: Layout, ports: Ports) -> list[str]:
    pki = layout.pki
    return [
        str(bins.path("kube-apiserver")),
        f"--etcd-servers=http://{HOST}:{ports.etcd}",
        f"--bind-address={HOST}",
        f"--secure-port={ports.apiserver}",
        # Both together: without them the apiserver wants a default route for its advertised
        # address, and with the address alone it writes Endpoints nobody can use.
        f"--advertise-address={HOST}",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        # Node: the kubelet's own requests (its Node, its pods' Secrets); RBAC: everyone else.
        "--authorization-mode=Node,RBAC",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        # dynoform's audit stamp is a MutatingAdmissionPolicy: beta (off by default) in 1.34
        # and 1.35, served as admissionregistration.k8s.io/v1beta1.
        "--feature-gates=MutatingAdmissionPolicy=true",
        "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
        "--profiling=false",
        f"--audit-policy-file={layout.audit_policy}",
        f"--audit-log-path={layout.audit_log}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",  # a write is in the log when its response is sent
    ]


def apiserver_node_flags(layout: Layout) -> list[str]:
    """What the API server needs to reach a real node inside its network namespace: the
    "cluster" egress (kubelet logs/exec/attach/port-forward, Service-backed webhooks) through
    the node proxy's Unix socket, nodes by address only (never a DNS look-up of their names),
    Service-backed webhooks dialled at their endpoints (no kube-proxy to route a ClusterIP), a
    client certificate for the kubelet and our CA to check the kubelet's."""
    pki = layout.pki
    return [
        f"--egress-selector-config-file={layout.egress_selector}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
        "--enable-aggregator-routing=true",
    ]


def egress_selector(node: NodeLayout) -> dict[str, Any]:
    return {
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            {
                "name": "cluster",
                "connection": {
                    "proxyProtocol": "HTTPConnect",
                    "transport": {"uds": {"udsName": str(node.egress_socket)}},
                },
            }
        ],
    }


def controller_manager(bins: Binaries, layout: Layout, ports: Ports) -> list[str]:
    pki, kubeconfig = layout.pki, layout.kubeconfig("kube-controller-manager")
    return [
        str(bins.path("kube-controller-manager")),
        f"--kubeconfig={kubeconfig}",
        f"--bind-address={HOST}",
        f"--secure-port={ports.controller_manager}",
        "--controllers=*",
        "--leader-elect=false",
        f"--cluster-name={CLUSTER_NAME}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        "--use-service-account-credentials=true",  # each controller under its own RBAC role
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        # The node-lifecycle controller lifts the not-ready taint; check Nodes often.
        "--node-monitor-period=2s",
        "--kube-api-qps=500",
        "--kube-api-burst=1000",
        "--profiling=false",
    ]


def scheduler_config(layout: Layout) -> dict[str, Any]:
    """With --config the scheduler ignores --kubeconfig: the path goes in clientConnection."""
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {
            "kubeconfig": str(layout.kubeconfig("kube-scheduler")),
            "qps": 500,
            "burst": 1000,
        },
        "leaderElection": {"leaderElect": False},
    }


def scheduler(bins: Binaries, layout: Layout, ports: Ports) -> list[str]:
    return [
        str(bins.path("kube-scheduler")),
        f"--config={layout.scheduler_config}",
        f"--bind-address={HOST}",
        f"--secure-port={ports.scheduler}",
        "--profiling=false",
    ]


# Test-only Stages of our own (a failing Job pod, for the release phase's failure path); each
# file says what it does and why it wins over the upstream stages.
TEST_STAGES = Path(__file__).resolve().parent / "stages"


def kwok_stage_files(bins: Binaries) -> list[Path]:
    """The upstream Stage files that build-binaries.sh ships beside the kwok binary, then ours."""
    stages = sorted((bins.dir("kwok") / "stages").glob("*.yaml"))
    if not stages:
        raise FileNotFoundError(f"no kwok stages in {bins.dir('kwok') / 'stages'}")
    return stages + sorted(TEST_STAGES.glob("*.yaml"))


def kwok(bins: Binaries, layout: Layout, ports: Ports) -> list[str]:
    # kwok v0.8.0 exits with "no stages found" without Stage configuration; --config repeats.
    configs = [f"--config={stage}" for stage in kwok_stage_files(bins)]
    return [
        str(bins.path("kwok")),
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        *configs,
        # Only the fake Nodes: with --manage-all-nodes it would take the real node over too.
        f"--manage-nodes-with-annotation-selector={nodes.FAKE_ANNOTATION}=fake",
        # The heartbeat-with-lease stage updates Node status rarely and relies on Leases for
        # liveness, but kwok renews Leases only when this is set. Without it the node-lifecycle
        # controller finds no heartbeat, marks every Pod NotReady after ~50 s, and kwok never
        # makes them Ready again.
        "--node-lease-duration-seconds=40",
        f"--cidr={POD_CIDR}",
        f"--server-address={HOST}:{ports.kwok}",
    ]


def nodeproxy(node: NodeLayout, ports: Ports, service_ip: str) -> list[str]:
    """The node proxy (see localcluster.nodeproxy): pods and the kubelet reach the API server at
    the `kubernetes` Service's ClusterIP inside the node's namespace; the API server reaches the
    node through the egress Unix socket."""
    return [
        sys.executable, "-m", "localcluster.nodeproxy",
        f"--netns={node.netns}",
        f"--api-port={ports.apiserver}",
        f"--listen={service_ip}:443",
        f"--egress-socket={node.egress_socket}",
    ]  # fmt: skip


def health_url(name: str, ports: Ports) -> str:
    """Where each component reports health (etcd and kwok over HTTP, the rest over HTTPS)."""
    return {
        "etcd": f"http://{HOST}:{ports.etcd}/health",
        "kube-apiserver": f"https://{HOST}:{ports.apiserver}/readyz",
        "kube-controller-manager": f"https://{HOST}:{ports.controller_manager}/healthz",
        "kube-scheduler": f"https://{HOST}:{ports.scheduler}/healthz",
        "kwok": f"http://{HOST}:{ports.kwok}/healthz",
    }[name]
