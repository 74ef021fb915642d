"""The dashboard's pure parts: the session and its CSRF token, the cookie, the formation form's
batch, and the view models of an app's page; and its pages served without a cluster (sign-in,
static files, writes refused before any Kubernetes call)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from dynoform.api.dynos import Dyno
from dynoform.api.sizes import BUILTIN, Catalog
from dynoform.api.v1alpha1 import Cost
from dynoform.server.app import create_app
from dynoform.server.dashboard import form, live, session, views
from dynoform.server.dashboard.options import Settings
from dynoform.server.openapi import document
from tests.factories import make_formation

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


# -- Session, CSRF, cookie ----------------------------------------------------------------------


def test_the_csrf_token_is_the_sessions_own_and_reveals_nothing_of_it() -> None:
    token = "eyJhbGciOi.token-of-alice"
    csrf = session.csrf_token(token)
    assert csrf == session.csrf_token(token)  # the same on every replica, no store
    assert csrf != session.csrf_token("token-of-bob")
    assert token not in csrf
    assert len(csrf) == 64
    assert session.csrf_ok(token, csrf)
    assert not session.csrf_ok(token, session.csrf_token("token-of-bob"))
    assert not session.csrf_ok(token, "")
    assert not session.csrf_ok(token, None)


@pytest.mark.parametrize(
    ("typed", "token"),
    [
        ("abc.def", "abc.def"),
        ("  abc.def\n", "abc.def"),
        ("Bearer abc.def", "abc.def"),
        ("", None),
        ("two words", None),
        ("tab\tinside", None),
        ("é-not-ascii", None),
        ("x" * (session.MAX_TOKEN + 1), None),
    ],
)
def test_a_token_is_cleaned_or_refused(typed: str, token: str | None) -> None:
    assert session.clean_token(typed) == token


def test_the_auth_proxys_header_comes_first_then_the_cookie() -> None:
    cookies = {session.COOKIE: "from-cookie"}
    headers = {"x-forwarded-access-token": "from-proxy"}
    found = session.session_of(headers, cookies, "X-Forwarded-Access-Token")
    assert found == session.Session("from-proxy", "header")
    assert session.session_of(headers, cookies, None) == session.Session("from-cookie", "cookie")
    assert session.session_of({}, cookies, "X-Forwarded-Access-Token") == session.Session(
        "from-cookie", "cookie"
    )
    assert session.session_of({"authorization": "Bearer t1"}, {}, "Authorization") == (
        session.Session("t1", "header")
    )
    assert session.session_of({}, {}, None) is None


def test_the_cookie_is_httponly_strict_for_the_dashboard_and_secure_over_https() -> None:
    attributes = session.cookie_attributes(secure=False)
    assert attributes == {
        "key": session.COOKIE,
        "httponly": True,
        "samesite": "strict",
        "secure": False,
        "path": "/dashboard",
    }
    assert session.cookie_attributes(secure=True)["secure"] is True
    assert session.is_https("https", {})
    assert session.is_https("http", {"x-forwarded-proto": "https"})
    assert not session.is_https("http", {"x-forwarded-proto": "http"})


def test_a_write_from_another_origin_is_told_apart() -> None:
    assert session.same_origin(None, "127.0.0.1:5100")  # no Origin: the CSRF token decides
    assert session.same_origin("http://127.0.0.1:5100", "127.0.0.1:5100")
    assert not session.same_origin("https://evil.example", "127.0.0.1:5100")
    assert not session.same_origin("null", "127.0.0.1:5100")


# -- The formation form -------------------------------------------------------------------------


def test_the_form_sends_only_the_types_that_were_moved() -> None:
    f = make_formation()  # web=2 worker=1 clock=1, standard-1x
    fields = {
        "csrf": "x",
        "quantity.web": "3",
        "size.web": "standard-1x",
        "quantity.worker": "1",
        "size.worker": "Standard-2X",
        "quantity.clock": "1",
        "size.clock": "standard-1x",
        "quantity.ghost": "4",  # not a type of the app: ignored
    }
    batch = form.entries(f.spec, fields)
    assert [(e.type, e.quantity, e.size) for e in batch] == [
        ("web", "3", None),
        ("worker", None, "Standard-2X"),
    ]
    assert form.describe(batch) == "web=3 worker:standard-2x"
    unchanged = {k: v for k, v in fields.items() if k.endswith("clock")}
    assert form.entries(f.spec, unchanged) == []


def test_a_refusal_lands_on_the_row_whose_change_caused_it() -> None:
    f = make_formation()
    catalog = Catalog()
    fields = {"quantity.web": "2", "size.web": "performance-m", "quantity.clock": "3"}
    batch = form.entries(f.spec, fields)
    rows = form.blame(f.spec, batch, catalog, "the API's message")
    assert set(rows) == {"clock"}
    assert "clock is a singleton process type" in rows["clock"]
    one = form.entries(f.spec, {"size.web": "eco"})
    assert form.blame(f.spec, one, catalog, "the API's message") == {"web": "the API's message"}


# -- View models --------------------------------------------------------------------------------


def _status(**extra: Any) -> dict[str, Any]:
    return {
        "formation": "clock=1:standard-1x web=2:standard-1x worker=1:standard-1x",
        "conditions": [
            _cond("Ready", "True", "DynosAvailable", "4 of 4 dynos available."),
            _cond("ZoneRedundant", "False", "NotSpreadAcrossZones", "web: 2 of 2 dynos in z1"),
            _cond("RedundancyAdvised", "False", "SingleDyno", "Run at least two web dynos."),
            _cond("Released", "False", "ReleaseFailed", "The release command exited 1."),
        ],
        "history": [
            {"time": "2026-05-01T11:00:00Z", "formation": "web=1", "by": "alice"},
            {"time": "2026-05-01T11:30:00Z", "formation": "web=2"},
        ],
        "releasedImage": "registry.example/shop:v0",
        **extra,
    }


def _cond(ctype: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-05-01T11:00:00Z",
    }


def _with_status(f: Any, status: dict[str, Any]) -> Any:
    body = f.model_dump(by_alias=True, exclude_none=True)
    body["status"] = status
    return type(f).model_validate(body)


def _dyno(name: str, zone: str | None, state: str = "up", restarts: int = 0) -> Dyno:
    ptype, _, number = name.partition(".")
    return Dyno(
        name=name,
        type=ptype,
        number=int(number),
        state=state,
        updated_at=NOW - timedelta(minutes=5),
        command="x",
        size="standard-1x",
        pod=f"pod-{name}",
        zone=zone,
        restarts=restarts,
    )


def test_the_rows_bound_the_slider_by_size_singleton_and_autoscaler() -> None:
    processes = {
        "web": {"command": "puma", "quantity": 2, "size": "performance-m"},
        "worker": {
            "command": "sidekiq",
            "quantity": 3,
            "autoscaling": {"min": 2, "max": 6, "cpu": 70},
        },
        "clock": {"command": "clockwork", "quantity": 1},
        "eco": {"command": "x", "quantity": 1, "size": "eco"},
    }
    f = make_formation(processes=processes)
    rows = {r.type: r for r in views.rows(f, Catalog())}
    assert (rows["web"].max, rows["web"].fixed, rows["web"].singleton) == (10, False, False)
    assert (rows["clock"].max, rows["clock"].singleton) == (1, True)
    assert rows["eco"].max == 1
    assert rows["worker"].max == 1000
    assert rows["worker"].fixed
    assert rows["worker"].autoscaling == "2..6 on CPU 70%"
    assert rows["web"].command == "puma"
    web_sizes = {o.name: o for o in rows["web"].sizes}
    assert web_sizes["performance-m"].selected
    assert web_sizes["performance-m"].label == "Performance-M — 2.5 GiB, 2 CPU"
    assert web_sizes["standard-1x"].label == "Standard-1X — 512 MiB, 0.25 to 1 CPU"
    assert [o.name for o in rows["web"].sizes][:3] == ["eco", "basic", "standard-1x"]


def test_the_size_picker_shows_a_sizes_cost_when_the_catalog_gives_one() -> None:
    gpu = BUILTIN["performance-l"].model_copy(
        update={"display_name": "GPU-1X", "cost": Cost(cents=123456, unit="hour")}
    )
    f = make_formation(processes={"web": {"command": "puma", "quantity": 1}})
    (row,) = views.rows(f, Catalog({"gpu-1x": gpu}))
    labels = {o.name: o.label for o in row.sizes}
    assert labels["gpu-1x"] == "GPU-1X — 14 GiB, 8 CPU, $1,234.56/hour"
    assert labels["standard-1x"] == "Standard-1X — 512 MiB, 0.25 to 1 CPU"


def test_the_page_shows_state_dynos_spread_advice_history_and_release() -> None:
    f = _with_status(make_formation(), _status())
    dynos = [
        _dyno("web.1", "z1"),
        _dyno("web.2", "z1", restarts=2),
        _dyno("worker.1", "z2"),
        _dyno("clock.1", None, state="crashed"),
    ]
    created = {"pod-web.1": NOW - timedelta(hours=3), "pod-web.2": NOW - timedelta(seconds=42)}
    page = views.page(f, Catalog(), dynos, created, NOW)
    assert (page.ready.label, page.ready.ok, page.ready.css) == ("DynosAvailable", True, "ok")
    assert [(d.name, d.state, d.size, d.zone, d.age, d.restarts) for d in page.dynos] == [
        ("web.1", "up", "Standard-1X", "z1", "3h", 0),
        ("web.2", "up", "Standard-1X", "z1", "42s", 2),
        ("worker.1", "up", "Standard-1X", "z2", "5m", 0),
        ("clock.1", "crashed", "Standard-1X", "no zone", "5m", 0),
    ]
    assert page.spread.total == [views.ZoneCount("z1", 2), views.ZoneCount("z2", 1)]
    assert page.spread.by_type["web"] == [views.ZoneCount("z1", 2)]
    assert "clock" not in page.spread.by_type  # a crashed dyno runs nowhere
    assert page.spread.redundancy is not None
    assert page.spread.redundancy.ok is False
    assert page.spread.advice == "Run at least two web dynos."
    assert [h.text for h in page.history] == ["Scale to web=2", "Scale to web=1 by alice"]
    assert page.release.released_image == "registry.example/shop:v0"
    assert page.release.state is not None
    assert (page.release.state.ok, page.release.state.message) == (
        False,
        "The release command exited 1.",
    )


def test_a_formation_without_status_is_pending_and_summarised_from_its_spec() -> None:
    f = make_formation()
    shown = views.summary(f)
    assert (shown.ready.label, shown.ready.ok) == ("Pending", None)
    assert shown.formation == "clock=1:standard-1x web=2:standard-1x worker=1:standard-1x"
    page = views.page(f, Catalog(), [], {}, NOW)
    assert page.spread.advice is None
    assert page.history == []
    assert page.release.state is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m"), (7200, "2h"), (3 * 86400, "3d")]
)
def test_ages_read_as_kubectl_shows_them(seconds: int, text: str) -> None:
    assert views.age(NOW - timedelta(seconds=seconds), NOW) == text


def test_a_server_sent_event_carries_html_line_by_line() -> None:
    assert live.frame("status", "<p>a</p>\n<p>b</p>") == (
        "event: status\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
    )


# -- Pages without a cluster --------------------------------------------------------------------


def _get(
    app: Any, method: str, path: str, cookies: dict[str, str] | None = None, **kwargs: Any
) -> httpx2.Response:
    async def call() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=app)
        base = "http://testserver"
        async with httpx2.AsyncClient(transport=transport, base_url=base, cookies=cookies) as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(call())


def test_root_leads_to_the_sign_in_form_with_the_security_headers() -> None:
    app = create_app()
    assert _get(app, "GET", "/").headers["location"] == "/dashboard/"
    page = _get(app, "GET", "/dashboard/")
    assert page.status_code == 200
    assert '<label for="token">' in page.text
    assert 'name="token"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    htmx = _get(app, "GET", "/dashboard/static/htmx-2.0.11.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text


def test_a_write_without_the_csrf_token_is_refused_before_any_kubernetes_call() -> None:
    app = create_app()  # no cluster: a call to Kubernetes would fail with a 500
    cookies = {session.COOKIE: "some-token"}
    body = {"quantity.web": "5"}
    for data in (body, {**body, "csrf": "wrong"}):
        refused = _get(
            app, "POST", "/dashboard/apps/team-a/shop/formation", data=data, cookies=cookies
        )
        assert refused.status_code == 403, refused.text
        assert "CSRF" in refused.text
    other_site = {**body, "csrf": session.csrf_token("some-token")}
    refused = _get(
        app,
        "POST",
        "/dashboard/apps/team-a/shop/formation",
        data=other_site,
        cookies=cookies,
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    signed_out = _get(app, "POST", "/dashboard/apps/team-a/shop/formation", data=body)
    assert signed_out.status_code == 401
    assert 'name="token"' in signed_out.text


def test_no_dashboard_route_is_in_the_openapi_description_and_it_can_be_off() -> None:
    assert "/dashboard" not in document()
    off = create_app(pages=Settings(enabled=False))
    assert _get(off, "GET", "/dashboard/").status_code == 404


def test_the_app_page_renders_its_form_and_live_parts_from_the_view_model() -> None:
    from dynoform.server.dashboard.routes import PREFIX, templates

    f = _with_status(make_formation(), _status())
    page = views.page(f, Catalog(), [_dyno("web.1", "z1")], {}, NOW, {"web": "Refused here."})
    html = templates.get_template("app.html").render(
        prefix=PREFIX, csrf="c5rf", signed_in=True, signs_out=True, user="alice", page=page
    )
    assert '<input type="hidden" name="csrf" value="c5rf">' in html
    assert 'id="quantity-clock"' in html
    assert 'name="quantity.clock"' in html
    assert 'max="1"' in html
    assert 'sse-connect="/dashboard/apps/default/shop/live?generation=1"' in html
    assert '<p class="error" id="error-web" role="alert">Refused here.</p>' in html
    assert "Run at least two web dynos." in html
    assert "Scale to web=1 by alice" in html
    assert "The release command exited 1." in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert "style=" not in html
