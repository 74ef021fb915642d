"""Running the server: `dyno api` on a developer's machine (127.0.0.1, the kubeconfig's
cluster) and `python -m dynoform.server` in the chart's pod (the in-cluster API server)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

import uvicorn

from dynoform.server.app import create_app
from dynoform.server.config import ConfigError, Upstream, from_kubeconfig, in_cluster
from dynoform.server.dashboard.options import Settings, add_flags, from_args

DEFAULT_PORT = 5100


def serve(
    upstream: Upstream,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    pages: Settings | None = None,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per upstream call is noise
    logging.getLogger("dynoform.server").info(
        "Serving the Platform API on http://%s:%d for %s (namespace %s)",
        host,
        port,
        upstream.server,
        upstream.namespace,
    )
    # The server's own access line (middleware) says more than uvicorn's. A dashboard page's
    # event stream never ends by itself: a stop waits 10 s for open requests, then ends them.
    uvicorn.run(
        create_app(upstream, pages),
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


def main(argv: list[str] | None = None) -> int:
    """In a pod: listen on all addresses (the Service in front), the in-cluster API server."""
    parser = argparse.ArgumentParser(prog="python -m dynoform.server")
    parser.add_argument("--host", default=os.environ.get("DYNO_API_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("DYNO_API_PORT", "5100")))
    parser.add_argument("-n", "--namespace", default=os.environ.get("DYNO_API_NAMESPACE"))
    add_flags(parser)
    args = parser.parse_args(argv)
    try:
        upstream = in_cluster().with_namespace(args.namespace)
    except ConfigError as exc:
        print(f" !    {exc}", file=sys.stderr)
        return 1
    serve(upstream, args.host, args.port, from_args(args))
    return 0


def local(
    port: int,
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    pages: Settings | None = None,
) -> None:
    """`dyno api`: 127.0.0.1 only, the kubeconfig's cluster (its credentials are not used)."""
    upstream = from_kubeconfig(kubeconfig, context).with_namespace(namespace)
    serve(upstream, "127.0.0.1", port, pages)
