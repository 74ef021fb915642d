"""The webhook server's process: where the operator reaches it, how its exit reads, and the
operator's side of the pair (its readiness, its supervision) against a real forked child."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dynoform import tls, webhook_process
from dynoform.webhook_process import NotServing, fork, report_synced


@pytest.mark.parametrize(
    ("listen", "dial"),
    [
        pytest.param("0.0.0.0:9443", ("127.0.0.1", 9443), id="the IPv4 wildcard: the loopback"),
        pytest.param(":9443", ("127.0.0.1", 9443), id="no address: the loopback"),
        pytest.param("[::]:9443", ("::1", 9443), id="the IPv6 wildcard: its loopback"),
        pytest.param("10.1.2.3:8443", ("10.1.2.3", 8443), id="an address: that address"),
    ],
)
def test_the_operator_dials_a_listening_address_on_the_loopback_when_it_is_a_wildcard(
    listen: str, dial: tuple[str, int]
) -> None:
    addr, port = webhook_process.split_listen(listen)
    assert (webhook_process.dial_host(addr), port) == dial


def test_an_exit_status_reads_as_a_code_or_a_signal() -> None:
    assert webhook_process.describe_exit(0) == "code 0"
    assert webhook_process.describe_exit(1 << 8) == "code 1"
    assert webhook_process.describe_exit(signal.SIGKILL) == "signal SIGKILL"
    assert webhook_process.describe_exit(None) == "an unknown status"


def test_a_free_port_can_be_bound_once_chosen() -> None:
    port = webhook_process.free_port()
    assert 0 < port < 65536


# -- the operator's side, with a real child ------------------------------------------------


def _synced_then_sleep(ready_fd: int, _: int) -> int:
    report_synced(ready_fd)
    time.sleep(60)  # until the operator stops it (SIGTERM, default action)
    return 0


def _exit_3(_: int, __: int) -> int:
    return 3


@pytest.fixture
async def tls_port(tmp_path: Path) -> AsyncIterator[int]:
    """A TLS server on 127.0.0.1 standing for the child's webhook server."""
    cert = tls.self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.certfile, cert.keyfile)

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=context)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def test_the_operator_is_ready_once_the_child_synced_and_completes_a_tls_handshake(
    tls_port: int,
) -> None:
    child = fork(_synced_then_sleep)
    failures: list[bool] = []
    child.supervise(on_failure=lambda: failures.append(True))
    try:
        await child.ready("127.0.0.1", tls_port, timeout=10)
        assert child.synced.is_set()
    finally:
        await child.stop(timeout=5)
    assert webhook_process.describe_exit(child.status) == "signal SIGTERM"
    assert not child.failed
    assert failures == []  # a stop we asked for is no failure


async def test_a_child_that_exits_is_reaped_and_stops_the_operator() -> None:
    child = fork(_exit_3)
    failed = asyncio.Event()
    child.supervise(on_failure=failed.set)
    await asyncio.wait_for(failed.wait(), 10)
    assert child.failed
    assert webhook_process.describe_exit(child.status) == "code 3"
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped: no zombie left
    with pytest.raises(NotServing, match="exited with code 3"):
        await child.ready("127.0.0.1", 1, timeout=10)
    await child.stop()  # nothing left to stop: returns at once


async def test_readiness_gives_up_after_its_timeout_and_says_what_is_missing() -> None:
    child = fork(_synced_then_sleep)
    child.supervise(on_failure=lambda: None)
    closed = webhook_process.free_port()  # nothing listens there
    try:
        with pytest.raises(NotServing, match=f"has not served on 127.0.0.1:{closed} after 1 s"):
            await child.ready("127.0.0.1", closed, timeout=1)
    finally:
        await child.stop(timeout=5)


async def test_the_child_stops_itself_when_its_parent_is_gone() -> None:
    stopped = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set_result, True)
    try:
        # A parent pid that is not ours stands for a parent that died (we were re-parented).
        await asyncio.wait_for(webhook_process.watch_parent(os.getppid() + 1, 0.01), 5)
        assert await asyncio.wait_for(stopped, 5)
    finally:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
