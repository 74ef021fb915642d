"""LocalCluster: a real Kubernetes control plane as local processes, with fake Nodes from kwok.

Owns the bring-up order, readiness and teardown of one cluster. Bring-up: PKI and kubeconfigs,
etcd, kube-apiserver, then controller-manager, scheduler and kwok together (they only need the
apiserver), the fake Nodes, and a wait until every Node is Ready and untainted and the `default`
ServiceAccount exists (proof that the controller-manager's controllers run). A failure at any
point stops what was started, in reverse order, and raises `ClusterStartError` with log tails.

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
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import yaml

from localcluster import binaries, components, kubeapi, nodes, processes, readiness
from localcluster.components import Layout, Ports
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
        timeout: float = 120.0,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.detached = detached
        self.node_specs = list(node_specs or nodes.default_nodes())
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
        """Stop the processes this object started (reverse order) and drop etcd's data."""
        while self._processes:
            processes.stop(self._processes.pop())
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
            old.name, old.argv, old.log, owned=not self.detached
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
        )

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
        pki = ClusterPki.create(layout.pki, components.first_service_ip())
        for name in ("admin", "kube-controller-manager", "kube-scheduler", "kwok"):
            write_kubeconfig(
                layout.kubeconfig(name), self.server, pki.ca_pem, pki.client(name), name
            )
        config = components.scheduler_config(layout)
        layout.scheduler_config.write_text(yaml.safe_dump(config))
        layout.audit_policy.write_text(yaml.safe_dump(components.audit_policy()))

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.layout.logs / f"{name}.log"
        self._processes.append(processes.spawn(name, argv, log, owned=not self.detached))
        self.state.write(self.state_dir)  # at once, so `down` finds it even if we get killed

    def _start_etcd_and_apiserver(self) -> None:
        # In sequence: starting both at once saves nothing measurable (the apiserver takes
        # ~2.5 s either way) and fills its log with etcd connection errors.
        self._spawn("etcd", components.etcd(self.bins, self.layout, self.ports))
        self._wait({"etcd": self._health_check("etcd", '"health":"true"')}, "etcd")
        self._spawn("kube-apiserver", components.apiserver(self.bins, self.layout, self.ports))
        self._wait({"kube-apiserver": self._health_check("kube-apiserver", "ok")}, "apiserver")

    def _start_the_rest(self) -> None:
        bins, layout, ports = self.bins, self.layout, self.ports
        self._spawn("kube-controller-manager", components.controller_manager(bins, layout, ports))
        self._spawn("kube-scheduler", components.scheduler(bins, layout, ports))
        self._spawn("kwok", components.kwok(bins, layout, ports))
        client = self.api()
        for spec in self.node_specs:
            client.create("/api/v1/nodes", nodes.node_manifest(spec))
        checks = {
            name: self._health_check(name, "ok")
            for name in ("kube-controller-manager", "kube-scheduler", "kwok")
        }
        checks["nodes"] = readiness.nodes_check(client, [spec.name for spec in self.node_specs])
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
