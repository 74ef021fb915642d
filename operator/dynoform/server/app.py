"""The FastAPI application: the routers, Heroku's errors and conventions, the Kubernetes
client's lifetime, and the dashboard's pages (dynoform.server.dashboard) beside the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dynoform.server import handlers, middleware
from dynoform.server.config import Upstream
from dynoform.server.dashboard import routes as dashboard
from dynoform.server.dashboard.options import Settings
from dynoform.server.kube import Kube
from dynoform.server.routers import apps, dynos, formation, sizes
from dynoform.server.schemas import Error

TITLE = "dynoform Platform API"
VERSION = "3"
DESCRIPTION = (
    "Heroku's Platform API (v3) over dynoform Formations: formation, dynos, dyno sizes, apps and "
    "the account. The API key is the caller's Kubernetes bearer token; every call is made to "
    "the Kubernetes API as the caller. See docs/platform-api.md for the differences from Heroku."
)
ERRORS = {code: {"model": Error} for code in (401, 403, 404, 409, 422, 429)}


def create_app(upstream: Upstream | None = None, pages: Settings | None = None) -> FastAPI:
    """The application; `upstream` None builds it without a cluster (the OpenAPI document)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if upstream is None:
            yield
            return
        app.state.kube = Kube(upstream)
        app.state.namespace = upstream.namespace
        try:
            yield
        finally:
            await app.state.kube.close()

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses=ERRORS,  # type: ignore[arg-type]
    )
    for module in (formation, dynos, sizes, apps):
        app.include_router(module.router)
    dashboard.install(app, pages or Settings())
    handlers.install(app)
    middleware.install(app)
    return app
