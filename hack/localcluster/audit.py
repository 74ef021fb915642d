"""Count a client's writes from the local API server's audit log (components.audit_policy).

The log records every create/update/patch/delete with its user and target; a test marks the
log's end, acts, then reads the writes made since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Write:
    verb: str
    resource: str
    name: str
    namespace: str
    code: int

    def __str__(self) -> str:
        return f"{self.verb} {self.resource} {self.namespace}/{self.name} -> {self.code}"


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def writes_since(
        self, mark: int, user: str | None, namespace: str | None = None
    ) -> list[Write]:
        """The writes since `mark` by `user` (None: by anyone), in `namespace` if given."""
        with self.path.open("rb") as f:
            f.seek(mark)
            lines = f.read().decode(errors="replace").splitlines()
        out = []
        for line in lines:
            ev = json.loads(line)
            ref = ev.get("objectRef") or {}
            if ev["stage"] != "ResponseComplete":
                continue
            if user is not None and ev["user"]["username"] != user:
                continue
            if namespace is not None and ref.get("namespace") != namespace:
                continue
            resource = ref.get("resource", "") + (
                "/" + ref["subresource"] if ref.get("subresource") else ""
            )
            out.append(
                Write(
                    ev["verb"],
                    resource,
                    ref.get("name", ""),
                    ref.get("namespace", ""),
                    int((ev.get("responseStatus") or {}).get("code", 0)),
                )
            )
        return out
