"""FastAPI's errors (routing, validation, anything unexpected) answered in Heroku's shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dynoform.server.errors import HerokuError, invalid


def install(app: FastAPI) -> None:
    """Every error the framework raises, in Heroku's shape."""
    app.add_exception_handler(HerokuError, _heroku)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def respond(exc: HerokuError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _heroku(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HerokuError)
    return respond(exc)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return respond(HerokuError(400, "Invalid JSON in the request body."))
    return respond(invalid(describe(errors)))


def describe(errors: Any) -> str:
    """Pydantic's first error as one line: where, and what is wrong."""
    first = next(iter(errors))
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return respond(HerokuError(404, "The requested API endpoint was not found."))
    return respond(HerokuError(exc.status_code, str(exc.detail)))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return respond(HerokuError(500, "Internal server error."))
