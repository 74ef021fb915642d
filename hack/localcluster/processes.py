"""Starting, checking and stopping the control plane's OS processes.

Owns process lifecycle, and nothing about Kubernetes: every process starts in its own session
(hence its own process group) with stdout and stderr in a log file, so that stopping it reaches
any child it forked and so that a detached cluster outlives the shell that started it. A process
owned by a test session also gets `PR_SET_PDEATHSIG`, so a test runner killed with SIGKILL does not
leave a control plane behind (SIGKILL: when etcd and the apiserver get SIGTERM together, their
graceful shutdowns wait on each other for ~30 s). Only the main thread sets it, because the signal
fires when the *thread* that forked the child exits. Stopping is SIGTERM to the group, then SIGKILL
after a grace period.

A pid read back from a state file is only signalled after `/proc/<pid>/exe` shows it still runs
the binary we started: pids are reused, and `down` must never kill a stranger.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (all sockets held open while picking, so no duplicates)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it when the parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _before_exec(tie: bool, setup: Callable[[], None] | None) -> Callable[[], None] | None:
    if not tie and setup is None:
        return None

    def run() -> None:
        if tie:
            _die_with_parent()
        if setup is not None:
            setup()

    return run


@dataclass
class Process:
    """One started process: its name, argv, log file and pid."""

    name: str
    argv: Sequence[str]
    log: Path
    pid: int = 0
    popen: subprocess.Popen[bytes] | None = None
    setup: Callable[[], None] | None = None  # what runs before exec (kept for a restart)

    @property
    def binary(self) -> str:
        return self.argv[0]

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        if self.popen is not None:
            return self.popen.poll()
        return None if runs_binary(self.pid, self.binary) else -1


def spawn(
    name: str,
    argv: Sequence[str],
    log: Path,
    *,
    owned: bool,
    env: dict[str, str] | None = None,
    setup: Callable[[], None] | None = None,
) -> Process:
    """Start `argv` in a new session with its output appended to `log`. `setup` runs in the
    child before exec (the real node's processes enter its network namespace and cgroup)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    tie = owned and threading.current_thread() is threading.main_thread()
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_before_exec(tie, setup),
            env=env,
        )
    return Process(name, argv, log, popen.pid, popen, setup)


def runs_binary(pid: int, binary: str) -> bool:
    """True if `pid` is alive and executes `binary` (so it is still the process we started)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return exe.removesuffix(" (deleted)") == str(Path(binary).resolve())


def stop(process: Process, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL it."""
    if process.popen is None and not runs_binary(process.pid, process.binary):
        return
    _signal_group(process.pid, signal.SIGTERM)
    if not _wait_gone(process, grace):
        _signal_group(process.pid, signal.SIGKILL)
        _wait_gone(process, grace)


def kill(process: Process, grace: float = GRACE_SECONDS) -> None:
    """SIGKILL the process group at once (a crash, as the fault tests want it) and reap it."""
    if process.popen is None and not runs_binary(process.pid, process.binary):
        return
    _signal_group(process.pid, signal.SIGKILL)
    _wait_gone(process, grace)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _wait_gone(process: Process, timeout: float) -> bool:
    if process.popen is not None:
        try:
            process.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while runs_binary(process.pid, process.binary):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def running_cmdlines() -> list[str]:
    """The command lines of all processes we can see (for finding who uses a directory)."""
    lines = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines


def tail(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of a log file ('' if it does not exist)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
