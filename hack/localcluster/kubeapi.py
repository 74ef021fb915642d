"""A minimal JSON-over-HTTPS client for the harness's own calls to the control plane.

Owns the few requests the harness makes while bringing a cluster up (health endpoints, creating
Nodes, reading readiness) with the standard library only: no kubeconfig parsing, no client
library import cost, nothing that could hide which request failed. Tests use kubectl or lightkube.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TIMEOUT = 5.0


class ApiError(RuntimeError):
    """A request failed; `status` is the HTTP status, or 0 when no response arrived."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status


def tls_context(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """Verify against `ca` (or not at all when None) and present `cert`/`key` if given."""
    if ca is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def get_text(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    """GET `url`; return (status, body). Connection errors become status 0."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=context) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ValueError) as exc:
        return 0, str(exc)


class Client:
    """JSON requests to one API server as one identity."""

    def __init__(self, server: str, context: ssl.SSLContext) -> None:
        self.server = server.rstrip("/")
        self.context = context

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self.context) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace")) from exc
        except OSError as exc:
            raise ApiError(0, f"{method} {path}: {exc}") from exc

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def create(self, path: str, body: Any) -> Any:
        """POST `body`; an object that already exists (HTTP 409) is not an error."""
        try:
            return self.request("POST", path, body)
        except ApiError as exc:
            if exc.status != 409:
                raise
            return None

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True
