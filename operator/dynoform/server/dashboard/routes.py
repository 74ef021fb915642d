"""The dashboard's routes under /dashboard/: sign-in, the apps a user may see, an app's page, its
formation form (one batch update) and its live events.

Every route acts as the signed-in user (dynoform.server.dashboard.session) through the Platform
API's own code: the Caller of dynoform.server.context, the batch update of
dynoform.server.scaling, the dynos of dynoform.server.dynos. The API's errors (HerokuError) are
shown as pages with the API's status and words. None of these routes is in the OpenAPI
description: they are pages, not the Platform API.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from dynoform.api.dynos import Dyno
from dynoform.server import apps, dynos, scaling, updates
from dynoform.server.context import App, Caller, parse_formation
from dynoform.server.dashboard import form, live, session, views
from dynoform.server.dashboard.options import Settings
from dynoform.server.errors import HerokuError, KubeError, from_kube
from dynoform.server.kube import formation_watch, pod_watch

HERE = Path(__file__).parent
PREFIX = "/dashboard"
templates = Jinja2Templates(directory=HERE / "templates")
# Pages: only the server's own scripts, styles and event stream; never framed; no referrer to
# other sites (a same-origin one keeps the Origin header of writes, which same_origin checks).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


router = APIRouter(prefix=PREFIX, include_in_schema=False)


def install(app: FastAPI, settings: Settings) -> None:
    app.state.dashboard = settings
    if not settings.enabled:
        return
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)


# -- Rendering --------------------------------------------------------------------------------


def render(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
    found = _session(request)
    context.setdefault("csrf", found.csrf if found else "")
    context.setdefault("signed_in", found is not None)
    context.setdefault("signs_out", found is not None and found.source == "cookie")
    context.setdefault("user", "")
    return templates.TemplateResponse(
        request, name, {"prefix": PREFIX, **context}, status_code=code, headers=SECURITY_HEADERS
    )


def refused(request: Request, exc: HerokuError) -> HTMLResponse:
    """The API's refusal as a page: its status and its words (401: sign in again)."""
    if exc.status == 401:
        response = render(request, "signin.html", 401, error=exc.message, signed_in=False)
        response.delete_cookie(session.COOKIE, path=PREFIX)
        return response
    return render(request, "error.html", exc.status, status=exc.status, message=exc.message)


def _session(request: Request) -> session.Session | None:
    settings: Settings = request.app.state.dashboard
    return session.session_of(request.headers, request.cookies, settings.token_header)


def _caller(request: Request) -> Caller:
    found = _session(request)
    if found is None:
        raise HerokuError(401, "Sign in with a Kubernetes token to use the dashboard.")
    return Caller(found.token, request.app.state.kube, request.app.state.namespace)


async def _user(who: Caller) -> str:
    try:
        user = await who.kube.whoami(who.token)
    except KubeError as exc:
        raise from_kube(exc) from exc
    return str(user.get("username") or "")


def _check_write(request: Request, fields: dict[str, str]) -> session.Session:
    """A write from the dashboard's own page: signed in, the session's CSRF token, this origin."""
    found = _session(request)
    if found is None:
        raise HerokuError(401, "Sign in with a Kubernetes token to use the dashboard.")
    given = fields.get(session.CSRF_FIELD) or request.headers.get(session.CSRF_HEADER)
    origin_ok = session.same_origin(request.headers.get("origin"), request.headers.get("host"))
    if not session.csrf_ok(found.token, given) or not origin_ok:
        raise HerokuError(
            403, "This form did not come from this dashboard's page (CSRF): reload the page."
        )
    return found


async def _fields(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


# -- Sign-in ----------------------------------------------------------------------------------


@router.get("")
async def home_slash() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, namespace: str | None = None) -> HTMLResponse:
    if _session(request) is None:
        return render(request, "signin.html")
    try:
        who = _caller(request)
        if namespace is not None and not apps.DNS_LABEL.match(namespace):
            raise HerokuError(404, f"No namespace can be named {namespace!r}.")
        user, (groups, notes) = await asyncio.gather(_user(who), _apps(who, namespace))
    except HerokuError as exc:
        return refused(request, exc)
    return render(request, "apps.html", user=user, groups=groups, notes=notes, asked=namespace)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    fields = await _fields(request)
    if not session.same_origin(request.headers.get("origin"), request.headers.get("host")):
        return refused(request, HerokuError(403, "Sign in from this dashboard's own page."))
    token = session.clean_token(fields.get("token"))
    if token is None:
        return render(request, "signin.html", 422, error="Paste a Kubernetes bearer token.")
    try:
        await request.app.state.kube.whoami(token)
    except KubeError as exc:
        message = from_kube(exc).message if exc.status != 401 else "That token is not accepted."
        return render(request, "signin.html", 401, error=message, signed_in=False)
    except HerokuError as exc:
        return render(request, "signin.html", exc.status, error=exc.message, signed_in=False)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    secure = session.is_https(request.url.scheme, request.headers)
    response.set_cookie(value=token, **session.cookie_attributes(secure))  # type: ignore[arg-type]
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    try:
        _check_write(request, await _fields(request))
    except HerokuError as exc:
        return refused(request, exc)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    response.delete_cookie(session.COOKIE, path=PREFIX)
    return response


async def _apps(
    who: Caller, namespace: str | None
) -> tuple[dict[str, list[views.AppSummary]], list[str]]:
    """The apps by namespace: every namespace's when RBAC allows a cluster-wide list, else the
    server's namespace (or the one asked for); what Kubernetes refused is said, not hidden."""
    notes: list[str] = []
    raws: list[dict[str, Any]] = []
    if namespace is None:
        try:
            raws = await who.kube.all_formations(who.token)
        except KubeError as exc:
            if exc.status not in (403, 404):
                raise from_kube(exc) from exc
            namespace = who.namespace
    if namespace is not None:
        try:
            raws = await who.kube.formations(who.token, namespace)
        except KubeError as exc:
            if exc.status != 403:
                raise from_kube(exc) from exc
            notes.append(
                f"Kubernetes does not let you list the apps of the namespace {namespace} (403)."
            )
    groups: dict[str, list[views.AppSummary]] = {}
    for raw in raws:
        shown = views.summary(parse_formation(raw))
        groups.setdefault(shown.namespace, []).append(shown)
    for listed in groups.values():
        listed.sort(key=lambda a: a.name)
    if namespace is not None and namespace not in groups and not notes:
        notes.append(f"No apps in the namespace {namespace}.")
    return dict(sorted(groups.items())), notes


# -- An app -----------------------------------------------------------------------------------


async def _read(who: Caller, namespace: str, name: str) -> tuple[App, list[Dyno], Any, Any]:
    """The app, its dynos (and their pods' creation times) and the catalog, read as the user."""
    found = await who.app(f"{name}.{namespace}")
    (listed, pods), sizes = await asyncio.gather(dynos.listed(who, found), who.catalog())
    created = {
        n: datetime.fromisoformat(p["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
        for n, p in pods.items()
        if p.get("metadata", {}).get("creationTimestamp")
    }
    return found, listed, created, sizes


async def _page(
    who: Caller,
    namespace: str,
    name: str,
    errors: dict[str, str] | None = None,
    messages: list[str] | None = None,
) -> views.AppPage:
    found, listed, created, sizes = await _read(who, namespace, name)
    return views.page(
        found.formation, sizes.catalog, listed, created, datetime.now(UTC), errors, messages
    )


@router.get("/apps/{namespace}/{name}", response_class=HTMLResponse)
async def app_page(request: Request, namespace: str, name: str) -> HTMLResponse:
    try:
        who = _caller(request)
        user, page = await asyncio.gather(_user(who), _page(who, namespace, name))
    except HerokuError as exc:
        return refused(request, exc)
    return render(request, "app.html", user=user, page=page)


@router.post("/apps/{namespace}/{name}/formation", response_class=HTMLResponse)
async def formation_update(request: Request, namespace: str, name: str) -> HTMLResponse:
    """The form's one batch update; htmx gets the form back, a plain form post the page."""
    fragment = request.headers.get("hx-request") == "true"
    try:
        fields = await _fields(request)
        _check_write(request, fields)
        who = _caller(request)
        found, sizes = await asyncio.gather(who.app(f"{name}.{namespace}"), who.catalog())
    except HerokuError as exc:
        return refused(request, exc)
    spec = found.formation.spec
    errors: dict[str, str] = {}
    messages: list[str] = []
    status = 200
    try:
        batch = form.entries(spec, fields)
        if not batch:
            messages.append("Nothing to change: move a slider or pick a size first.")
        else:
            changes = [updates.change(e.type, e) for e in batch]
            await scaling.scale(who, found, changes, sizes)
            messages.append(f"Scaled {found.name}: {form.describe(batch)}.")
    except HerokuError as exc:
        if exc.status not in (403, 404, 409, 422):
            return refused(request, exc)
        status = exc.status
        batch = _safe_entries(spec, fields)
        errors = form.blame(spec, batch, sizes.checks, exc.message) if exc.status == 422 else {}
        messages.append(exc.message if not errors else "Nothing was changed.")
    try:
        page = await _page(who, namespace, name, errors, messages)
    except HerokuError as exc:
        return refused(request, exc)
    if errors:  # the refused values stay on the form, where they were chosen
        page = _keep(page, fields)
    template = "_formation.html" if fragment else "app.html"
    return render(request, template, status, page=page, oob=fragment)


def _safe_entries(spec: Any, fields: dict[str, str]) -> list[Any]:
    try:
        return form.entries(spec, fields)
    except ValueError:
        return []


def _keep(page: views.AppPage, fields: dict[str, str]) -> views.AppPage:
    """The page with the form showing what was asked rather than what is (a refused change)."""
    rows = []
    for row in page.rows:
        asked = fields.get(form.QUANTITY + row.type, "")
        size = fields.get(form.SIZE + row.type, row.size).lower()
        quantity = int(asked) if asked.isdigit() else row.quantity
        options = [replace(o, selected=o.name == size) for o in row.sizes]
        if not any(o.selected for o in options):
            options = row.sizes
        rows.append(replace(row, quantity=quantity, size=size, sizes=options))
    return replace(page, rows=rows)


@router.get("/apps/{namespace}/{name}/live")
async def app_live(request: Request, namespace: str, name: str, generation: int = 0) -> Response:
    """The page's live parts as server-sent events: `status` on every change, `formation` when
    the spec changed (a scale made elsewhere), each rendered as the page renders them."""
    try:
        who = _caller(request)
        apps.parse(f"{name}.{namespace}", who.namespace)
    except HerokuError as exc:
        return refused(request, exc)
    seen = {"generation": generation}

    async def frames() -> list[tuple[str, str]]:
        try:
            page = await _page(who, namespace, name)
        except HerokuError as exc:
            return [("status", _fragment(request, "_gone.html", message=exc.message))]
        out = [("status", _fragment(request, "_live.html", page=page))]
        if page.generation != seen["generation"]:
            seen["generation"] = page.generation
            out.append(("formation", _fragment(request, "_form.html", page=page)))
        return out

    watches = [formation_watch(namespace, name), pod_watch(namespace, name)]
    return StreamingResponse(
        live.stream(who.kube, who.token, watches, frames),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _fragment(request: Request, name: str, **context: Any) -> str:
    found = _session(request)
    template = templates.get_template(name)
    return template.render(prefix=PREFIX, csrf=found.csrf if found else "", **context)
