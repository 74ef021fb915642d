"""Eco sleep against the real API server: an eco web type without the KEDA HTTP add-on, and with
the add-on's real HTTPScaledObject CRD (tests/fixtures/keda-http-add-on/, v0.15.0) installed.

The add-on's controller and interceptor do not run here (no images): the tests show the
HTTPScaledObject built and accepted by the add-on's schema, the Deployment's replicas left to
the add-on, and status following the Deployment as the add-on scales it. Its scaler's writes are
made with a field manager like KEDA's own, through the Deployment's scale subresource, as KEDA
scales a workload. The CRD is removed at the end of each test that installs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client

from dynoform.runtime.resources import RESOURCES
from localcluster.audit import AuditLog
from localcluster.operator import OPERATOR_USER
from tests.factories import formation_body
from tests.integration.test_autoscaling import handed_over, replicas_managers
from tests.integration.test_operator import create, deployment, patch_spec, wait_ready
from tests.integration.test_writes import settled
from tests.kubehelp import (
    Deployment,
    Formation,
    apply_yaml,
    condition,
    condition_with,
    eventually,
    get,
)

HSO = RESOURCES["HTTPScaledObject"]
HTTP_CRD = "httpscaledobjects.http.keda.sh"
CRD_FILE = (
    Path(__file__).parent.parent / "fixtures/keda-http-add-on/http.keda.sh_httpscaledobjects.yaml"
)
KEDA_MANAGER = "keda"  # the KEDA operator's binary, which scales a workload to and from zero
ECO = {
    "web": {"command": "node server.js", "size": "eco"},
    "worker": {"command": "node worker.js", "quantity": 1, "size": "eco"},
}


def sleeping_condition(kube: Client, namespace: str, reason: str) -> dict[str, Any] | None:
    said = condition(get(kube, Formation, "shop", namespace), "Sleeping")
    return said if said and said["reason"] == reason else None


def web_state(kube: Client, namespace: str, state: str) -> dict[str, Any] | None:
    f = get(kube, Formation, "shop", namespace)
    web = ((f or {}).get("status") or {}).get("processes", {}).get("web", {})
    return f if web.get("sleep") == state else None


def scale_as_the_add_on(installed, namespace: str, replicas: int) -> None:  # type: ignore[no-untyped-def]
    installed.kubectl(
        "patch", "deployment", "shop-web", "-n", namespace, "--subresource=scale",
        "--type=merge", "-p", json.dumps({"spec": {"replicas": replicas}}),
        f"--field-manager={KEDA_MANAGER}",
    )  # fmt: skip


def no_write_across_resyncs(audit: AuditLog, operator: Any, namespace: str) -> None:
    settled(audit, operator, namespace)
    mark = audit.mark()
    operator.wait_for_resyncs(3)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]


@pytest.fixture
def http_add_on(installed) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The add-on's real CRD, served for one test, then removed (and with it every
    HTTPScaledObject), so that other tests see a cluster without the add-on."""
    installed.kubectl("apply", "--server-side", "-f", str(CRD_FILE))
    try:
        installed.kubectl("wait", "--for=condition=Established", f"crd/{HTTP_CRD}")
        yield
    finally:
        installed.kubectl("delete", "crd", HTTP_CRD, "--wait=true")


def test_without_the_add_on_an_eco_web_type_runs_awake_and_says_why(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=ECO)
    f = wait_ready(kube, namespace)
    dep = deployment(kube, namespace, "shop-web")
    assert dep["spec"]["replicas"] == 1
    assert "dynoform" in replicas_managers(dep)
    said = condition(f, "Sleeping")
    assert said is not None
    assert (said["status"], said["reason"]) == ("False", "HttpAddOnNotInstalled")
    assert said["message"] == (
        "web: an eco web type sleeps through the KEDA HTTP add-on, and this cluster has no "
        "HTTPScaledObject (httpscaledobjects.http.keda.sh); web runs awake, 1 dyno"
    )
    assert "sleep" not in f["status"]["processes"]["web"]


def test_with_the_add_on_an_eco_web_type_sleeps_wakes_and_costs_no_write_when_in_sync(
    operator, installed, http_add_on, kube: Client, audit: AuditLog, namespace: str
) -> None:
    from tests.integration.test_cli import dyno

    create(installed, namespace, processes=ECO)
    hso = eventually(lambda: get(kube, HSO, "shop-web", namespace), what="the HTTPScaledObject")
    # As built, and as the add-on's schema accepted it (nothing pruned by the API server).
    assert hso["spec"] == {
        "hosts": [f"shop.{namespace}"],
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
    assert get(kube, HSO, "shop-worker", namespace) is None  # workers never sleep
    dep = eventually(lambda: handed_over(kube, namespace, "shop-web"), what="replicas handed over")
    assert dep["spec"]["replicas"] == 1  # awake, at its quantity, until the add-on says
    assert "dynoform" in replicas_managers(deployment(kube, namespace, "shop-worker"))
    eventually(lambda: web_state(kube, namespace, "Awake"), what="web Awake in status")
    awake = eventually(lambda: sleeping_condition(kube, namespace, "Awake"), what="Awake")
    assert awake["status"] == "False"
    no_write_across_resyncs(audit, operator, namespace)  # awake and in sync

    # 30 minutes without a request: the add-on scales web to 0.
    scale_as_the_add_on(installed, namespace, 0)
    f = eventually(lambda: web_state(kube, namespace, "Sleeping"), what="web Sleeping in status")
    assert f["status"]["processes"]["web"]["desired"] == 0
    said = eventually(lambda: sleeping_condition(kube, namespace, "Sleeping"), what="Sleeping")
    assert said["status"] == "True"
    assert said["message"] == (
        "web sleeps; the next request through the KEDA HTTP add-on's interceptor "
        f"(HTTPScaledObject shop-web, hosts shop.{namespace}) wakes it."
    )
    wait_ready(kube, namespace)  # asleep is not broken
    eventually(
        lambda: "web.1: sleeping " in dyno(namespace, "ps").out, what="dyno ps showing web asleep"
    )

    # In sync while asleep: resyncs write nothing, and leave the add-on's 0 alone.
    no_write_across_resyncs(audit, operator, namespace)
    assert deployment(kube, namespace, "shop-web")["spec"]["replicas"] == 0

    # A request comes through the interceptor: the add-on wakes web.
    scale_as_the_add_on(installed, namespace, 1)
    eventually(lambda: web_state(kube, namespace, "Awake"), what="web Awake again")
    eventually(lambda: sleeping_condition(kube, namespace, "Awake"), what="Awake again")


def test_sleep_false_keeps_web_awake_and_removes_its_http_scaled_object(
    operator, installed, http_add_on, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=ECO)
    eventually(lambda: get(kube, HSO, "shop-web", namespace), what="the HTTPScaledObject")
    eventually(lambda: handed_over(kube, namespace, "shop-web"), what="replicas handed over")
    scale_as_the_add_on(installed, namespace, 0)
    eventually(lambda: web_state(kube, namespace, "Sleeping"), what="web Sleeping")
    patch_spec(kube, namespace, {"web": {"sleep": False}})
    eventually(lambda: get(kube, HSO, "shop-web", namespace) is None, what="the HSO pruned")

    def awake_and_ours() -> dict[str, Any] | None:
        dep = get(kube, Deployment, "shop-web", namespace)
        ok = dep and dep["spec"]["replicas"] == 1 and "dynoform" in replicas_managers(dep)
        return dep if ok else None

    eventually(awake_and_ours, what="web back at its quantity, held by the operator")
    f = wait_ready(kube, namespace)
    assert condition(f, "Sleeping") is None
    assert "sleep" not in f["status"]["processes"]["web"]


def test_once_the_add_on_is_removed_web_runs_awake_again(
    operator, installed, kube: Client, namespace: str
) -> None:
    installed.kubectl("apply", "--server-side", "-f", str(CRD_FILE))
    try:
        installed.kubectl("wait", "--for=condition=Established", f"crd/{HTTP_CRD}")
        create(installed, namespace, processes=ECO)
        eventually(lambda: handed_over(kube, namespace, "shop-web"), what="replicas handed over")
        scale_as_the_add_on(installed, namespace, 0)
        eventually(lambda: web_state(kube, namespace, "Sleeping"), what="web Sleeping")
    finally:
        installed.kubectl("delete", "crd", HTTP_CRD, "--wait=true")
    eventually(
        lambda: sleeping_condition(kube, namespace, "HttpAddOnNotInstalled"),
        timeout=30,
        what="HttpAddOnNotInstalled once the CRD is gone",
    )
    dep = eventually(
        lambda: (d := get(kube, Deployment, "shop-web", namespace)) and d["spec"]["replicas"] == 1
        and d, what="web awake at its quantity",
    )  # fmt: skip
    assert "dynoform" in replicas_managers(dep)


def test_sleep_or_hosts_on_a_worker_is_refused_at_apply_time(
    operator, installed, namespace: str
) -> None:
    for field in ({"sleep": True}, {"hosts": ["jobs.example.com"]}):
        worker = {**ECO["worker"], **field}
        body = formation_body(namespace=namespace, processes={**ECO, "worker": worker})
        result = apply_yaml(installed.kubectl, body, "--dry-run=server", check=False)
        assert result.returncode != 0, f"accepted: {field}"
        assert "only web sleeps (as on Heroku): sleep and hosts are for the web type only" in (
            result.stderr
        )
    bad_host = {"web": {**ECO["web"], "hosts": ["Shop Example"]}}
    result = apply_yaml(
        installed.kubectl, formation_body(namespace=namespace, processes=bad_host),
        "--dry-run=server", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "spec.processes.web.hosts[0]" in result.stderr


def test_asking_a_standard_dyno_to_sleep_is_refused_with_the_size_named(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes={"web": {"command": "puma", "sleep": True}})
    said = eventually(
        lambda: condition_with(kube, namespace, "Reconciled", "CannotSleep"),
        what="Reconciled=False CannotSleep",
    )
    assert said["message"] == (
        "Only Eco dynos sleep: web runs Standard-1X dynos. Remove sleep, or use the eco size."
    )
    assert get(kube, Deployment, "shop-web", namespace) is None  # nothing half-applied
