"""The dashboard's options and their flags, shared by `dyno api` and `python -m dynoform.server`
(no web framework here: the CLI reads these flags without loading FastAPI)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

TOKEN_HEADER_ENV = "DYNO_API_DASHBOARD_TOKEN_HEADER"


@dataclass(frozen=True)
class Settings:
    """Whether the dashboard is served, and the auth proxy's header with the user's token."""

    enabled: bool = True
    token_header: str | None = None


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-dashboard",
        dest="dashboard",
        action="store_false",
        help="serve the API only, without the dashboard's pages under /dashboard/",
    )
    parser.add_argument(
        "--dashboard-token-header",
        metavar="HEADER",
        default=os.environ.get(TOKEN_HEADER_ENV) or None,
        help="the header in which an auth proxy in front passes the user's Kubernetes token "
        "to the dashboard, e.g. X-Forwarded-Access-Token (the sign-in form still works)",
    )


def from_args(args: argparse.Namespace) -> Settings:
    return Settings(enabled=args.dashboard, token_header=args.dashboard_token_header)
