"""What every request goes through before a route: Heroku's Accept header, a cap on the body,
a Request-Id, and one log line (method, path, status, time, the client's Accept and Range), so
what a client really sends can be read in the server's log.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from dynoform.server.errors import HerokuError
from dynoform.server.handlers import respond

log = logging.getLogger("dynoform.server.access")

MAX_BODY = 64 * 1024  # a run's command (32 KiB at most) and its env fit
# Heroku's v3 media type, any variant (`version=3.sdk`, `version=3.run-inside`, ...).
HEROKU_ACCEPT = re.compile(r"application/vnd\.heroku\+json\s*;\s*version=([^,;\s]+)")
Next = Callable[[Request], Awaitable[Response]]


def install(app: FastAPI) -> None:
    app.middleware("http")(_handle)


async def _handle(request: Request, call_next: Next) -> Response:
    started = time.monotonic()
    request_id = str(uuid.uuid4())
    try:
        _check(request)
        response = await call_next(request)
    except HerokuError as exc:
        response = respond(exc)
    response.headers["Request-Id"] = request_id
    log.info(
        "%s %s %d %.1fms accept=%r range=%r agent=%r",
        request.method,
        request.url.path,
        response.status_code,
        (time.monotonic() - started) * 1000,
        request.headers.get("accept", ""),
        request.headers.get("range", ""),
        request.headers.get("user-agent", ""),
    )
    return response


def _check(request: Request) -> None:
    """Version 3 only; a body no larger than MAX_BODY (checked again as it is read)."""
    accept = request.headers.get("accept", "")
    m = HEROKU_ACCEPT.search(accept)
    if m is not None and not (m.group(1) == "3" or m.group(1).startswith("3.")):
        raise HerokuError(406, "This server speaks version 3 of the Platform API only.")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise HerokuError(413, f"Request bodies hold at most {MAX_BODY} bytes.")
    if request.headers.get("transfer-encoding", "").lower() == "chunked":
        raise HerokuError(413, "Send a Content-Length: chunked request bodies are not accepted.")
