"""Heroku's ids and timestamps for objects Kubernetes names differently (pure).

Kubernetes gives Formations, Pods and DynoSizes a uid; Heroku's other objects (a formation's
process type, a built-in dyno size, an account) get a UUIDv5 derived from what names them, so an
id is stable across calls and servers. Times are RFC 3339 UTC with seconds, as Heroku writes them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

# Fixed: changing it changes every derived id.
DYNOFORM = uuid.UUID("6b1c2e0e-4f3d-5c8a-9b7e-2d0f1a3c5e70")
EPOCH = "1970-01-01T00:00:00Z"


def derived(*parts: str) -> str:
    """A stable id for what `parts` name."""
    return str(uuid.uuid5(DYNOFORM, "/".join(parts)))


def timestamp(value: str | None) -> str:
    """A Kubernetes time as Heroku's `2026-01-02T03:04:05Z`."""
    if not value:
        return EPOCH
    return at(datetime.fromisoformat(value.replace("Z", "+00:00")))


def at(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
