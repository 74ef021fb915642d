"""The node proxy: the two ways across the border of the real node's network namespace.

The control plane listens on the host's 127.0.0.1; the real node and its pods live in a network
namespace with no route out (see `netns`). One small process joins the two, in both directions,
and nothing else crosses:

- **Into the API server.** A TCP listener inside the namespace on the `kubernetes` Service's
  ClusterIP (10.96.0.1:443, the address the kubelet gives every pod in KUBERNETES_SERVICE_HOST,
  and the one the kubelet itself uses) forwards each connection to the API server on the host's
  127.0.0.1. Pods log in with their service account exactly as in any cluster; TLS is end to end.
- **Out of the API server.** kube-apiserver's egress selector ("cluster": kubelet logs, exec,
  attach and port-forward, Service-backed admission webhooks, proxies) sends `CONNECT host:port`
  over a Unix socket; the proxy dials that address inside the namespace, answers 200, and pipes
  bytes. The Unix socket is a file, so it needs no address at all.

A socket belongs to the namespace of the thread that created it, so the process makes its
listener and its egress sockets inside the namespace and its connections to the API server in the
host's (`_socket_in`). It is one asyncio loop; the harness starts it as
`python -m localcluster.nodeproxy` and stops it by its pid like every other component.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from localcluster import netns

log = logging.getLogger("nodeproxy")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CHUNK = 64 * 1024
MAX_HEADER = 8 * 1024


class Namespaces:
    """File descriptors of the host's and the node's network namespaces."""

    def __init__(self, node: str) -> None:
        self.host = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.node = os.open(netns.path(node), os.O_RDONLY | os.O_CLOEXEC)

    def socket_in(self, fd: int, family: int = socket.AF_INET) -> socket.socket:
        """A non-blocking TCP socket created in the namespace `fd` (then back to the host's)."""
        netns.enter_fd(fd)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        finally:
            netns.enter_fd(self.host)
        sock.setblocking(False)
        return sock


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close, so each direction ends on its own."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    try:
        await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))
    finally:
        for _, writer in (a, b):
            writer.close()


async def dial(
    ns: Namespaces, fd: int, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = ns.socket_in(fd)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


def api_forwarder(ns: Namespaces, api_port: int) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await dial(ns, ns.host, "127.0.0.1", api_port)
        except OSError as exc:
            log.warning("API server unreachable: %s", exc)
            writer.close()
            return
        await splice((reader, writer), upstream)

    return handle


def egress_proxy(ns: Namespaces) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = await _read_connect(reader)
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await _answer(writer, 400, f"bad request: {exc}")
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = await dial(ns, ns.node, host.strip("[]"), int(port))
        except (OSError, ValueError) as exc:
            log.info("CONNECT %s refused: %s", target, exc)
            await _answer(writer, 502, str(exc))
            return
        log.info("CONNECT %s", target)  # every way in, on the record
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await splice((reader, writer), upstream)

    return handle


async def _read_connect(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEADER:
        raise ValueError("header too long")
    method, target, _ = head.split(b"\r\n", 1)[0].decode("ascii").split(" ", 2)
    if method != "CONNECT" or ":" not in target:
        raise ValueError(f"not a CONNECT: {method} {target}")
    return target


async def _answer(writer: asyncio.StreamWriter, code: int, reason: str) -> None:
    writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n\r\n".encode())
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


async def serve(args: argparse.Namespace) -> None:
    ns = Namespaces(args.netns)
    listeners = []
    for address in args.listen:
        host, _, port = address.rpartition(":")
        sock = ns.socket_in(ns.node)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        listeners.append(await asyncio.start_server(api_forwarder(ns, args.api_port), sock=sock))
    Path(args.egress_socket).unlink(missing_ok=True)
    egress = await asyncio.start_unix_server(egress_proxy(ns), path=args.egress_socket)
    log.info(
        "ready: %s -> 127.0.0.1:%d; egress on %s", args.listen, args.api_port, args.egress_socket
    )
    async with contextlib.AsyncExitStack() as stack:
        for server in [*listeners, egress]:
            await stack.enter_async_context(server)
        await asyncio.gather(*(s.serve_forever() for s in [*listeners, egress]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m localcluster.nodeproxy", description=__doc__)
    p.add_argument("--netns", required=True, help="the node's network namespace")
    p.add_argument("--api-port", type=int, required=True, help="the API server's port on 127.0.0.1")
    p.add_argument(
        "--listen", action="append", required=True, metavar="ADDR:PORT",
        help="where pods and the kubelet reach the API server, inside the namespace",
    )  # fmt: skip
    p.add_argument("--egress-socket", required=True, help="the API server's egress Unix socket")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
