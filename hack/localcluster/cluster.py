"""LocalCluster: a real Kubernetes control plane as local processes, fake Nodes from kwok, and
one real node that runs real containers.

Owns the bring-up order, readiness and teardown of one cluster. Bring-up: PKI and kubeconfigs;
the real node's network namespace, its node proxy and containerd, with the pause image imported
(they need nothing of the control plane, so they start first); etcd, kube-apiserver, then
controller-manager, scheduler, kwok and the kubelet together (they only need the apiserver), the
fake Nodes, and a wait until every Node, the real one included, is Ready and untainted and the
`default` ServiceAccount exists (proof that the controller-manager's controllers run). A failure
at any point stops what was started, in reverse order, and raises `ClusterStartError` with log
tails. Stopping ends the node's pods by pid and removes its namespace, cgroups and mounts.

`restart(component)` stops one component and starts it again in place, on the same ports and
data, as a supervisor would (the fault tests restart etcd and the apiserver mid-run).

The same class serves the test fixture (`detached=False`: processes die with the test session)
and `python -m localcluster up` (`detached=True`: processes outlive the command, found again
through the state file).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import yaml

from localcluster import (
    binaries,
    components,
    images,
    kubeapi,
    netns,
    node,
    nodes,
    processes,
    readiness,
)
from localcluster.components import Layout, Ports
from localcluster.node import NodeLayout
from localcluster.pki import ClusterPki, write_kubeconfig
from localcluster.processes import Process
from localcluster.state import STATE_FILE, ClusterState, ProcessRecord

CONTROL_PLANE = ("kubernetes", "etcd", "kwok", "helm")


class ClusterStartError(RuntimeError):
    """The control plane did not come up; the message carries each component's log tail."""


class LocalCluster:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1."""

    def __init__(
        self,
        state_dir: Path | str,
        *,
        detached: bool = False,
        node_specs: Sequence[nodes.NodeSpec] | None = None,
        real_node: bool = True,
        timeout: float = 120.0,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.detached = detached
        self.node_specs = list(node_specs or nodes.default_nodes())
        self.real_node = real_node
        self.node = NodeLayout.of(self.state_dir)
        self.timeout = timeout
        self.ready_seconds = 0.0
        self.timings: dict[str, float] = {}  # phase -> seconds since start() when it was ready
        self.started_at = 0.0
        self._processes: list[Process] = []
        self._bins: binaries.Binaries | None = None
        self._layout: Layout | None = None
        self._ports: Ports | None = None
        self._t0 = 0.0

    # --- What tests use --------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"https://{components.HOST}:{self.ports.apiserver}"

    @property
    def kubeconfig(self) -> Path:
        """The admin (`system:masters`) kubeconfig, with inline certificates."""
        return self.layout.kubeconfig("admin")

    @property
    def pki(self) -> ClusterPki:
        return ClusterPki(self.layout.pki)

    def bin_dir(self, component: str) -> Path:
        """The cache directory of a component: kubernetes, etcd, kwok or helm."""
        return self.bins.dir(component)

    @property
    def kubectl(self) -> Path:
        return self.bins.path("kubectl")

    @property
    def helm(self) -> Path:
        return self.bins.path("helm")

    def env(self) -> dict[str, str]:
        """os.environ with KUBECONFIG set and the pinned kubectl and helm first on PATH."""
        path = os.pathsep.join([str(self.kubectl.parent), str(self.helm.parent)])
        env = dict(os.environ)
        env["PATH"] = path + os.pathsep + env.get("PATH", "")
        env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def kubeconfig_for(self, user: str, groups: Sequence[str] = ()) -> Path:
        """Mint a client certificate for `user` in `groups`; return a kubeconfig using it."""
        path = self.state_dir / "kubeconfigs" / "users" / f"{user.replace(':', '_')}.yaml"
        return self.pki.kubeconfig_for(path, self.server, user, groups)

    def api(self) -> kubeapi.Client:
        """A tiny JSON client acting as admin (what the harness itself uses)."""
        pki = self.layout.pki
        context = kubeapi.tls_context(pki / "ca.crt", pki / "admin.crt", pki / "admin.key")
        return kubeapi.Client(self.server, context)

    # --- Lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        """Bring the cluster up and wait until it is ready; on failure stop it and raise."""
        started, self.started_at = time.monotonic(), time.time()
        self._t0 = started
        self._bins = binaries.ensure(CONTROL_PLANE)
        try:
            self._prepare()
            if self.real_node:
                self._start_node_runtime()
            self._start_etcd_and_apiserver()
            self._start_the_rest()
        except BaseException as exc:
            report = self._failure_report(exc)
            self.stop()
            if isinstance(exc, Exception):
                raise ClusterStartError(report) from exc
            raise
        self.ready_seconds = time.monotonic() - started
        self.state.write(self.state_dir)
        return self

    def stop(self) -> None:
        """Stop the processes this object started (reverse order), end what is left of the real
        node (pods, shims; by pid), and drop etcd's data."""
        while self._processes:
            processes.stop(self._processes.pop())
        if self.real_node:
            node.teardown(self.node)
        if self._layout is not None:
            shutil.rmtree(self._layout.etcd_data, ignore_errors=True)
            (self.state_dir / STATE_FILE).unlink(missing_ok=True)

    def restart(self, component: str, *, kill: bool = False, down: float = 0.0) -> float:
        """Stop one component and start it again in place: the same command line, ports, and
        data (etcd's data dir is kept), as an OS or a supervisor would restart it. `kill` stops
        it with SIGKILL (a crash) instead of SIGTERM; it stays down for `down` seconds. Returns
        once it is healthy again (etcd: the apiserver too), with the seconds since the stop."""
        names = [p.name for p in self._processes]
        if component not in names:
            raise ValueError(f"no running component {component!r} (running: {', '.join(names)})")
        index = names.index(component)
        old = self._processes[index]
        stopped = time.monotonic()
        (processes.kill if kill else processes.stop)(old)
        time.sleep(down)
        self._processes[index] = processes.spawn(
            old.name, old.argv, old.log, owned=not self.detached, setup=old.setup
        )
        self.state.write(self.state_dir)
        expected = '"health":"true"' if component == "etcd" else "ok"
        checks = {component: self._health_check(component, expected)}
        if component == "etcd":
            checks["kube-apiserver"] = self._health_check("kube-apiserver", "ok")
        self._wait(checks, f"restart {component}")
        return time.monotonic() - stopped

    @property
    def state(self) -> ClusterState:
        return ClusterState(
            server=self.server,
            kubeconfig=str(self.kubeconfig),
            etcd_data=str(self.layout.etcd_data),
            ports={k: int(v) for k, v in vars(self.ports).items()},
            processes=[ProcessRecord.of(p) for p in self._processes],
            started_at=self.started_at,
            ready_seconds=round(self.ready_seconds, 2),
            real_node=self.real_node,
        )

    def load_images(self, names: Sequence[str]) -> float:
        """Build (when not cached) and import images into the real node; return seconds."""
        if not self.real_node:
            raise RuntimeError("this cluster has no real node to load images into")
        archives = images.ensure(names)
        return images.import_into(self.node.containerd_socket, archives.values())

    # --- Internals --------------------------------------------------------------------------

    @property
    def bins(self) -> binaries.Binaries:
        if self._bins is None:
            self._bins = binaries.ensure(CONTROL_PLANE)
        return self._bins

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            raise RuntimeError("the cluster has not been started")
        return self._layout

    @property
    def ports(self) -> Ports:
        if self._ports is None:
            raise RuntimeError("the cluster has not been started")
        return self._ports

    def _prepare(self) -> None:
        self._layout = layout = Layout.create(self.state_dir)
        self._ports = Ports.pick()
        shutil.rmtree(layout.logs, ignore_errors=True)
        pki = ClusterPki.create(
            layout.pki, components.first_service_ip(), node.NODE_NAME, node.NODE_IP
        )
        for name in ("admin", "kube-controller-manager", "kube-scheduler", "kwok"):
            write_kubeconfig(
                layout.kubeconfig(name), self.server, pki.ca_pem, pki.client(name), name
            )
        config = components.scheduler_config(layout)
        layout.scheduler_config.write_text(yaml.safe_dump(config))
        layout.audit_policy.write_text(yaml.safe_dump(components.audit_policy()))
        if self.real_node:
            layout.egress_selector.write_text(yaml.safe_dump(components.egress_selector(self.node)))

    def _start_node_runtime(self) -> None:
        """The real node's namespace, the node proxy and containerd with the pause image: all
        they need is files, so they start before etcd and the API server."""
        service_ip = components.first_service_ip()
        node.teardown(self.node)  # what a killed earlier run of this state dir left
        netns.create(self.node.netns, [node.NODE_IP, service_ip])
        node.prepare(self.node)
        node.write_configs(self.node, self.layout.pki)
        write_kubeconfig(
            self.node.kubelet_kubeconfig, f"https://{service_ip}:443", self.pki.ca_pem,
            self.pki.client("kubelet"), "kubelet",
        )  # fmt: skip
        pause = images.ensure(["pause"])["pause"]
        self._spawn("nodeproxy", components.nodeproxy(self.node, self.ports, service_ip))
        self._spawn("containerd", node.containerd(self.node), setup=self._in_node)
        self._wait({"containerd": _socket_check(self.node.containerd_socket)}, "containerd")
        images.import_into(self.node.containerd_socket, [pause])

    def _in_node(self) -> None:
        """Runs in a node process's child before exec: the node's namespace and cgroup."""
        netns.enter(self.node.netns)
        node.join_runtime_cgroup(self.node)

    def _spawn(self, name: str, argv: list[str], setup: Callable[[], None] | None = None) -> None:
        log = self.layout.logs / f"{name}.log"
        self._processes.append(
            processes.spawn(name, argv, log, owned=not self.detached, setup=setup)
        )
        self.state.write(self.state_dir)  # at once, so `down` finds it even if we get killed

    def _start_etcd_and_apiserver(self) -> None:
        # In sequence: starting both at once saves nothing measurable (the apiserver takes
        # ~2.5 s either way) and fills its log with etcd connection errors.
        self._spawn("etcd", components.etcd(self.bins, self.layout, self.ports))
        self._wait({"etcd": self._health_check("etcd", '"health":"true"')}, "etcd")
        argv = components.apiserver(self.bins, self.layout, self.ports)
        if self.real_node:
            argv += components.apiserver_node_flags(self.layout)
        self._spawn("kube-apiserver", argv)
        self._wait({"kube-apiserver": self._health_check("kube-apiserver", "ok")}, "apiserver")

    def _start_the_rest(self) -> None:
        bins, layout, ports = self.bins, self.layout, self.ports
        self._spawn("kube-controller-manager", components.controller_manager(bins, layout, ports))
        self._spawn("kube-scheduler", components.scheduler(bins, layout, ports))
        self._spawn("kwok", components.kwok(bins, layout, ports))
        names = [spec.name for spec in self.node_specs]
        if self.real_node:
            self._spawn("kubelet", node.kubelet(bins.path("kubelet"), self.node), self._in_node)
            names.append(node.NODE_NAME)
        client = self.api()
        for spec in self.node_specs:
            client.create("/api/v1/nodes", nodes.node_manifest(spec))
        checks = {
            name: self._health_check(name, "ok")
            for name in ("kube-controller-manager", "kube-scheduler", "kwok")
        }
        checks["nodes"] = readiness.nodes_check(client, names)
        if self.real_node:
            checks["kubelet's Lease"] = readiness.lease_check(client, node.NODE_NAME)
        checks["default ServiceAccount"] = readiness.service_account_check(client)
        self._wait(checks, "nodes")

    def _health_check(self, name: str, expected: str) -> readiness.Check:
        pki = self.layout.pki
        if name == "kube-apiserver":
            context = kubeapi.tls_context(pki / "ca.crt", pki / "admin.crt", pki / "admin.key")
        else:
            context = kubeapi.tls_context(None)  # self-signed serving certs of cm and scheduler
        return readiness.http_check(components.health_url(name, self.ports), context, expected)

    def _wait(self, checks: dict[str, readiness.Check], phase: str) -> None:
        readiness.wait_until(checks, self.timeout, self._raise_if_exited)
        self.timings[phase] = round(time.monotonic() - self._t0, 2)

    def _raise_if_exited(self) -> None:
        for process in self._processes:
            if (code := process.exited()) is not None:
                raise RuntimeError(f"{process.name} exited with code {code}")

    def _failure_report(self, exc: BaseException) -> str:
        lines = [f"local cluster failed to start: {exc}", f"state dir: {self.state_dir}"]
        for process in self._processes:
            lines += [f"--- {process.name} ({process.log}) ---", processes.tail(process.log)]
        return "\n".join(lines)


def _socket_check(path: Path) -> readiness.Check:
    return lambda: None if path.is_socket() else f"no socket {path} yet"


def healthy(state_dir: Path | str) -> ClusterState | None:
    """The recorded cluster in `state_dir` if all its processes run and /readyz says ok."""
    state_dir = Path(state_dir).resolve()
    state = ClusterState.read(state_dir)
    if state is None or not state.ready_seconds or state.dead():
        return None
    pki = state_dir / "pki"
    context = kubeapi.tls_context(pki / "ca.crt", pki / "admin.crt", pki / "admin.key")
    status, _ = kubeapi.get_text(f"{state.server}/readyz", context)
    return state if status == 200 else None
