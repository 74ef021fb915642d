"""The admission webhooks' own process: forked by the operator, watched by it, dying with it.

Why a process: in the operator's one event loop a webhook call waited behind watches, reconciles
and garbage-collection pauses of 100-270 ms; the API server measured 16-20 ms per call (1.3 ms on
an idle loop), and a `dyno ps:scale` PATCH took 60-90 ms instead of about 10. A process of its
own, with nothing else to do, answers at once.

How the pair behaves:
- The fork happens after the common imports and before any event loop, thread or connection
  exists; `gc.freeze()` first, so the collector never writes to the shared objects' pages and
  the child keeps sharing them copy-on-write.
- One pipe, written by the child: a byte once its DynoSize cache has loaded, end of file when it
  exits, however it exits. The operator's start-up waits for that byte and for a TLS handshake
  on the webhook port, so it reports alive only once the webhooks answer.
- The child leaves the operator's process group (a Ctrl+C stops the operator, which stops it)
  and dies with its parent: PR_SET_PDEATHSIG on Linux, and a check of getppid() every second as
  a fallback (other systems; a parent that died before the prctl).
- The child exiting while the operator runs stops the operator with exit status 1, so that its
  supervisor (the kubelet) restarts the pair whole instead of leaving an operator without
  webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import ssl
import sys
import traceback
from collections.abc import Callable

log = logging.getLogger("dynoform.webhook_process")

PR_SET_PDEATHSIG = 1  # linux/prctl.h
READY = b"1"


class NotServing(Exception):
    """The webhook server did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` now (the child binds it a moment later)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def split_listen(listen: str) -> tuple[str, int]:
    """`ADDR:PORT` as `--webhook-listen` takes it -> (address to bind, port); `[::]` unwrapped."""
    addr, _, port = listen.rpartition(":")
    return addr.strip("[]"), int(port)


def dial_host(addr: str) -> str:
    """Where the operator reaches a server bound to `addr`: a wildcard means the loopback."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(addr, addr)


def describe_exit(status: int | None) -> str:
    """A wait status as people read it: `code 1`, `signal SIGKILL`."""
    if status is None:
        return "an unknown status"
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


def fork(serve: Callable[[int, int], int]) -> WebhookProcess:
    """Fork; the child runs `serve(ready_fd, parent_pid)` and exits with what it returns (1 on
    an exception), never returning here. The parent gets the child's handle."""
    parent = os.getpid()
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()  # nothing buffered may be written twice
    sys.stderr.flush()
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        code = 1
        try:
            os.setpgid(0, 0)
            _die_with(parent)
            code = serve(write_fd, parent)
        except BaseException:
            traceback.print_exc()
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_fd)
    return WebhookProcess(pid, read_fd)


def _die_with(parent: int) -> None:
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the prctl: nobody would send the signal
        os._exit(0)


async def watch_parent(parent: int, interval: float = 1.0) -> None:
    """In the child: stop (as on SIGTERM) once the parent is gone; the fallback to the prctl."""
    while os.getppid() == parent:
        await asyncio.sleep(interval)
    log.warning("The operator (pid %d) is gone; the webhook server stops", parent)
    os.kill(os.getpid(), signal.SIGTERM)


def report_synced(ready_fd: int) -> None:
    """In the child: tell the operator that the DynoSize cache has loaded."""
    os.write(ready_fd, READY)


class WebhookProcess:
    """The operator's handle on the webhook server's process."""

    def __init__(self, pid: int, ready_fd: int) -> None:
        self.pid = pid
        self.ready_fd = ready_fd
        self.synced = asyncio.Event()
        self.exited = asyncio.Event()
        self.status: int | None = None
        self.stopping = False  # a stop we asked for: its exit is no failure
        self.failed = False
        self._watch: asyncio.Task[None] | None = None

    def supervise(self, on_failure: Callable[[], None]) -> None:
        """Follow the child from the running loop: its sync, its exit (then `on_failure()` unless
        we stopped it)."""
        self._watch = asyncio.create_task(self._follow(on_failure))

    async def _follow(self, on_failure: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(self.ready_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            while await reader.read(64):  # b"": end of file, the child has exited
                self.synced.set()
        finally:
            transport.close()
        self.status = await self._reap()
        self.exited.set()
        if not self.stopping:
            self.failed = True
            log.error(
                "Webhook server exited with %s; stopping so the operator restarts whole",
                describe_exit(self.status),
            )
            on_failure()

    async def _reap(self) -> int | None:
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return None  # reaped elsewhere
            if pid:
                return status
            await asyncio.sleep(0.01)

    async def ready(self, host: str, port: int, timeout: float) -> None:
        """Return once the child has loaded its DynoSizes and completes a TLS handshake on
        `host:port`; NotServing if it exits first or takes longer than `timeout` seconds."""

        async def serving() -> None:
            await self.synced.wait()
            while not await handshake(host, port):
                await asyncio.sleep(0.1)

        waiter = asyncio.create_task(serving())
        exited = asyncio.create_task(self.exited.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            exited.cancel()
        if waiter in done:
            return
        if exited in done:
            raise NotServing(f"the webhook server exited with {describe_exit(self.status)}")
        what = "loaded the DynoSizes" if not self.synced.is_set() else f"served on {host}:{port}"
        raise NotServing(f"the webhook server has not {what} after {timeout:g} s")

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL past `timeout`; returns once the child is reaped."""
        self.stopping = True
        if self._watch is None:  # never followed: reap it here
            self._watch = asyncio.create_task(self._follow(lambda: None))
        if not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.exited.wait(), timeout)
            except TimeoutError:
                log.warning("Webhook server still running after %g s; killing it", timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                await self.exited.wait()
        await self._watch


async def handshake(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a TLS server answers on host:port (its certificate is not judged: only that the
    server is up)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), timeout
        )
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True
