"""dynoform's operator run from a checkout as a local process, as a user runs it: start, stop,
kill -9, its log and the errors in it. The tests, the benchmarks and the chaos suite run it
against a local cluster under a least-privilege identity of its own (OPERATOR_USER).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from localcluster.binaries import REPO_ROOT
from localcluster.processes import free_port
from localcluster.readiness import wait_until

ROOT = REPO_ROOT
OPERATOR_USER = "dynoform-operator"


class Operator:
    """The operator process: start, stop, kill -9, and its log."""

    def __init__(
        self,
        kubeconfig: str,
        log_path: Path,
        resync: float = 2.0,
        extra_args: tuple[str, ...] = (),
        source: Path | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.resync = resync
        # Admission is the API server's own (the policies `install` applies); the optional
        # webhook is `("--webhook-port", "0")`: served on 127.0.0.1, registered by kopf.
        self.extra_args = extra_args
        # A copy of operator/ to run instead of the working tree (the benchmarks measure a
        # snapshot, whatever is edited meanwhile).
        self.source = source
        # Where its /metrics is served, when its arguments ask for it (--metrics-port).
        self.metrics_url: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self.port = free_port()

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
        wait_until({"liveness": self._pending}, 30.0, lambda: None)

    def _pending(self) -> str | None:
        return None if self._alive() else "the operator's liveness endpoint does not answer yet"

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
        """The operator stopped for the block."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def resyncs(self) -> int:
        """How many resync passes the running operator has finished (its log says each)."""
        done = re.findall(r"Resync (\d+) done: ", self.log_since_start())
        return int(done[-1]) if done else 0

    def wait_for_resyncs(self, passes: int = 2, timeout: float = 60.0) -> None:
        """Wait until `passes` more resync passes have finished: every Formation reconciled
        again that many times, whatever it did (the audit log says whether it wrote)."""
        target = self.resyncs() + passes

        def pending() -> str | None:
            done = self.resyncs()
            return None if done >= target else f"{done} of {target} resync passes done"

        wait_until({"resyncs": pending}, timeout, lambda: None)

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


Kubectl = Callable[..., object]


def install(kubectl: Kubectl) -> None:
    """Install dynoform as a user does without the chart: the CRDs and the validating admission
    policies (crds/), the built-in sizes and the audit stamp's MutatingAdmissionPolicy
    (deploy/), and the operator's RBAC. `kubectl(*args, input=None)` runs kubectl against the
    cluster and raises when it fails."""
    kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/formations.dyno.dev",
        "crd/dynosizes.dyno.dev",
    )
    kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "dynosizes.yaml"))
    kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "stamp-policy.yaml"))
    kubectl("apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    wait_for_admission(kubectl)


def wait_for_admission(kubectl: Kubectl, timeout: float = 60.0) -> None:
    """Until Formation writes are served and judged and stamped by the admission policies.

    Established is not yet served for writes (for a moment the API server may still answer
    503 "Resource kind ... not found"), and the API server loads policies and their params
    through informers, a moment after they are created. Server-side dry runs tell when both
    are in force: a valid Formation comes back stamped, one that the catalog forbids is
    refused.
    """

    def probe(size: str, quantity: int) -> str:
        spec = {
            "image": "probe",
            "processes": {"web": {"command": "true", "size": size, "quantity": quantity}},
        }
        meta = {"name": "admission-probe", "namespace": "default"}
        body = {
            "apiVersion": "dyno.dev/v1alpha1",
            "kind": "Formation",
            "metadata": meta,
            "spec": spec,
        }
        return json.dumps(body)

    def in_force() -> str | None:
        try:
            done = kubectl(
                "apply", "--dry-run=server", "-o", "json", "-f", "-", input=probe("standard-1x", 1)
            )
        except Exception as exc:  # whatever kubectl said: try again, until the timeout
            return f"a Formation write is not served yet: {exc}"
        annotations = json.loads(str(getattr(done, "stdout", "{}"))).get("metadata", {})
        if "dyno.dev/changed-by" not in (annotations.get("annotations") or {}):
            return "the stamp policy is not in force yet"
        try:
            kubectl("apply", "--dry-run=server", "-f", "-", input=probe("eco", 2))
        except Exception:  # refused, as it should be
            return None
        return "the catalog policy is not in force yet"

    wait_until({"admission": in_force}, timeout, lambda: None)


def wait_for_catalog(kubectl: Kubectl, timeout: float = 60.0) -> None:
    """Until every DynoSize's status lists every DynoSize: the index the catalog policy's
    whole-catalog rules read, which the operator writes when sizes come and go. A Formation on
    a size added a moment ago is accepted from then on."""

    def indexed() -> str | None:
        listed = kubectl("get", "dynosizes", "-o", "json")
        sizes = json.loads(str(getattr(listed, "stdout", "{}"))).get("items") or []
        names = {s["metadata"]["name"] for s in sizes}
        for size in sizes:
            have = {e["name"] for e in (size.get("status") or {}).get("catalog") or []}
            if not names <= have:
                return f"DynoSize {size['metadata']['name']} lacks {sorted(names - have)}"
        return None

    wait_until({"catalog": indexed}, timeout, lambda: None)
