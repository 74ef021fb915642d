"""Heroku's errors: `{"id": ..., "message": ...}` with Heroku's status codes, and how the
Kubernetes API server's answers become them.

Every failure leaves the server as a HerokuError (dynoform.server.handlers writes it); nothing
else reaches the client, so a Kubernetes message about another namespace, a stack trace or an
HTML page never does.
"""

from __future__ import annotations

from typing import Any

# Heroku's error ids by status (devcenter "Platform API Reference", Errors).
IDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_entity_too_large",
    416: "requested_range_not_satisfiable",
    422: "invalid_params",
    429: "rate_limit",
    500: "internal_server_error",
    503: "service_unavailable",
}
UNAUTHORIZED = "Invalid credentials provided."
RATE_LIMIT = (
    "Your account reached the API rate limit. Please wait a few minutes before making new requests."
)


class HerokuError(Exception):
    """An answer in Heroku's error shape."""

    def __init__(self, status: int, message: str, error_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_id = error_id or IDS.get(status, "bad_request")

    def body(self) -> dict[str, Any]:
        return {"id": self.error_id, "message": self.message}


def not_found(what: str) -> HerokuError:
    return HerokuError(404, f"Couldn't find that {what}.")


def invalid(message: str) -> HerokuError:
    return HerokuError(422, message)


class KubeError(Exception):
    """A Kubernetes API answer other than success: its status code, reason and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


def from_kube(exc: KubeError, app: str | None = None, what: str = "app") -> HerokuError:
    """The Kubernetes answer as Heroku's: RBAC's refusal of an app is Heroku's 403 for an app the
    caller may not see; a missing object is Heroku's 404; a refused write keeps its reason."""
    if exc.status == 401:
        return HerokuError(401, UNAUTHORIZED)
    if exc.status == 403:
        target = f"the app {app}" if app else "that resource"
        return HerokuError(403, f"You do not have access to {target}.")
    if exc.status == 404:
        return not_found(what)
    if exc.status == 409:
        return HerokuError(409, exc.message)
    if exc.status in (400, 422):
        return invalid(exc.message)
    if exc.status == 429:
        return HerokuError(429, RATE_LIMIT)
    return HerokuError(503, f"The Kubernetes API answered {exc.status} {exc.reason}.")
