"""The pytest side of the harness: `--cluster=local|existing|kind` and the `cluster` fixture.

Owns how a test session gets its Kubernetes API server. The session fixture `cluster` is lazy:
it starts nothing until a test asks for it, so `pytest tests/unit` never starts a control plane.
- local (default): a LocalCluster for the session, state in a pytest tmp dir, stopped at the end.
  Missing binaries are built first; a failed build or start fails the run (it never skips).
- existing: the cluster of $KUBECONFIG (or ~/.kube/config), used as it is.
- kind: pytest-kind's `kind_cluster` fixture, when pytest-kind and Docker are both there.
While the fixture is active, os.environ["KUBECONFIG"] points at the cluster, so clients created
in tests (lightkube's `Client()`, kubectl, helm) talk to it. Tests that use the fixture are
marked `cluster` automatically, so `-m "not cluster"` deselects them.
With the local control plane (what `make test` and CI run), a skipped test fails the run: the
harness builds whatever a test needs, so a skip there is a test that proved nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from localcluster import binaries
from localcluster.binaries import BinariesError
from localcluster.cluster import ClusterStartError, LocalCluster

MODES = ("local", "existing", "kind")
COMMAND_TIMEOUT = 120.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster",
        choices=MODES,
        default=os.environ.get("DYNOFORM_TEST_CLUSTER", "local"),
        help="where tests that need Kubernetes run: a local control plane started for the "
        "session (default), the existing cluster of $KUBECONFIG, or a kind cluster "
        "(pytest-kind and Docker). Env: DYNOFORM_TEST_CLUSTER.",
    )


_skipped: list[str] = []  # node ids of the session's skipped tests


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A skip is reported at setup (a fixture's) or in the call (the test's own); xfail is not one.
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and exitstatus == 0 and session.config.getoption("--cluster") == "local":
        print(f"\nOn the local control plane nothing may skip; {len(_skipped)} did:")
        for nodeid in _skipped:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


@dataclass
class ClusterHandle:
    """What tests get: a kubeconfig, an environment, and kubectl/helm bound to the cluster."""

    kubeconfig: str
    mode: str
    tool_dirs: list[str] = field(default_factory=list)
    local: LocalCluster | None = None

    def env(self) -> dict[str, str]:
        """os.environ with KUBECONFIG set and the pinned kubectl/helm first on PATH."""
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([*self.tool_dirs, env.get("PATH", "")])
        env["KUBECONFIG"] = self.kubeconfig
        return env

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the cluster; with check, a failure raises showing its stderr."""
        return self._run("kubectl", args, input, check)

    def helm(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self._run("helm", args, input, check)

    def _run(
        self, tool: str, args: tuple[str, ...], input: str | None, check: bool
    ) -> subprocess.CompletedProcess[str]:
        env = self.env()
        exe = shutil.which(tool, path=env["PATH"]) or tool
        result = subprocess.run(
            [exe, *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{tool} {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result


@pytest.fixture(scope="session")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterHandle]:
    """The session's Kubernetes cluster (see the module docstring for the modes)."""
    mode = str(request.config.getoption("--cluster"))
    with _provide(mode, request, tmp_path_factory) as handle, _kubeconfig_env(handle.kubeconfig):
        yield handle


@contextmanager
def _provide(
    mode: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterHandle]:
    if mode == "local":
        with _local(tmp_path_factory.mktemp("localcluster")) as handle:
            yield handle
    elif mode == "existing":
        yield _existing()
    else:
        yield _kind(request)


@contextmanager
def _local(state_dir: Path) -> Iterator[ClusterHandle]:
    local = _start_local(state_dir)
    try:
        tools = [str(local.kubectl.parent), str(local.helm.parent)]
        yield ClusterHandle(str(local.kubeconfig), "local", tools, local)
    finally:
        local.stop()


def _start_local(state_dir: Path) -> LocalCluster:
    try:
        return LocalCluster(state_dir).start()
    except (BinariesError, ClusterStartError) as exc:
        message = f"the local control plane did not start:\n{exc}"
    pytest.fail(message, pytrace=False)


def _existing() -> ClusterHandle:
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not Path(kubeconfig.split(os.pathsep)[0]).is_file():
        pytest.fail(f"--cluster=existing: no kubeconfig at {kubeconfig}", pytrace=False)
    return ClusterHandle(kubeconfig, "existing", _pinned_tool_dirs())


def _kind(request: pytest.FixtureRequest) -> ClusterHandle:
    if importlib.util.find_spec("pytest_kind") is None:
        pytest.fail("--cluster=kind needs pytest-kind: pip install -e '.[kind]'", pytrace=False)
    if shutil.which("docker") is None or _docker_unreachable():
        pytest.fail("--cluster=kind needs a running Docker engine", pytrace=False)
    kind_cluster = request.getfixturevalue("kind_cluster")
    return ClusterHandle(str(kind_cluster.kubeconfig_path), "kind", _pinned_tool_dirs())


def _docker_unreachable() -> bool:
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    return probe.returncode != 0


def _pinned_tool_dirs() -> list[str]:
    """The pinned kubectl and helm when already built; otherwise whatever is on PATH."""
    if not all(binaries.is_complete(c) for c in ("kubernetes", "helm")):
        return []
    bins = binaries.ensure(("kubernetes", "helm"))
    return [str(bins.dir("kubernetes")), str(bins.dir("helm"))]


@contextmanager
def _kubeconfig_env(kubeconfig: str) -> Iterator[None]:
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = kubeconfig
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
