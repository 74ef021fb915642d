"""Formations, dynos, sizes and apps as the Platform API shows them (dynoform.server.present),
where the server finds its cluster (dynoform.server.config), and the committed OpenAPI
description (docs/platform-api.openapi.json), which must match the app."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dynoform.api import dynos as dy
from dynoform.api.oneoff import RunRequest
from dynoform.api.sizes import BUILTIN, Catalog
from dynoform.api.v1alpha1 import Cost
from dynoform.server import present
from dynoform.server.config import ConfigError, from_kubeconfig, in_cluster
from dynoform.server.ids import derived, timestamp
from dynoform.server.openapi import document
from tests.factories import make_formation

ROOT = Path(__file__).resolve().parents[2]
CATALOG = Catalog()
SHOP = make_formation(
    uid="0b9a4f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    generation=7,
    processes={
        "web": {"command": "puma", "quantity": 3, "size": "performance-l"},
        "worker": {"command": "sidekiq"},
    },
)
SHOP.metadata["creationTimestamp"] = "2026-11-21T19:00:00Z"


def test_a_process_type_is_herokus_formation_with_size_and_dyno_size() -> None:
    shown = present.formation(SHOP, "web", "shop", CATALOG, {})
    assert (shown.type, shown.quantity, shown.size, shown.command) == (
        "web",
        3,
        "Performance-L",
        "puma",
    )
    assert shown.dyno_size.name == "Performance-L"
    assert shown.dyno_size.id == derived("dyno-size", "performance-l")
    assert (shown.app.id, shown.app.name) == ("0b9a4f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "shop")
    assert shown.id == present.formation(SHOP, "web", "other-name", CATALOG, {}).id  # stable
    assert shown.created_at == shown.updated_at == "2026-11-21T19:00:00Z"


def test_a_type_without_a_quantity_shows_herokus_default() -> None:
    assert present.formation(SHOP, "worker", "shop", CATALOG, {}).quantity == 0


def test_an_admins_size_has_its_objects_uid() -> None:
    shown = present.formation(SHOP, "web", "shop", CATALOG, {"performance-l": "uid-9"})
    assert shown.dyno_size.id == "uid-9"


def test_a_pod_is_a_dyno_named_as_ps_names_it() -> None:
    pod = {
        "metadata": {
            "name": "shop-web-abc",
            "uid": "pod-uid",
            "creationTimestamp": "2026-11-21T19:00:00Z",
            "labels": {"dyno.dev/process-type": "web", "dyno.dev/size": "performance-l"},
        },
        "spec": {"containers": [{"command": ["/bin/sh", "-c", 'eval "exec $0"', "puma"]}]},
        "status": {"phase": "Running", "startTime": "2026-11-21T19:00:05Z"},
    }
    (d,) = dy.from_pods([pod], {})
    shown = present.dyno(d, SHOP, "shop", CATALOG, "pod-uid", timestamp("2026-11-21T19:00:00Z"))
    assert (shown.name, shown.type, shown.state, shown.size, shown.command) == (
        "web.1",
        "web",
        "up",
        "Performance-L",
        "puma",
    )
    assert (shown.id, shown.release.version, shown.updated_at) == (
        "pod-uid",
        7,
        "2026-11-21T19:00:05Z",
    )


SIZES = [
    ("eco", "Eco", 1.0, 0.5, False),
    ("standard-2x", "Standard-2X", 2.0, 1.0, False),
    ("performance-l", "Performance-L", 8.0, 14.0, True),
]


@pytest.mark.parametrize(("name", "display", "compute", "memory", "dedicated"), SIZES)
def test_a_size_shows_herokus_name_memory_and_compute(
    name, display, compute, memory, dedicated
) -> None:
    shown = present.dyno_size(name, BUILTIN[name], {})
    assert (shown.name, shown.compute, shown.memory, shown.dedicated) == (
        display,
        compute,
        memory,
        dedicated,
    )


def test_a_size_says_its_cost_when_its_dynosize_gives_one_and_none_otherwise() -> None:
    priced = BUILTIN["standard-2x"].model_copy(update={"cost": Cost(cents=5000)})
    assert present.dyno_size("standard-2x", priced, {}).model_dump()["cost"] == {
        "cents": 5000,
        "unit": "month",
    }
    assert present.dyno_size("standard-2x", BUILTIN["standard-2x"], {}).cost is None


def test_an_app_on_eco_dynos_only_is_herokus_eco_tier() -> None:
    eco = make_formation(processes={"web": {"command": "puma", "size": "eco"}})
    assert present.app(eco, "shop", CATALOG).process_tier == "eco"
    assert present.app(SHOP, "shop", CATALOG).process_tier == "production"
    shown = present.app(SHOP, "shop", CATALOG)
    assert (shown.owner.email, shown.stack.name, shown.repo_size) == ("default", "container", 0)


def test_times_are_herokus_utc_seconds() -> None:
    assert timestamp("2026-11-21T19:00:00.123456+01:00") == "2026-11-21T18:00:00Z"
    assert timestamp(None) == "1970-01-01T00:00:00Z"


def test_a_run_whose_pod_is_not_made_yet_is_starting() -> None:
    run = RunRequest("ls", "standard-2x", detached=True)
    shown = present.pending_run(SHOP, "shop", "run.1", run, CATALOG)
    assert (shown.name, shown.type, shown.state, shown.size) == (
        "run.1",
        "run",
        "starting",
        "Standard-2X",
    )


def test_the_cluster_comes_from_the_kubeconfig_without_its_credentials(tmp_path: Path) -> None:
    ca = base64.b64encode(b"not a real CA").decode()
    (tmp_path / "config").write_text(
        "apiVersion: v1\ncurrent-context: dev\n"
        "contexts: [{name: dev, context: {cluster: local, user: me, namespace: team-a}}]\n"
        f"clusters: [{{name: local, cluster: {{server: 'https://127.0.0.1:6443/', "
        f"certificate-authority-data: {ca}}}}}]\n"
        "users: [{name: me, user: {token: secret}}]\n"
    )
    upstream = from_kubeconfig(str(tmp_path / "config"))
    assert (upstream.server, upstream.namespace, upstream.ca_data) == (
        "https://127.0.0.1:6443",
        "team-a",
        b"not a real CA",
    )
    assert "secret" not in repr(upstream)
    assert upstream.with_namespace("team-b").namespace == "team-b"
    with pytest.raises(ConfigError):
        from_kubeconfig(str(tmp_path / "config"), context="nope")


def test_in_a_pod_the_cluster_is_the_service_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "namespace").write_text("dynoform\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    upstream = in_cluster(tmp_path)
    assert (upstream.server, upstream.namespace) == ("https://10.0.0.1:443", "dynoform")
    assert upstream.ca_file == str(tmp_path / "ca.crt")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ConfigError):
        in_cluster(tmp_path)


def test_the_committed_openapi_description_is_the_apps() -> None:
    committed = (ROOT / "docs" / "platform-api.openapi.json").read_text()
    assert committed == document(), "stale: run `make openapi` and commit the result"
