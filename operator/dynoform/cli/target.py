"""Which cluster and namespace a command talks to, and the connection made on first use.

Kept apart from the client (dynoform.cli.client), which imports lightkube and httpx: a command
that never talks to the cluster (`--help`, `formation import`) never loads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dynoform.cli.client import Api


@dataclass(frozen=True)
class Target:
    """Which cluster and namespace: the global options, as kubectl's."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None

    def kubectl_flags(self) -> list[str]:
        flags = ["--kubeconfig", self.kubeconfig] if self.kubeconfig else []
        return flags + (["--context", self.context] if self.context else [])


def connect(target: Target) -> Api:
    """The client of `target`'s cluster (imported here, when a command first needs it)."""
    from dynoform.cli import client

    return client.connect(target)
