"""`python -m dynoform`: run the operator against the current KUBECONFIG (or in-cluster).

kopf owns the process (signals, liveness endpoint); dynoform.handlers registers on it. kopf runs
standalone: with several replicas, dynoform's own Lease election decides which one reconciles.
With webhooks, a forked process of its own serves them (dynoform.webhook_process), under its own
kopf with dynoform.webhooks registered; the operator waits for it to answer before it reports
alive, and stops with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import logging
import os
import re
import socket
import sys
import uuid
from collections.abc import Coroutine
from typing import Any

import kopf
import uvloop

from dynoform import webhook_process
from dynoform.webhook_process import WebhookProcess

# What both processes use: our modules, and the HTTP stack under lightkube that httpx2 imports
# only when a client is first made (4 MiB, once rather than twice).
SHARED_MODULES = (
    "dynoform.admission",
    "dynoform.cache",
    "dynoform.kube",
    "dynoform.tls",
    "anyio._backends._asyncio",
    "anyio.streams.tls",
    "encodings.idna",
    "h2.connection",
    "httpcore2",
    "truststore",
)


class RefusalsAreNotErrors(logging.Filter):
    """kopf logs a webhook's refusal (an AdmissionError) as an ERROR; for dynoform a refusal is
    the webhook doing its job, so it is logged as INFO and ERROR keeps meaning something."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if (
            record.levelno == logging.ERROR
            and message.startswith("Webhook ")
            and ("failed permanently" in message)
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _dns_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid object name (RFC 1123)")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dynoform", description=__doc__)
    p.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        default=[],
        metavar="NAMESPACE",
        help="Watch this namespace only; repeat for several (default: all namespaces).",
    )
    p.add_argument(
        "--leader-elect",
        action="store_true",
        help="Several replicas: only the holder of a Lease reconciles; all keep their caches "
        "warm and serve the webhooks, so a standby takes over in seconds.",
    )
    p.add_argument(
        "--lease-namespace",
        default=os.environ.get("POD_NAMESPACE", "default"),
        help="Namespace of the leader Lease (default: $POD_NAMESPACE, else default).",
    )
    p.add_argument(
        "--lease-name", default="dynoform", type=_dns_name, help="Name of the leader Lease."
    )
    p.add_argument(
        "--liveness",
        metavar="URL",
        help="Serve a liveness probe, e.g. http://0.0.0.0:8080/healthz.",
    )
    p.add_argument(
        "--resync", type=float, default=300.0, help="Seconds between full resyncs (default 300)."
    )
    p.add_argument(
        "--webhook-port",
        type=int,
        metavar="PORT",
        help="Serve the admission webhooks on https://127.0.0.1:PORT (0: any free port) with a "
        "self-signed certificate, and register them (local use; the Helm chart wires its own).",
    )
    p.add_argument(
        "--webhook-listen",
        metavar="ADDR:PORT",
        help="In a cluster: serve the admission webhooks on ADDR:PORT with the certificate in "
        "--webhook-tls-dir; the configurations are the Helm chart's (paths /catalog, /audit).",
    )
    p.add_argument(
        "--webhook-tls-dir",
        metavar="DIR",
        default="/tls",
        help="Directory with tls.crt and tls.key for --webhook-listen (default /tls).",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="Log every reconcile step.")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    kopf.configure(verbose=args.verbose)  # kopf installs the log handler and format.
    logging.getLogger("dynoform").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger("kopf.objects").addFilter(RefusalsAreNotErrors())
    if not args.verbose:
        # One line per HTTP request and per handled event drowns what matters ("Applied ...").
        logging.getLogger("httpx2").setLevel(logging.WARNING)
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if args.webhook_port is not None and args.webhook_listen:
        sys.exit("--webhook-port (local) and --webhook-listen (in a cluster) exclude each other")

    memo = kopf.Memo(
        namespaces=args.namespaces,
        resync_seconds=args.resync,
        leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace,
        lease_name=args.lease_name,
        identity=f"{os.environ.get('HOSTNAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}",
    )
    if args.webhook_port is not None or args.webhook_listen:
        # Before any event loop, thread or connection exists (dynoform.webhook_process).
        memo["webhook_process"] = _fork_webhooks(args, memo)
        memo["stop_flag"] = asyncio.Event()  # raised when the webhook server exits
    import dynoform.handlers  # noqa: F401  registers the controller's handlers, here only

    operator = kopf.operator(
        standalone=True,
        clusterwide=not args.namespaces,
        namespaces=args.namespaces,
        liveness_endpoint=args.liveness,
        memo=memo,
        stop_flag=memo.get("stop_flag"),
    )
    # uvloop, as `kopf run` would pick it: its transports and TLS in C leave more of the one
    # loop (the watches and the reconciles) to our own work.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_operate(operator, memo))


async def _operate(operator: Coroutine[Any, Any, None], memo: kopf.Memo) -> int:
    """Run kopf; with a webhook server, stop when it exits (1) and stop it at the end."""
    webhooks: WebhookProcess | None = memo.get("webhook_process")
    if webhooks is None:
        await operator
        return 0
    webhooks.supervise(on_failure=memo["stop_flag"].set)
    try:
        await operator
    finally:
        await webhooks.stop()
    return 1 if webhooks.failed else 0


def _fork_webhooks(args: argparse.Namespace, memo: kopf.Memo) -> WebhookProcess:
    """Fork the webhook server; `memo` gets where the operator reaches it."""
    for module in SHARED_MODULES:  # imported before the fork, so that the child shares them
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    served = kopf.Memo(webhook_tls_dir=args.webhook_tls_dir)
    if args.webhook_port is not None:
        # Chosen here, so that the operator knows where to check the server is up.
        served["webhook_port"] = args.webhook_port or webhook_process.free_port()
        memo["webhook_dial"] = ("127.0.0.1", served["webhook_port"])
    else:
        addr, port = webhook_process.split_listen(args.webhook_listen)
        port = port or webhook_process.free_port(addr or "0.0.0.0")
        served["webhook_listen"] = f"{addr}:{port}"
        memo["webhook_dial"] = (webhook_process.dial_host(addr), port)
    return webhook_process.fork(functools.partial(_serve_webhooks, served))


def _serve_webhooks(memo: kopf.Memo, ready_fd: int, parent: int) -> int:
    """The webhook server's process: its own kopf, with the admission handlers only."""
    import dynoform.webhooks  # noqa: F401  registers the admission handlers, here only

    memo["ready_fd"], memo["parent_pid"] = ready_fd, parent
    # Cluster-wide whatever the operator watches: kopf's webhooks take no namespace into
    # account, and the namespaces need no listing here.
    operator = kopf.operator(standalone=True, clusterwide=True, memo=memo)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(operator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
