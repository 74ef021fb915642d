"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against
`dyno api` on the local control plane with the operator running.

alice may use the apps of namespace A (the server's), bob those of B. alice signs in, opens her
app, scales it with a slider, is refused a size the catalog forbids, and sees a scale made with
kubectl arrive without reloading; bob is refused her app; a write without the CSRF token is
refused; no token shows in a URL or in the server's log. The screenshots of the docs
(docs/images/dashboard-*.png) are taken on the way.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from lightkube import Client
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.factories import formation_body
from tests.kubehelp import Deployment, Formation, apply_yaml, condition_with, eventually, get
from tests.platform_api import User, api_server

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing of Chromium's own that reaches beyond 127.0.0.1.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROXY_HEADER = "X-Forwarded-Access-Token"
TIMEOUT_MS = 60_000
expect.set_options(timeout=30_000)  # a page's change, on a busy machine with 2 cores


@pytest.fixture(scope="module")
def server(installed, spaces, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`dyno api` serving namespace A, with an auth proxy's header accepted too."""
    log = tmp_path_factory.mktemp("dashboard") / "api.log"
    with api_server(
        installed.kubeconfig, spaces[0], log, ("--dashboard-token-header", PROXY_HEADER)
    ) as url:
        yield url, log
    print(f"\n--- dyno api log tail ---\n{''.join(log.read_text().splitlines(True)[-30:])}")


@pytest.fixture(scope="module")
def app(operator, installed, kube: Client, spaces) -> Iterator[str]:
    """alice's app in A (web=2, worker=1, clock=1), Ready."""
    name = f"shop-{uuid.uuid4().hex[:5]}"
    apply_yaml(installed.kubectl, formation_body(name, spaces[0]))
    eventually(
        lambda: condition_with(kube, spaces[0], "Ready", "DynosAvailable", name),
        timeout=90,
        what="the app Ready",
    )
    yield name
    installed.kubectl("delete", "formation", name, "-n", spaces[0], "--wait=false")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


class Browser:
    """One browser profile (a fresh user-data-dir), and every URL it requested."""

    def __init__(self, playwright: Playwright) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="dashboard-chromium-")
        self.context: BrowserContext = playwright.chromium.launch_persistent_context(
            self.dir.name,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.urls: list[str] = []
        self.context.on("request", lambda r: self.urls.append(r.url))
        self.page: Page = self.context.pages[0] if self.context.pages else self.context.new_page()

    def sign_in(self, url: str, user: User) -> None:
        self.page.goto(f"{url}/")
        expect(self.page.get_by_role("heading", name="Sign in")).to_be_visible()
        self.page.get_by_label("Kubernetes token").fill(user.token)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name="Apps")).to_be_visible()

    def close(self) -> None:
        self.context.close()
        self.dir.cleanup()


@pytest.fixture(scope="module")
def alice(playwright, server, users) -> Iterator[Browser]:
    browser = Browser(playwright)
    browser.sign_in(server[0], users[0])
    yield browser
    browser.close()


def _open(browser: Browser, url: str, namespace: str, app: str) -> Page:
    """The app's page, once its live stream is open."""
    page = browser.page
    with page.expect_response(lambda r: "/live" in r.url):
        page.goto(f"{url}/dashboard/apps/{namespace}/{app}")
    return page


def _generation(kube: Client, namespace: str, app: str) -> tuple[int, dict[str, Any]]:
    f = get(kube, Formation, app, namespace)
    assert f is not None
    return f["metadata"]["generation"], f["spec"]["processes"]


def test_signing_in_lists_the_users_apps_by_namespace_with_their_ready_state(
    alice: Browser, server, spaces, app: str
) -> None:
    page = alice.page
    page.goto(f"{server[0]}/")  # `/` leads to the dashboard
    section = page.get_by_role("region", name=spaces[0])
    expect(section.get_by_role("link", name=app)).to_be_visible()
    expect(section.get_by_text("Ready: DynosAvailable")).to_be_visible()
    (cookie,) = [c for c in alice.context.cookies() if c["name"] == "dynoform_session"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Strict", False)
    assert cookie["path"] == "/dashboard"
    page.screenshot(path=str(IMAGES / "dashboard-apps.png"))


def test_a_slider_moved_and_confirmed_scales_the_deployment(
    alice: Browser, server, spaces, app: str, kube: Client
) -> None:
    requests: list[str] = []
    sizes: dict[str, int] = {}
    alice.page.on("request", lambda r: requests.append(r.url))
    alice.page.on(
        "response",
        lambda r: sizes.update({r.url: int(r.headers.get("content-length", "0"))}),
    )
    page = _open(alice, server[0], spaces[0], app)
    print(f"\napp page: {len(requests)} requests, {sizes} bytes")
    assert len(requests) <= 6  # the page, its stylesheet, three scripts, the event stream
    expect(page.get_by_role("cell", name="up").first).to_be_visible()
    page.screenshot(path=str(IMAGES / "dashboard-app.png"), full_page=True)

    slider = page.get_by_role("slider", name="Dynos").first  # clock, web, worker: clock first
    web = page.locator("#quantity-web")
    web.focus()
    page.keyboard.press("ArrowRight")  # 2 -> 3, with the keyboard
    expect(page.locator("#count-web")).to_have_value("3")  # the exact count follows
    assert slider.get_attribute("max") == "1"  # clock is a singleton
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#messages")).to_contain_text(f"Scaled {app}: web=3.")
    eventually(
        lambda: get(kube, Deployment, f"{app}-web", spaces[0])["spec"]["replicas"] == 3,  # type: ignore[index]
        timeout=60,
        what="the web Deployment at 3",
    )
    expect(page.locator("#live").get_by_text("web.3", exact=True)).to_be_visible()
    # The history gets this scale, by the user signed in (the status follows the change).
    expect(page.locator("#live .history")).to_contain_text("web=3:standard-1x")
    expect(page.locator("#live .history")).to_contain_text("alice")


def test_a_size_the_catalog_forbids_is_refused_on_its_row_and_nothing_changes(
    alice: Browser, server, spaces, app: str, kube: Client
) -> None:
    before = _generation(kube, spaces[0], app)
    page = _open(alice, server[0], spaces[0], app)
    page.locator("#size-web").select_option("eco")  # web runs 3 dynos: Eco runs 1
    page.get_by_role("button", name="Confirm").click()
    error = page.locator("#error-web")
    expect(error).to_contain_text("Eco")
    expect(page.locator("#messages")).to_contain_text("Nothing was changed.")
    assert page.locator("#size-web").input_value() == "eco"  # the refused choice stays shown
    assert _generation(kube, spaces[0], app) == before
    page.screenshot(path=str(IMAGES / "dashboard-refusal.png"), full_page=True)


def test_a_scale_made_with_kubectl_appears_without_reloading(
    alice: Browser, server, spaces, app: str, installed
) -> None:
    page = _open(alice, server[0], spaces[0], app)
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    patch = '{"spec": {"processes": {"worker": {"quantity": 2}}}}'
    installed.kubectl("patch", "formation", app, "-n", spaces[0], "--type=merge", "-p", patch)
    expect(page.locator("#count-worker")).to_have_value("2")
    expect(page.locator("#quantity-worker")).to_have_value("2")
    expect(page.locator("#live").get_by_text("worker.2", exact=True)).to_be_visible()
    assert loads == []


def test_the_pages_fit_a_phones_width(alice: Browser, server, spaces, app: str) -> None:
    page = _open(alice, server[0], spaces[0], app)
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Confirm")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    row, picker = (
        page.locator("#process-web").bounding_box(),
        page.locator("#size-web").bounding_box(),
    )
    assert row is not None
    assert picker is not None
    assert picker["x"] + picker["width"] <= row["x"] + row["width"]  # inside its row
    page.screenshot(path=str(IMAGES / "dashboard-phone.png"), full_page=True)
    page.locator("#count-web").fill("4")  # the exact number moves the slider
    expect(page.locator("#quantity-web")).to_have_value("4")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_another_namespaces_app_is_refused_as_kubernetes_refuses_it(
    playwright, server, spaces, users, app: str
) -> None:
    bob = Browser(playwright)
    try:
        bob.sign_in(server[0], users[1])
        expect(bob.page.get_by_text(f"namespace {spaces[0]} (403)")).to_be_visible()
        response = bob.page.goto(f"{server[0]}/dashboard/apps/{spaces[0]}/{app}")
        assert response is not None
        assert response.status == 403
        expect(bob.page.get_by_role("alert")).to_contain_text("You do not have access")
        expect(bob.page.get_by_role("button", name="Confirm")).to_have_count(0)
    finally:
        bob.close()


def test_a_user_who_cannot_read_the_sizes_is_refused_by_the_api_servers_admission(
    playwright, server, spaces, users, installed, kube: Client
) -> None:
    """bob may not read DynoSizes, so the API cannot check his change first: the cluster's
    admission policy refuses it, and its message is shown on the row."""
    name = f"cart-{uuid.uuid4().hex[:5]}"
    web = {"web": {"command": "bundle exec puma -p $PORT", "quantity": 2}}
    apply_yaml(installed.kubectl, formation_body(name, spaces[1], processes=web))
    bob = Browser(playwright)
    try:
        bob.sign_in(server[0], users[1])
        bob.page.get_by_label("Show the apps of a namespace").fill(spaces[1])
        bob.page.get_by_role("button", name="Show").click()
        bob.page.get_by_role("link", name=name).click()
        expect(bob.page.get_by_role("heading", name=name)).to_be_visible()
        before = _generation(kube, spaces[1], name)
        bob.page.locator("#size-web").select_option("eco")
        bob.page.get_by_role("button", name="Confirm").click()
        error = bob.page.locator("#error-web")
        expect(error).to_contain_text("ValidatingAdmissionPolicy")
        expect(error).to_contain_text("Cannot run more than 1 Eco dyno per process type")
        assert _generation(kube, spaces[1], name) == before
    finally:
        bob.close()
        installed.kubectl("delete", "formation", name, "-n", spaces[1], "--wait=false")


def test_a_write_without_the_csrf_token_is_refused(
    alice: Browser, server, spaces, app: str, kube: Client
) -> None:
    before = _generation(kube, spaces[0], app)
    path = f"{server[0]}/dashboard/apps/{spaces[0]}/{app}/formation"
    refused = alice.context.request.post(path, form={"quantity.web": "5"})
    assert refused.status == 403
    assert "CSRF" in refused.text()
    assert _generation(kube, spaces[0], app) == before


def test_an_auth_proxys_header_signs_the_user_in(server, spaces, users, app: str) -> None:
    page = httpx2.get(f"{server[0]}/dashboard/", headers={PROXY_HEADER: users[0].token}, timeout=30)
    assert page.status_code == 200
    assert f'href="/dashboard/apps/{spaces[0]}/{app}"' in page.text
    assert "Sign out" not in page.text  # the proxy signs the user out, not the page


def test_no_token_is_in_a_url_or_in_the_servers_log(alice: Browser, server, users) -> None:
    assert alice.urls
    for user in users:
        assert not [u for u in alice.urls if user.token in u]
        assert user.token not in server[1].read_text()
