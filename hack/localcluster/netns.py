"""The real node's network namespace: made and removed by the harness, entered by its processes.

Owns the one network namespace of a cluster's real node. The kubelet refuses a loopback node IP,
and the network rule of this project allows no address outside 127.0.0.1 and namespaces the
tooling makes itself, so the node (containerd, the kubelet, its pods, the node proxy's listener)
lives in a namespace of its own, named after the cluster. It has no route anywhere: only `lo`,
carrying the node's address and the `kubernetes` Service's ClusterIP, and the CNI bridge that
containerd adds for pods. Whatever a process inside dials that is not in the namespace fails at
once (ENETUNREACH) instead of leaving the machine.

`enter(name)` switches the calling thread into the namespace with setns(2); the harness calls it
in a child between fork and exec (`processes.spawn(..., netns=...)`), so the binaries run there
with their own argv and /proc/<pid>/exe, and in the host's mount namespace (`ip netns exec` would
give each its own, and the kubelet's volume mounts must be visible to containerd).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")
_CLONE_NEWNET = 0x40000000


class NetnsError(RuntimeError):
    """A namespace could not be made, entered or removed."""


def path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return path(name).exists()


def create(name: str, addresses: Iterable[str]) -> None:
    """Make namespace `name` with `lo` up and each address (a /32) on it; replace a leftover."""
    if exists(name):
        delete(name)
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")
    for address in addresses:
        _ip("-n", name, "addr", "add", f"{address}/32", "dev", "lo")


def delete(name: str) -> None:
    """Remove the namespace (its veths and bridge go with it); a missing one is fine."""
    if exists(name):
        _ip("netns", "delete", name)


def enter(name: str) -> None:
    """Move the calling thread into namespace `name` (setns(2); os.setns needs Python 3.12)."""
    fd = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter_fd(fd)
    finally:
        os.close(fd)


def enter_fd(fd: int) -> None:
    """Move the calling thread into the network namespace open as `fd`."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        raise NetnsError(f"setns(fd {fd}): {os.strerror(ctypes.get_errno())}")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip()}")
