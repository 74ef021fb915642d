"""`python -m dynoform`: run the operator against the current KUBECONFIG (or in-cluster).

kopf owns the process (signals, liveness endpoint); dynoform.operator.handlers registers on
it. kopf runs standalone: with several replicas, dynoform's own Lease election decides which
one reconciles.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import socket
import sys
import uuid

import kopf
import uvloop


class ExpectedAreNotErrors(logging.Filter):
    """kopf logs two expected events as ERROR; dynoform logs them at what they are, so that
    ERROR keeps meaning something (and an alert on it does not fire for nothing):

    - a webhook's refusal (an AdmissionError) is the webhook doing its job: INFO;
    - a request the API server answered 429 Too Many Requests, which kopf retries as told (a
      watch cache still warming up answers "storage is (re)initializing"): WARNING. Only the
      last attempt failing ("escalating") stays an ERROR.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.ERROR:
            return True
        message = record.getMessage()
        if message.startswith("Webhook ") and "failed permanently" in message:
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif (
            message.startswith("Request attempt ")
            and "will retry" in message
            and "APITooManyRequestsError" in message
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _dns_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid object name (RFC 1123)")
    return value


def parser() -> argparse.ArgumentParser:
    """The operator's flags (the docs' reference is generated from this parser)."""
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
        help="In a cluster: serve the admission webhook on ADDR:PORT with the certificate in "
        "--webhook-tls-dir; the configuration is the Helm chart's (path /formations).",
    )
    p.add_argument(
        "--webhook-tls-dir",
        metavar="DIR",
        default="/tls",
        help="Directory with tls.crt and tls.key for --webhook-listen (default /tls).",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        metavar="PORT",
        help="Serve Prometheus metrics on http://ADDRESS:PORT/metrics (default 0: off).",
    )
    p.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        metavar="ADDRESS",
        help="The address the metrics are served on (default 0.0.0.0, every interface of a pod).",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="Log every reconcile step.")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    return parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    kopf.configure(verbose=args.verbose)  # kopf installs the log handler and format.
    logging.getLogger("dynoform").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    for handler in logging.getLogger().handlers:  # kopf's, on the root: every logger's records
        handler.addFilter(ExpectedAreNotErrors())
    if not args.verbose:
        # One line per HTTP request and per handled event drowns what matters ("Applied ...").
        logging.getLogger("httpx2").setLevel(logging.WARNING)
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    import dynoform.operator.handlers  # registers the handlers

    if not 0 <= args.metrics_port <= 65535:
        sys.exit(f"--metrics-port {args.metrics_port}: a port is 0 (off) to 65535")
    if args.metrics_port:
        from dynoform.operator import metrics

        metrics.serve(args.metrics_port, args.metrics_address)

    if args.webhook_port is not None and args.webhook_listen:
        sys.exit("--webhook-port (local) and --webhook-listen (in a cluster) exclude each other")
    if args.webhook_port is not None or args.webhook_listen:
        # kopf refuses admission handlers without a server, so they register only on demand.
        import dynoform.operator.webhooks  # noqa: F401

    memo = kopf.Memo(
        namespaces=args.namespaces,
        resync_seconds=args.resync,
        webhook_port=args.webhook_port,
        webhook_listen=args.webhook_listen,
        webhook_tls_dir=args.webhook_tls_dir,
        leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace,
        lease_name=args.lease_name,
        identity=f"{os.environ.get('HOSTNAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}",
    )
    operator = kopf.operator(
        standalone=True,
        clusterwide=not args.namespaces,
        namespaces=args.namespaces,
        liveness_endpoint=args.liveness,
        memo=memo,
    )
    # uvloop, as `kopf run` would pick it: one event loop serves the webhooks, the watches and
    # the reconciles, and its transports and TLS in C leave more of it to our own work.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(operator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
