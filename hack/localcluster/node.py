"""The real node: containerd, runc and a kubelet that run real containers beside kwok's fakes.

Owns the node's files (containerd, CNI and kubelet configuration, its certificates), the command
lines of containerd and the kubelet, and its teardown. Everything a node leaves on a machine is
named after the cluster's id, so several clusters (a test session and the demo) run side by side:
- the network namespace `dynoform-<id>` (see `netns`): the node's address and the `kubernetes`
  Service's ClusterIP on `lo`, and a CNI bridge for pods; no route out;
- the cgroup `/dynoform-<id>` in every v1 hierarchy: the kubelet's `cgroupRoot` (every pod lives
  below it) and `runtime/` for containerd and the kubelet (containerd's shims inherit it), so
  that teardown finds every process of the node by its pid in `cgroup.procs`;
- `/run/dynoform/<id>/`: sockets (short paths: a Unix socket path has 108 bytes) and the
  runtime state; the state dir's `node/`: containerd's images, the kubelet's root and pod logs.

Settings this machine needs (cgroup v1 hybrid, no CAP_SYS_RESOURCE, no registry, no DNS):
cgroupfs everywhere, `failCgroupV1: false`, `restrict_oom_score_adj`, runc rather than crun
(which refuses hybrid cgroups), a pause image built here, no resolv.conf for pods.

The node is labelled `dyno.dev/node=real` and tainted `dyno.dev/real-node=true:NoSchedule`, so
only pods that ask for real containers land there; kwok manages only Nodes annotated as fake.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import netns

NODE_NAME = "real-zone-a-1"
ZONE = "zone-a"
NODE_IP = "10.213.0.2"  # inside the node's namespace only; every cluster has its own namespace
POD_SUBNET = "10.88.0.0/16"
KUBELET_PORT = 10250
LABEL = "dyno.dev/node"  # = real
TAINT = "dyno.dev/real-node"  # = true, NoSchedule
PAUSE_IMAGE = "localhost/dynoform/pause:3.10.1"
CGROUP_FS = Path("/sys/fs/cgroup")
RUNTIME_DIR = Path("/run/dynoform")
CNI_BIN_DIR = "/usr/lib/cni"
CNI_RESULTS = Path("/var/lib/cni/results")
CONTAINER_LOG_LINKS = Path("/var/log/containers")
RUNC = "/usr/sbin/runc"
CONTAINERD = "/usr/bin/containerd"


def cluster_id(state_dir: Path) -> str:
    """A short id of a cluster, stable for its state dir."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class NodeLayout:
    """Where one real node keeps its files, sockets, cgroups and namespace."""

    cluster: str  # the cluster id
    files: Path  # persistent-ish files: configuration, images, the kubelet's root

    @classmethod
    def of(cls, state_dir: Path) -> NodeLayout:
        return cls(cluster_id(state_dir), state_dir / "node")

    @property
    def netns(self) -> str:
        return f"dynoform-{self.cluster}"

    @property
    def cgroup(self) -> str:
        return f"/dynoform-{self.cluster}"

    @property
    def run(self) -> Path:
        return RUNTIME_DIR / self.cluster

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd.sock"

    @property
    def egress_socket(self) -> Path:
        return self.run / "egress.sock"

    @property
    def containerd_config(self) -> Path:
        return self.files / "containerd.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.files / "cni"

    @property
    def kubelet_config(self) -> Path:
        return self.files / "kubelet.yaml"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.files / "kubelet.kubeconfig"

    @property
    def kubelet_root(self) -> Path:
        return self.files / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.files / "pod-logs"

    def make_dirs(self) -> None:
        for directory in (self.files, self.run, self.cni_conf_dir, self.kubelet_root):
            directory.mkdir(parents=True, exist_ok=True)
        self.pod_logs.mkdir(parents=True, exist_ok=True)


def containerd_config(layout: NodeLayout) -> str:
    """containerd's configuration (TOML, written by hand: three tables and their keys)."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    runc = f"{cri}.containerd.runtimes.runc"
    values: list[tuple[str, dict[str, Any]]] = [
        ("", {"version": 2, "root": str(layout.files / "containerd"),
              "state": str(layout.run / "containerd")}),
        ("grpc", {"address": str(layout.containerd_socket)}),
        ("ttrpc", {"address": f"{layout.containerd_socket}.ttrpc"}),
        ("metrics", {"address": ""}),
        (cri, {
            "sandbox_image": PAUSE_IMAGE,
            # No CAP_SYS_RESOURCE here: runc may not lower a container's oom_score_adj.
            "restrict_oom_score_adj": True,
            # Pod namespaces under our own state dir, not /var/run/netns (shared by all).
            "netns_mounts_under_state_dir": True,
            "enable_selinux": False,
            "stream_server_address": "127.0.0.1",
        }),
        (f"{cri}.containerd", {"snapshotter": "overlayfs", "default_runtime_name": "runc"}),
        (runc, {"runtime_type": "io.containerd.runc.v2"}),
        (f"{runc}.options", {
            "BinaryName": RUNC, "SystemdCgroup": False, "Root": str(layout.run / "runc"),
        }),
        (f"{cri}.cni", {"bin_dir": CNI_BIN_DIR, "conf_dir": str(layout.cni_conf_dir)}),
    ]  # fmt: skip
    lines = []
    for table, keys in values:
        if table:
            lines.append(f"\n[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def cni_config(layout: NodeLayout) -> dict[str, Any]:
    """A bridge inside the namespace: pods reach each other, the node and the ClusterIP of
    `kubernetes` (both on the namespace's `lo`), and nothing else (there is no route out)."""
    return {
        "cniVersion": "1.0.0",
        "name": "dynoform",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(layout.files / "cni-ipam"),
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }
        ],
    }


def kubelet_config(layout: NodeLayout, ca: Path, cert: Path, key: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "tlsCertFile": str(cert),
        "tlsPrivateKeyFile": str(key),
        # The API server proves who it is with a client certificate of our CA; the kubelet asks
        # the API server whether that identity may (SubjectAccessReview).
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        # This machine: cgroup v1 (hybrid), cgroupfs, swap possibly on.
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": layout.cgroup,
        "failCgroupV1": False,
        "failSwapOn": False,
        # A laptop or CI disk may be fuller than a server's: evict only when nearly out.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100,
        # No cluster DNS and no host resolver for pods: a name lookup fails at once.
        "resolvConf": "",
        "podLogsDir": str(layout.pod_logs),
        "registerWithTaints": [{"key": TAINT, "value": "true", "effect": "NoSchedule"}],
        "serializeImagePulls": False,
        "nodeStatusUpdateFrequency": "5s",
        # The kubelet renews its Lease every quarter of this; its first try, before the Node
        # exists, fails, so a short period makes the Lease (part of "ready") appear sooner.
        "nodeLeaseDurationSeconds": 8,
        "staticPodPath": "",
    }  # fmt: skip


def kubelet(kubelet_bin: Path, layout: NodeLayout) -> list[str]:
    labels = {
        "topology.kubernetes.io/zone": ZONE,
        "topology.kubernetes.io/region": "local",
        LABEL: "real",
    }
    return [
        str(kubelet_bin),
        f"--config={layout.kubelet_config}",
        f"--kubeconfig={layout.kubelet_kubeconfig}",
        f"--root-dir={layout.kubelet_root}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}",
        "--node-labels=" + ",".join(f"{k}={v}" for k, v in labels.items()),
        "--v=1",
    ]


def containerd(layout: NodeLayout) -> list[str]:
    return [CONTAINERD, f"--config={layout.containerd_config}"]


# --- cgroups: where the node's processes are, and the end of them ---------------------------


def hierarchies(kinds: tuple[str, ...] = ("cgroup",)) -> list[Path]:
    """The mounted cgroup v1 hierarchies (cpu, memory, pids, name=systemd, ...); with
    "cgroup2" in `kinds`, the hybrid layout's unified hierarchy too, where runc also makes
    the pods' cgroups."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] in kinds:
            found.append(Path(fields[1]))
    return found


EVERY_HIERARCHY = ("cgroup", "cgroup2")


def runtime_cgroup(layout: NodeLayout) -> Path:
    """The pids cgroup that containerd and the kubelet start in (the shims inherit it)."""
    return CGROUP_FS / "pids" / layout.cgroup.lstrip("/") / "runtime"


def join_runtime_cgroup(layout: NodeLayout) -> None:
    """Runs in a child before exec: move it into the node's runtime cgroup."""
    (runtime_cgroup(layout) / "cgroup.procs").write_text("0")


def node_pids(layout: NodeLayout) -> list[int]:
    """Every process in the node's cgroup tree: containerd, the kubelet, shims and pods."""
    root = CGROUP_FS / "pids" / layout.cgroup.lstrip("/")
    pids: set[int] = set()
    for procs in root.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in procs.read_text().split())
    return sorted(pids)


def kill_all(layout: NodeLayout, timeout: float = 10.0) -> int:
    """SIGKILL every process of the node, by pid, until none is left; return how many."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while (pids := node_pids(layout)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.05)
    return len(killed)


def remove_cgroups(layout: NodeLayout) -> None:
    """rmdir the node's cgroup tree in every hierarchy, deepest first (they are empty now)."""
    for hierarchy in hierarchies(EVERY_HIERARCHY):
        root = hierarchy / layout.cgroup.lstrip("/")
        if not root.is_dir():
            continue
        for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


def unmount_under(*roots: Path) -> int:
    """Unmount (lazily, deepest first) every mount below `roots`: overlay root filesystems,
    the kubelet's volume tmpfs, pod network namespaces, shm. Returns how many."""
    prefixes = [str(r.resolve()) + "/" for r in roots]
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point.startswith(prefix) for prefix in prefixes):
            mounts.append(point)
    for point in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    return len(set(mounts))


def prepare(layout: NodeLayout) -> None:
    """Make the node's dirs, the kubelet's cgroupRoot in every hierarchy (the kubelet refuses a
    missing one) and the runtime cgroup (pids hierarchy) before anything starts."""
    layout.make_dirs()
    for hierarchy in hierarchies():
        root = hierarchy / layout.cgroup.lstrip("/")
        root.mkdir(exist_ok=True)
        if (hierarchy / "cpuset.cpus").exists():
            # A v1 cpuset cgroup takes no task until its cpus and mems are set: the parent's.
            for name in ("cpuset.cpus", "cpuset.mems"):
                (root / name).write_text((hierarchy / name).read_text())
    runtime_cgroup(layout).mkdir(exist_ok=True)


def write_configs(layout: NodeLayout, pki_dir: Path) -> None:
    layout.containerd_config.write_text(containerd_config(layout))
    (layout.cni_conf_dir / "10-dynoform.conflist").write_text(json.dumps(cni_config(layout)))
    config = kubelet_config(
        layout, pki_dir / "ca.crt", pki_dir / "kubelet-serving.crt", pki_dir / "kubelet-serving.key"
    )
    layout.kubelet_config.write_text(yaml.safe_dump(config))


def remove_host_records(layout: NodeLayout) -> None:
    """Two records the kubelet and CNI keep at fixed host paths, for our pods only: the
    kubelet's /var/log/containers links into our pod logs, and libcni's cached results
    (removed on a pod's CNI DEL, which a killed pod never gets)."""
    for link in CONTAINER_LOG_LINKS.glob("*.log"):
        with contextlib.suppress(OSError):
            if os.readlink(link).startswith(str(layout.pod_logs)):
                link.unlink()
    for result in CNI_RESULTS.glob("*"):
        with contextlib.suppress(OSError):
            if str(layout.run) in result.read_text():
                result.unlink()


def teardown(layout: NodeLayout) -> None:
    """After containerd and the kubelet were asked to stop: kill what is left of the node by
    pid, unmount its mounts, remove its cgroups, namespace, sockets and images."""
    kill_all(layout)
    unmount_under(layout.files, layout.run)
    remove_cgroups(layout)
    remove_host_records(layout)
    netns.delete(layout.netns)
    shutil.rmtree(layout.run, ignore_errors=True)
    shutil.rmtree(layout.files, ignore_errors=True)
