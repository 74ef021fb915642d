"""Eco sleep, pure parts: which types sleep, the HTTPScaledObject built for the KEDA HTTP add-on,
the Deployment that leaves its replicas to it, the refusals, what status and `dyno ps` say."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from dynoform.api.conditions import find
from dynoform.api.sizes import Catalog, SizeError, check
from dynoform.api.v1alpha1 import Formation, describe
from dynoform.cli import render
from dynoform.cli.commands.ps import with_sleeping
from dynoform.core import sleep
from dynoform.core.builders.formation import build_children
from dynoform.core.status import Observed, Outcome, Phases, build_status
from tests.factories import make_formation

APPLIED = (True, "Applied", "ok")
ECO_WEB = {"command": "node server.js", "size": "eco"}
ECO_WORKER = {"command": "node worker.js", "quantity": 1, "size": "eco"}
NOW = datetime(2026, 12, 7, 3, 0, 0, tzinfo=UTC)


def eco(**web: Any) -> Formation:
    return make_formation(processes={"web": {**ECO_WEB, **web}, "worker": ECO_WORKER})


def kids(formation: Formation, http_add_on: bool) -> dict[tuple[str, str], dict[str, Any]]:
    built = build_children(formation, check(formation.spec, Catalog()), http_add_on=http_add_on)
    return {(c["kind"], c["metadata"]["name"]): c for c in built}


def test_an_eco_web_type_gets_an_http_scaled_object_that_sleeps_it_after_30_minutes() -> None:
    built = kids(eco(), http_add_on=True)
    hso = built[("HTTPScaledObject", "shop-web")]
    assert hso["apiVersion"] == "http.keda.sh/v1alpha1"
    assert hso["spec"] == {
        "hosts": ["shop.default"],
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "shop-web",
            "service": "shop-web",
            "port": 80,
        },
        "replicas": {"min": 0, "max": 1},
        "scaledownPeriod": 1800,
    }
    assert hso["metadata"]["ownerReferences"][0]["kind"] == "Formation"
    # The add-on owns the web Deployment's replicas; the worker keeps its quantity.
    assert "replicas" not in built[("Deployment", "shop-web")]["spec"]
    assert built[("Deployment", "shop-worker")]["spec"]["replicas"] == 1
    # The Service the add-on's interceptor forwards to listens on the port it names.
    assert built[("Service", "shop-web")]["spec"]["ports"][0]["port"] == 80


def test_the_hosts_the_interceptor_routes_are_the_types_own_when_given() -> None:
    built = kids(eco(hosts=["shop.example.com", "*.shop.example.com"]), http_add_on=True)
    spec = built[("HTTPScaledObject", "shop-web")]["spec"]
    assert spec["hosts"] == ["shop.example.com", "*.shop.example.com"]


def test_without_the_add_on_the_eco_web_type_runs_awake_at_its_quantity() -> None:
    built = kids(eco(), http_add_on=False)
    assert not [k for k in built if k[0] == "HTTPScaledObject"]
    assert built[("Deployment", "shop-web")]["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    ("processes", "why"),
    [
        ({"web": {**ECO_WEB, "sleep": False}, "worker": ECO_WORKER}, "opted out"),
        ({"web": {**ECO_WEB, "quantity": 0}, "worker": ECO_WORKER}, "scaled to 0: off"),
        ({"web": {"command": "puma", "size": "basic"}}, "basic dynos never sleep"),
        ({"web": {"command": "puma"}}, "standard dynos never sleep"),
        ({"worker": ECO_WORKER}, "a worker never sleeps"),
    ],
)
def test_only_a_running_eco_web_type_that_did_not_opt_out_sleeps(
    processes: dict[str, Any], why: str
) -> None:
    f = make_formation(processes=processes)
    built = kids(f, http_add_on=True)
    assert not [k for k in built if k[0] == "HTTPScaledObject"], why
    assert all("replicas" in b["spec"] for (kind, _), b in built.items() if kind == "Deployment")
    assert sleep.verdict(f, {}, http_add_on=True) is None


def test_sleep_and_hosts_on_another_type_than_web_are_refused() -> None:
    for field in ({"sleep": True}, {"hosts": ["a.example.com"]}):
        with pytest.raises(ValidationError) as exc:
            make_formation(processes={"web": ECO_WEB, "worker": {**ECO_WORKER, **field}})
        assert "worker: only web sleeps (as on Heroku)" in describe(exc.value)


def test_a_host_that_is_no_dns_name_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        eco(hosts=["Shop Example"])
    assert "hosts" in describe(exc.value)


def test_asking_a_size_other_than_eco_to_sleep_is_refused_with_the_size_named() -> None:
    f = make_formation(processes={"web": {"command": "puma", "size": "standard-2x", "sleep": True}})
    with pytest.raises(SizeError) as exc:
        check(f.spec, Catalog())
    assert exc.value.reason == "CannotSleep"
    assert str(exc.value) == (
        "Only Eco dynos sleep: web runs Standard-2X dynos. Remove sleep, or use the eco size."
    )


def deployment(replicas: int, ready: int) -> dict[str, Any]:
    return {
        "metadata": {"generation": 2},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 2,
            "replicas": ready,
            "readyReplicas": ready,
            "updatedReplicas": ready,
            "availableReplicas": ready,
        },
    }


def status_with(formation: Formation, web: dict[str, Any], http_add_on: bool) -> Any:
    deployments = {"web": web, "worker": deployment(1, 1)}
    phases = Phases(
        sleep=sleep.verdict(formation, deployments, http_add_on),
        sleeping={
            t: st
            for t in formation.spec.processes
            if (st := sleep.state(formation, t, deployments.get(t), http_add_on))
        },
    )
    observed = Observed(deployments=deployments)
    return build_status(formation, observed, Outcome(APPLIED, "2026-12-07T02:30:00Z", None, phases))


def test_status_says_sleeping_when_the_add_on_holds_web_at_0_dynos() -> None:
    f = eco()
    st = status_with(f, deployment(0, 0), http_add_on=True)
    web = st.processes["web"]
    assert (web.sleep, web.desired) == ("Sleeping", 0)
    assert st.processes["worker"].sleep is None
    said = find(st.conditions, "Sleeping")
    assert (said.status, said.reason) == ("True", "Sleeping")
    assert said.message == (
        "web sleeps; the next request through the KEDA HTTP add-on's interceptor "
        "(HTTPScaledObject shop-web, hosts shop.default) wakes it."
    )
    assert find(st.conditions, "Ready").status == "True"  # asleep is not broken


def test_status_says_awake_while_web_runs_its_dyno() -> None:
    st = status_with(eco(), deployment(1, 1), http_add_on=True)
    assert (st.processes["web"].sleep, st.processes["web"].desired) == ("Awake", 1)
    said = find(st.conditions, "Sleeping")
    assert (said.status, said.reason) == ("False", "Awake")
    assert said.message.startswith("web is awake; it sleeps after 30 minutes without requests")


def test_without_the_add_on_the_condition_names_its_crd_and_web_runs_awake() -> None:
    st = status_with(eco(), deployment(1, 1), http_add_on=False)
    assert st.processes["web"].sleep is None
    said = find(st.conditions, "Sleeping")
    assert (said.status, said.reason) == ("False", "HttpAddOnNotInstalled")
    assert said.message == (
        "web: an eco web type sleeps through the KEDA HTTP add-on, and this cluster has no "
        "HTTPScaledObject (httpscaledobjects.http.keda.sh); web runs awake, 1 dyno"
    )


def test_the_condition_goes_once_web_opts_out() -> None:
    f = eco()
    st = status_with(f, deployment(0, 0), http_add_on=True)
    out = eco(sleep=False).model_copy(update={"status": st})
    again = status_with(out, deployment(1, 1), http_add_on=True)
    assert find(again.conditions, "Sleeping") is None
    assert again.processes["web"].sleep is None


def test_dyno_ps_shows_a_sleeping_web_dyno_since_it_fell_asleep() -> None:
    f = eco()
    st = status_with(f, deployment(0, 0), http_add_on=True)
    seen = f.model_copy(update={"status": st})
    dynos = with_sleeping([], seen)
    assert [(d.name, d.state) for d in dynos] == [("web.1", "sleeping")]
    out = render.ps(dynos, seen, Catalog(), NOW, UTC)
    assert out.splitlines()[:3] == [
        "=== web (Eco): node server.js (1)",
        "",
        "web.1: sleeping 2026/12/07 02:30:00 +0000 (~ 30m ago)",
    ]


def test_dyno_ps_shows_no_sleeping_dyno_while_web_is_awake() -> None:
    f = eco()
    st = status_with(f, deployment(1, 1), http_add_on=True)
    assert with_sleeping([], f.model_copy(update={"status": st})) == []
