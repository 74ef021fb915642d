"""Who is signed in to the dashboard, and the proof that a write comes from its own pages (pure).

The session is the user's Kubernetes bearer token itself, kept in an HttpOnly, SameSite=Strict
cookie (Secure when served over https), or given by the user's auth proxy in a header of the
operator's choosing: the server keeps no session store, so any replica serves any user. A header
needs no trust in the proxy: what it carries is a token the Kubernetes API server still judges.

The CSRF token of a session is an HMAC of a fixed text keyed by the bearer token: a page can only
be written to by whoever knows the token, it is the same on every replica, and it reveals nothing
of the token. Every write carries it in a hidden field (or the X-CSRF-Token header) and is
refused without it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

COOKIE = "dynoform_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
MAX_TOKEN = 16 * 1024  # a service account token is about 1 KB; OIDC ones a few
_CSRF_TEXT = b"dynoform dashboard: a write from the dashboard's own page"


def csrf_token(token: str) -> str:
    """The CSRF token of the session whose bearer token is `token`."""
    return hmac.new(token.encode(), _CSRF_TEXT, hashlib.sha256).hexdigest()


def csrf_ok(token: str, given: str | None) -> bool:
    """Whether `given` is the session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(csrf_token(token), str(given))


def clean_token(value: str | None) -> str | None:
    """A bearer token as typed or sent (`Bearer ` and surrounding blanks dropped), or None when
    it cannot be one (empty, blanks inside, too long, not ASCII)."""
    token = (value or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token or len(token) > MAX_TOKEN or not token.isascii():
        return None
    if any(c.isspace() or not c.isprintable() for c in token):
        return None
    return token


@dataclass(frozen=True)
class Session:
    """A signed-in user: their token, and where it came from (`cookie` or `header`)."""

    token: str
    source: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def session_of(
    headers: Mapping[str, str], cookies: Mapping[str, str], token_header: str | None
) -> Session | None:
    """The request's session: the auth proxy's header first (when one is configured), else the
    cookie."""
    if token_header:
        token = clean_token(headers.get(token_header.lower()))
        if token is not None:
            return Session(token, "header")
    token = clean_token(cookies.get(COOKIE))
    return Session(token, "cookie") if token is not None else None


def is_https(scheme: str, headers: Mapping[str, str]) -> bool:
    """Served over https, directly or behind a proxy that says so (X-Forwarded-Proto)."""
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return scheme == "https" or forwarded == "https"


def cookie_attributes(secure: bool) -> dict[str, object]:
    """How the session cookie is set (Starlette's set_cookie keywords): never readable by
    scripts, never sent by another site, for the dashboard's paths only, gone with the browser
    (no max-age: a token expires on its own schedule)."""
    return {
        "key": COOKIE,
        "httponly": True,
        "samesite": "strict",
        "secure": secure,
        "path": "/dashboard",
    }


def same_origin(origin: str | None, host: str | None) -> bool:
    """A write's Origin header, when the browser sends one, names this server (a second check
    beside the CSRF token)."""
    if not origin:
        return True
    if origin == "null" or host is None:
        return False
    return origin.split("://", 1)[-1].rstrip("/") == host
