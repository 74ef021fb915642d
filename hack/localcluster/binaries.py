"""Where the control plane's binaries live, and building them when they are missing.

Owns the mapping from a binary (`kube-apiserver`, `etcd`, `kwok`, ...) to its cache directory
`$DYNOFORM_CACHE/bin/<component>-<version>/`, with the version read from the pinned `require` line
of `hack/go/<component>/go.mod`, exactly as `hack/build-binaries.sh` reads it. A cache entry counts
only once its `.complete` marker exists (the script renames a finished build into place).

Missing components are built by running that script, with its output streamed. A failed build
raises `BinariesError` with the reason: the harness never skips for want of binaries. Concurrent
callers (two test sessions) are serialised by a lock file, so a component is built once.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GO_MODULES = REPO_ROOT / "hack" / "go"
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-binaries.sh"

# Component -> the Go module its wrapper pins.
MODULES: Mapping[str, str] = {
    "kubernetes": "k8s.io/kubernetes",
    "etcd": "go.etcd.io/etcd/server/v3",
    "kwok": "sigs.k8s.io/kwok",
    "helm": "helm.sh/helm/v3",
    # Not the control plane: Flux's status library (kstatus) as a command, for the GitOps tests.
    "kstatus": "sigs.k8s.io/cli-utils",
    # Not the control plane: Prometheus's promtool, to check the chart's alerting rules.
    "promtool": "github.com/prometheus/prometheus",
}
# Binary -> the component that ships it.
BINARIES: Mapping[str, str] = {
    "kube-apiserver": "kubernetes",
    "kube-controller-manager": "kubernetes",
    "kube-scheduler": "kubernetes",
    "kubectl": "kubernetes",
    "kubelet": "kubernetes",
    "etcd": "etcd",
    "kwok": "kwok",
    "helm": "helm",
    "kstatus": "kstatus",
    "promtool": "promtool",
}


class BinariesError(RuntimeError):
    """The pinned binaries are missing and could not be built."""


def cache_dir() -> Path:
    """`$DYNOFORM_CACHE`, else `$XDG_CACHE_HOME/dynoform`, else `~/.cache/dynoform`."""
    if explicit := os.environ.get("DYNOFORM_CACHE"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "dynoform"


def pinned_version(component: str) -> str:
    """The version of the component's module in `hack/go/<component>/go.mod`."""
    module = MODULES[component]
    go_mod = GO_MODULES / component / "go.mod"
    for line in go_mod.read_text().splitlines():
        fields = line.split()
        if fields[:2] == ["require", module] and len(fields) >= 3:
            return fields[2]
        if len(fields) == 2 and fields[0] == module:
            return fields[1]
    raise BinariesError(f"no version of {module} in {go_mod}")


def component_dir(component: str) -> Path:
    return cache_dir() / "bin" / f"{component}-{pinned_version(component)}"


def is_complete(component: str) -> bool:
    """Built, and every binary of it there (a cache entry from before a binary was added to a
    component lacks it, and is rebuilt)."""
    directory = component_dir(component)
    shipped = [b for b, c in BINARIES.items() if c == component and b != component]
    return (directory / ".complete").is_file() and all((directory / b).is_file() for b in shipped)


@dataclass(frozen=True)
class Binaries:
    """The cache directories of built components."""

    dirs: Mapping[str, Path]

    def dir(self, component: str) -> Path:
        return self.dirs[component]

    def path(self, binary: str) -> Path:
        """The absolute path of a binary, e.g. `path("kube-apiserver")`."""
        return self.dirs[BINARIES[binary]] / binary


def ensure(components: Iterable[str] = tuple(MODULES)) -> Binaries:
    """Return the binaries of `components`, building the missing ones first."""
    wanted = list(dict.fromkeys(components))
    if missing := [c for c in wanted if not is_complete(c)]:
        _build_locked(missing)
    return Binaries({c: component_dir(c) for c in wanted})


def _build_locked(components: list[str]) -> None:
    lock_path = cache_dir() / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        still_missing = [c for c in components if not is_complete(c)]
        if still_missing:
            build(still_missing)


def build(components: list[str]) -> None:
    """Run `hack/build-binaries.sh` for `components`, streaming its output to stderr."""
    print(f"localcluster: building {' '.join(components)} (cold: minutes)", file=sys.stderr)
    tail: deque[str] = deque(maxlen=30)
    try:
        proc = subprocess.Popen(
            [str(BUILD_SCRIPT), *components],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "DYNOFORM_CACHE": str(cache_dir())},
        )
    except OSError as exc:
        raise BinariesError(f"cannot run {BUILD_SCRIPT}: {exc}") from exc
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            tail.append(line)
            sys.stderr.write(line)
            sys.stderr.flush()
    _check_build(proc.returncode, components, "".join(tail))


def _check_build(returncode: int, components: list[str], tail: str) -> None:
    if returncode != 0:
        raise BinariesError(
            f"{BUILD_SCRIPT.name} {' '.join(components)} failed with exit code {returncode}; "
            f"last output:\n{tail}"
        )
    if incomplete := [c for c in components if not is_complete(c)]:
        raise BinariesError(f"{BUILD_SCRIPT.name} finished but {incomplete} are still missing")
