"""Fixtures that run dynoform as users run it: CRDs and RBAC installed, `python -m dynoform`
in a subprocess under its own least-privilege identity (local control plane), one namespace per
test. The operator's writes are counted from the API server's audit log when the local control
plane keeps one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.audit import AuditLog
from tests.kubehelp import eventually

ROOT = Path(__file__).resolve().parents[1]
OPERATOR_USER = "dynoform-operator"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """The operator process: start, stop, kill -9, and its log."""

    def __init__(
        self,
        kubeconfig: str,
        log_path: Path,
        resync: float = 2.0,
        extra_args: tuple[str, ...] = ("--webhook-port", "0"),
        source: Path | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.resync = resync
        # Default: local mode, the operator registers its webhooks on 127.0.0.1 (any port).
        self.extra_args = extra_args
        # A copy of operator/ to run instead of the working tree (the benchmarks measure a
        # snapshot, whatever is edited meanwhile).
        self.source = source
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self.port = _free_port()

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "PYTHONUNBUFFERED": "1"}
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source)
        argv = [
            sys.executable,
            "-m",
            "dynoform",
            "--liveness",
            f"http://127.0.0.1:{self.port}/healthz",
            "--resync",
            str(self.resync),
            *self.extra_args,
        ]
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        if os.environ.get("DYNOFORM_TEST_VERBOSE"):  # debug logs of the operator under test
            argv.append("-v")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        eventually(self._alive, timeout=30, interval=0.2, what="the operator's liveness endpoint")

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"the operator exited {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @contextmanager
    def down(self) -> Iterator[None]:
        """The operator stopped for the block (its webhooks then fail and are ignored)."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def log_since_start(self) -> str:
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def errors(self) -> list[str]:
        """Tracebacks and errors the operator logged (a healthy run has none)."""
        text = self.log_path.read_text(errors="replace")
        # kopf's log format writes the level as `[ERROR   ]`.
        marks = ("Traceback", " ERROR ", "[ERROR", "[CRITICAL")
        found, stopping = [], False
        for line in text.splitlines():
            # Stopped while it was still starting (a test stops it right after its start),
            # kopf logs its start-up requests, cut by its own closing session, as failed
            # attempts at ERROR. A requested stop is not the operator's error; until the next
            # start, such lines are skipped, and nothing else is.
            if "Signal SIGTERM is received" in line:
                stopping = True
            elif "Activity 'configure' succeeded" in line:
                stopping = False
            shutdown_noise = stopping and "Request attempt #" in line
            if any(m in line for m in marks) and not shutdown_noise:
                found.append(line)
        return found


@pytest.fixture(scope="session")
def installed(cluster):  # type: ignore[no-untyped-def]
    """CRDs and the operator's RBAC installed in the cluster."""
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/formations.dyno.dev",
        "crd/dynosizes.dyno.dev",
    )
    cluster.kubectl("apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    return cluster


@pytest.fixture(scope="session")
def operator(installed, tmp_path_factory):  # type: ignore[no-untyped-def]
    """dynoform running for the session (as `dynoform-operator` on the local control plane)."""
    local = installed.local
    kubeconfig = str(local.kubeconfig_for(OPERATOR_USER)) if local else installed.kubeconfig
    op = Operator(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log")
    op.start()
    yield op
    op.stop()
    print(f"\n--- operator log tail ---\n{op.log_tail()}")


@pytest.fixture(scope="session")
def audit(installed) -> AuditLog:  # type: ignore[no-untyped-def]
    """The local API server's audit log of writes (only the local control plane keeps one)."""
    if installed.local is None:
        pytest.skip("counting writes needs the local control plane's audit log")
    return AuditLog(installed.local.layout.audit_log)


@pytest.fixture(scope="session")
def kube(installed) -> Client:  # type: ignore[no-untyped-def]
    return Client(field_manager="dynoform-tests")


@pytest.fixture
def namespace(kube: Client) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    kube.delete(Namespace, name)
