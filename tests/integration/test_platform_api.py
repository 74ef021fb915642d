"""The Platform API server against the real API server with the operator running: every
endpoint, every error, pagination, and RBAC with two users in two namespaces.

`dyno api` runs as a subprocess serving namespace A by default; alice may use the apps of A
(and read DynoSizes), bob those of B. Each call is made to Kubernetes with the caller's token.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from lightkube import Client

from dynoform.runtime.resources import generic
from tests.factories import formation_body
from tests.kubehelp import Deployment, Formation, Pod, apply_yaml, eventually, get
from tests.platform_api import ACCEPT, api_server, client

Job = generic("batch", "v1", "Job", "jobs")
DynoSizeRes = generic("dyno.dev", "v1alpha1", "DynoSize", "dynosizes", namespaced=False)


@pytest.fixture(scope="module")
def url(installed, spaces, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("api") / "api.log"
    with api_server(installed.kubeconfig, spaces[0], log) as served:
        yield served
    print(f"\n--- dyno api log tail ---\n{''.join(log.read_text().splitlines(True)[-40:])}")


@pytest.fixture
def app(installed, kube: Client, spaces) -> Iterator[str]:
    """A fresh app `shop-N` in namespace A (web=2, worker=1, clock=1)."""
    name = f"shop-{uuid.uuid4().hex[:5]}"
    apply_yaml(installed.kubectl, formation_body(name, spaces[0]))
    eventually(lambda: len(_pods(kube, spaces[0], name)) == 4, timeout=60, what="4 dynos")
    yield name
    installed.kubectl("delete", "formation", name, "-n", spaces[0], "--wait=false")


def _pods(kube: Client, namespace: str, app: str, ptype: str | None = None) -> list[dict[str, Any]]:
    labels = {"dyno.dev/formation": app, **({"dyno.dev/process-type": ptype} if ptype else {})}
    pods = kube.list(Pod, namespace=namespace, labels=labels)
    return [dict(p) for p in pods if not p["metadata"].get("deletionTimestamp")]


def _spec(kube: Client, namespace: str, app: str) -> tuple[int, dict[str, Any]]:
    f = get(kube, Formation, app, namespace)
    assert f is not None
    return f["metadata"]["generation"], f["spec"]


def _error(response: httpx2.Response, status: int, error_id: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "message"}, body
    assert body["id"] == error_id, body
    return str(body["message"])


def test_formation_list_info_and_updates_as_heroku_clients_send_them(
    operator, kube: Client, users, url: str, app: str, spaces
) -> None:
    alice = client(url, users[0].token)
    listed = alice.get(f"/apps/{app}/formation")
    assert listed.status_code == 200
    assert listed.headers["content-type"] == "application/json"
    by_type = {f["type"]: f for f in listed.json()}
    assert sorted(by_type) == ["clock", "web", "worker"]
    web = by_type["web"]
    assert (web["quantity"], web["size"], web["dyno_size"]["name"]) == (
        2,
        "Standard-1X",
        "Standard-1X",
    )
    assert web["command"] == "bundle exec puma -p $PORT"
    assert web["app"]["name"] == app
    uuid.UUID(web["id"]), uuid.UUID(web["app"]["id"]), uuid.UUID(web["dyno_size"]["id"])
    assert alice.get(f"/apps/{app}/formation/{web['id']}").json()["type"] == "web"

    one = alice.patch(f"/apps/{app}/formation/web", json={"quantity": "3", "size": "standard-2X"})
    assert one.status_code == 200, one.text
    assert (one.json()["quantity"], one.json()["size"]) == (3, "Standard-2X")
    assert alice.patch(f"/apps/{app}/formation/web", json={"quantity": 4}).json()["quantity"] == 4
    batch = alice.patch(
        f"/apps/{app}/formation",
        json={"updates": [{"type": "web", "quantity": "-1"}, {"type": "worker", "quantity": "+2"}]},
    )
    assert batch.status_code == 200, batch.text
    assert [(f["type"], f["quantity"], f["size"]) for f in batch.json()] == [
        ("web", 3, "Standard-2X"),
        ("worker", 3, "Standard-1X"),
    ]
    _, spec = _spec(kube, spaces[0], app)
    assert spec["processes"]["web"] == {
        **spec["processes"]["web"],
        "quantity": 3,
        "size": "standard-2x",
    }
    eventually(
        lambda: get(kube, Deployment, f"{app}-worker", spaces[0])["spec"]["replicas"] == 3,  # type: ignore[index]
        timeout=60,
        what="the worker Deployment at 3",
    )

    # The history names the real user, as the cluster's admission stamped the write.
    def last_change() -> dict[str, Any] | None:
        f = get(kube, Formation, app, spaces[0]) or {}
        history = (f.get("status") or {}).get("history") or []
        return history[-1] if history and "worker=3" in history[-1]["formation"] else None

    change = eventually(last_change, timeout=60, what="the history entry of the batch update")
    assert change["by"] == users[0].name


BAD_UPDATES = [
    ({"quantity": "two"}, 422, "invalid_params", r'quantity of web: a number, or "\+N"/"-N"'),
    ({"quantity": -1}, 422, "invalid_params", "quantity of web: at least 0"),
    ({"quantity": True}, 422, "invalid_params", "quantity"),
    ({"quantity": 1.5}, 422, "invalid_params", "quantity"),
    ({"quantity": "-9"}, 422, "invalid_params", r"Cannot scale web below 0 dynos \(web-9"),
    ({"size": "huge"}, 422, "invalid_params", "No such size as huge"),
    ({"quantity": 2, "size": "Eco"}, 422, "invalid_params", "Cannot run more than 1 Eco dyno"),
]


@pytest.mark.parametrize(("body", "status", "error_id", "message"), BAD_UPDATES)
def test_a_bad_update_is_herokus_error_and_writes_nothing(
    operator, kube: Client, users, url: str, app: str, spaces, body, status, error_id, message
) -> None:
    before = _spec(kube, spaces[0], app)
    response = client(url, users[0].token).patch(f"/apps/{app}/formation/web", json=body)
    assert re.search(message, _error(response, status, error_id))
    assert _spec(kube, spaces[0], app) == before


def test_bad_requests_are_herokus_errors_and_write_nothing(
    operator, kube: Client, users, url: str, app: str, spaces
) -> None:
    alice = client(url, users[0].token)
    before = _spec(kube, spaces[0], app)
    assert "process type (nope)" in _error(
        alice.patch(f"/apps/{app}/formation", json={"updates": [{"type": "nope", "quantity": 1}]}),
        404,
        "not_found",
    )
    _error(alice.patch(f"/apps/{app}/formation/nope", json={"quantity": 1}), 404, "not_found")
    garbage = alice.patch(
        f"/apps/{app}/formation/web",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    _error(garbage, 400, "bad_request")
    huge = alice.patch(f"/apps/{app}/formation/web", content=json.dumps({"x": "y" * 70000}))
    _error(huge, 413, "request_entity_too_large")
    _error(alice.patch(f"/apps/{app}/formation", json={"updates": []}), 422, "invalid_params")
    assert _spec(kube, spaces[0], app) == before


def test_tokens_and_rbac_decide_and_nothing_of_another_namespace_shows(
    operator, users, url: str, app: str, spaces
) -> None:
    alice, bob = users
    _error(client(url, None).get(f"/apps/{app}/formation"), 401, "unauthorized")
    _error(client(url, "not-a-token").get(f"/apps/{app}/formation"), 401, "unauthorized")
    _error(client(url, None).get("/account"), 401, "unauthorized")
    qualified = f"{app}.{spaces[0]}"
    for path in (f"/apps/{qualified}", f"/apps/{qualified}/formation", f"/apps/{qualified}/dynos"):
        message = _error(client(url, bob.token).get(path), 403, "forbidden")
        assert message == f"You do not have access to the app {qualified}."
    _error(
        client(url, bob.token).patch(f"/apps/{qualified}/formation/web", json={"quantity": 9}),
        403,
        "forbidden",
    )
    _error(client(url, bob.token).delete(f"/apps/{qualified}/dynos"), 403, "forbidden")
    # Unqualified names are namespace A's, where bob may not read either.
    _error(client(url, bob.token).get(f"/apps/{app}"), 403, "forbidden")
    _error(client(url, alice.token).get("/apps/no-such-app"), 404, "not_found")
    _error(client(url, alice.token).get("/apps/Not_A_Name"), 404, "not_found")
    assert client(url, alice.token).get(f"/apps/{qualified}").json()["name"] == app


def test_app_info_by_name_and_id_apps_list_addons_and_account(
    operator, users, url: str, app: str, spaces
) -> None:
    alice = client(url, users[0].token)
    info = alice.get(f"/apps/{app}").json()
    assert (info["name"], info["owner"]["email"], info["stack"]["name"]) == (
        app,
        spaces[0],
        "container",
    )
    assert info["process_tier"] == "production"
    assert info["repo_size"] == 0
    assert alice.get(f"/apps/{info['id']}").json()["name"] == app
    assert app in [a["name"] for a in alice.get("/apps").json()]
    assert alice.get(f"/apps/{app}/addons").json() == []
    account = alice.get("/account").json()
    assert account["email"] == users[0].name
    uuid.UUID(account["id"])


def test_dyno_list_info_and_range_pagination(operator, users, url: str, app: str) -> None:
    alice = client(url, users[0].token)
    dynos = alice.get(f"/apps/{app}/dynos").json()
    assert sorted(d["name"] for d in dynos) == ["clock.1", "web.1", "web.2", "worker.1"]
    web1 = next(d for d in dynos if d["name"] == "web.1")
    assert (web1["type"], web1["size"], web1["command"]) == (
        "web",
        "Standard-1X",
        "bundle exec puma -p $PORT",
    )
    assert web1["state"] in ("up", "starting")
    assert web1["created_at"].endswith("Z")
    assert alice.get(f"/apps/{app}/dynos/web.1").json()["id"] == web1["id"]
    assert alice.get(f"/apps/{app}/dynos/{web1['id']}").json()["name"] == "web.1"
    _error(alice.get(f"/apps/{app}/dynos/web.9"), 404, "not_found")

    names, header = [], "name ..; max=3"
    while header:
        page = alice.get(f"/apps/{app}/dynos", headers={"Range": header})
        assert page.status_code in (200, 206)
        names += [d["name"] for d in page.json()]
        header = page.headers.get("Next-Range", "")
        assert (page.status_code == 206) == bool(header)
    assert names == ["clock.1", "web.1", "web.2", "worker.1"]
    desc = alice.get(f"/apps/{app}/dynos", headers={"Range": "name ..; max=2, order=desc"})
    assert desc.status_code == 206
    assert [d["name"] for d in desc.json()] == ["worker.1", "web.2"]
    assert desc.headers["Next-Range"] == "name ]web.2..; max=2, order=desc"
    _error(
        alice.get(f"/apps/{app}/dynos", headers={"Range": "size ..; max=2"}),
        416,
        "requested_range_not_satisfiable",
    )


def test_restart_and_stop_one_a_type_and_all(
    operator, kube: Client, users, url: str, app: str, spaces
) -> None:
    alice, ns = client(url, users[0].token), spaces[0]
    web1 = alice.get(f"/apps/{app}/dynos/web.1").json()
    restart = alice.delete(f"/apps/{app}/dynos/web.1")
    assert (restart.status_code, restart.json()) == (202, {})
    eventually(
        lambda: (
            web1["id"] not in {p["metadata"]["uid"] for p in _pods(kube, ns, app, "web")}
            and len(_pods(kube, ns, app, "web")) == 2
        ),
        timeout=60,
        what="web.1 replaced",
    )
    assert alice.delete(f"/apps/{app}/formations/worker").status_code == 202
    annotations = get(kube, Deployment, f"{app}-worker", ns)["spec"]["template"]["metadata"][
        "annotations"
    ]  # type: ignore[index]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert alice.delete(f"/apps/{app}/dynos").status_code == 202
    for ptype in ("web", "clock"):
        template = get(kube, Deployment, f"{app}-{ptype}", ns)["spec"]["template"]  # type: ignore[index]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    clock = {p["metadata"]["uid"] for p in _pods(kube, ns, app, "clock")}
    stop = alice.post(f"/apps/{app}/formations/clock/actions/stop")
    assert (stop.status_code, stop.json()) == (202, {})
    eventually(
        lambda: not clock & {p["metadata"]["uid"] for p in _pods(kube, ns, app, "clock")},
        timeout=60,
        what="the clock dyno stopped",
    )
    assert alice.post(f"/apps/{app}/dynos/worker.1/actions/stop").status_code == 202
    _error(alice.post(f"/apps/{app}/formations/nope/actions/stop"), 404, "not_found")
    _error(alice.delete(f"/apps/{app}/formations/nope"), 404, "not_found")


def test_a_detached_run_is_a_one_off_job(
    operator, kube: Client, users, url: str, app: str, spaces
) -> None:
    alice = client(url, users[0].token)
    made = alice.post(
        f"/apps/{app}/dynos",
        json={
            "command": "worker --once",
            "attach": False,
            "size": "Standard-2X",
            "env": {"A": "1"},
            "time_to_live": 600,
        },
    )
    assert made.status_code == 201, made.text
    assert (made.json()["name"], made.json()["type"], made.json()["size"]) == (
        "run.1",
        "run",
        "Standard-2X",
    )
    assert made.json()["command"] == "bundle exec sidekiq --once"
    job = get(kube, Job, f"{app}-run-1", spaces[0])
    assert job is not None
    assert job["spec"]["activeDeadlineSeconds"] == 600
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "A", "value": "1"} in container["env"]
    second = alice.post(f"/apps/{app}/dynos", json={"command": "ls"})
    assert second.json()["name"] == "run.2"
    _error(
        alice.post(f"/apps/{app}/dynos", json={"command": "bash", "attach": True}),
        422,
        "invalid_params",
    )
    _error(
        alice.post(f"/apps/{app}/dynos", json={"command": "ls", "size": "huge"}),
        422,
        "invalid_params",
    )
    _error(
        alice.post(f"/apps/{app}/dynos", json={"command": "ls", "env": {"PORT": "1"}}),
        422,
        "invalid_params",
    )
    _error(alice.post(f"/apps/{app}/dynos", json={}), 422, "invalid_params")


def test_dyno_sizes_include_the_admins_and_readers_without_rights_see_heroku_s(
    operator, kube: Client, installed, users, url: str
) -> None:
    name = f"gpu-{uuid.uuid4().hex[:5]}"
    size = {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "DynoSize",
        "metadata": {"name": name},
        "spec": {
            "displayName": "GPU-1X",
            "tier": "gpu",
            "requests": {"cpu": "2", "memory": "8Gi"},
            "limits": {"cpu": "2", "memory": "8Gi"},
            "cost": {"cents": 90000, "unit": "month"},
        },
    }
    apply_yaml(installed.kubectl, size)
    try:
        alice = client(url, users[0].token)
        sizes = {s["name"]: s for s in alice.get("/dyno-sizes").json()}
        assert sizes["GPU-1X"]["cost"] == {"cents": 90000, "unit": "month"}
        assert sizes["Standard-1X"]["cost"] is None
        assert list(sizes)[:3] == ["Eco", "Basic", "Standard-1X"]
        assert sizes["GPU-1X"]["id"] == get_uid(kube, name)
        assert (sizes["GPU-1X"]["compute"], sizes["GPU-1X"]["memory"]) == (2.0, 8.0)
        assert sizes["Standard-2X"]["memory"] == 1.0
        assert alice.get(f"/dyno-sizes/{name}").json()["name"] == "GPU-1X"
        assert alice.get("/dyno-sizes/performance-l").json()["name"] == "Performance-L"
        _error(alice.get("/dyno-sizes/nope"), 404, "not_found")
        bob_sizes = [s["name"] for s in client(url, users[1].token).get("/dyno-sizes").json()]
        assert "GPU-1X" not in bob_sizes
        assert "Performance-L" in bob_sizes
    finally:
        installed.kubectl("delete", "dynosize", name)


def get_uid(kube: Client, name: str) -> str:
    return str(kube.get(DynoSizeRes, name)["metadata"]["uid"])


@pytest.mark.parametrize(
    "accept",
    [
        ACCEPT,
        "application/vnd.heroku+json; version=3.sdk",
        "application/vnd.heroku+json;version=3.run-inside",
        "application/json",
        "*/*",
    ],
)
def test_every_version_3_accept_header_is_served(operator, users, url: str, accept: str) -> None:
    response = client(url, users[0].token, accept=accept).get("/account")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["Request-Id"]


def test_another_api_version_is_refused(operator, users, url: str) -> None:
    response = client(url, users[0].token, accept="application/vnd.heroku+json; version=2").get(
        "/account"
    )
    _error(response, 406, "not_acceptable")
    _error(client(url, users[0].token).get("/no/such/endpoint"), 404, "not_found")
