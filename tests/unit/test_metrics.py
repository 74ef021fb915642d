"""The metrics' pure parts: which verb and resource a request counts under, and how the
Formation gauges move with each Formation's status (bounded: per namespace, never per pod)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from dynoform.operator.metrics import FormationTally, share_of
from dynoform.runtime.metrics import request_labels


@pytest.mark.parametrize(
    ("method", "path", "watching", "expected"),
    [
        ("GET", "/apis/apps/v1/namespaces/shop/deployments", False, ("list", "deployments")),
        ("GET", "/apis/apps/v1/deployments", True, ("watch", "deployments")),
        ("GET", "/api/v1/namespaces/shop/pods/web-1", False, ("get", "pods")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/shop/deployments/shop-web",
            False,
            ("patch", "deployments"),
        ),
        (
            "PATCH",
            "/apis/dyno.dev/v1alpha1/namespaces/shop/formations/shop/status",
            False,
            ("patch", "formations/status"),
        ),
        ("POST", "/api/v1/namespaces/shop/events", False, ("create", "events")),
        (
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/d/leases/dynoform",
            False,
            ("update", "leases"),
        ),
        ("DELETE", "/apis/batch/v1/namespaces/shop/jobs/shop-release-1", False, ("delete", "jobs")),
        ("DELETE", "/apis/batch/v1/namespaces/shop/jobs", False, ("deletecollection", "jobs")),
        ("GET", "/api/v1/namespaces", False, ("list", "namespaces")),
        ("GET", "/api/v1/namespaces/shop", False, ("get", "namespaces")),
        ("GET", "/api/v1/nodes", True, ("watch", "nodes")),
        ("GET", "/version", False, ("get", "other")),
        ("GET", "/apis/apps/v1", False, ("get", "other")),
    ],
)
def test_a_request_counts_under_its_kubernetes_verb_and_resource(
    method: str, path: str, watching: bool, expected: tuple[str, str]
) -> None:
    assert request_labels(method, path, watching) == expected


def formation(namespace: str, name: str, ready: str | None, **processes: tuple[int, int]) -> dict:
    status: dict = {"processes": {t: {"desired": d, "ready": r} for t, (d, r) in processes.items()}}
    if ready is not None:
        reason = "DynosAvailable" if ready == "True" else "RollingOut"
        status["conditions"] = [{"type": "Ready", "status": ready, "reason": reason}]
    return {"metadata": {"namespace": namespace, "name": name}, "status": status}


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_a_formation_adds_its_ready_state_and_its_dynos_to_its_namespace() -> None:
    share = share_of(formation("ns-a", "shop", "False", web=(3, 1), worker=(2, 2)))
    assert share == (("False", "RollingOut"), "ns-a", 5, 3)


def test_a_formation_without_status_counts_as_not_reported() -> None:
    body = {"metadata": {"namespace": "ns-a", "name": "new"}}
    assert share_of(body) == (("Unknown", "NoStatus"), "ns-a", 0, 0)


def test_the_gauges_follow_each_formation_and_drop_a_namespace_with_its_last_formation() -> None:
    tally, ns = FormationTally(), "tally-ns"
    tally.observe((ns, "a"), formation(ns, "a", "False", web=(3, 1)))
    tally.observe((ns, "b"), formation(ns, "b", "True", web=(2, 2)))
    assert value("dynoform_formations", namespace=ns, ready="False", reason="RollingOut") == 1
    assert value("dynoform_dynos_desired", namespace=ns) == 5
    assert value("dynoform_dynos_ready", namespace=ns) == 3

    tally.observe((ns, "a"), formation(ns, "a", "True", web=(3, 3)))  # a turns Ready
    assert value("dynoform_formations", namespace=ns, ready="False", reason="RollingOut") == 0
    assert value("dynoform_formations", namespace=ns, ready="True", reason="DynosAvailable") == 2
    assert value("dynoform_dynos_ready", namespace=ns) == 5

    tally.forget((ns, "a"))
    assert value("dynoform_dynos_desired", namespace=ns) == 2
    tally.forget((ns, "b"))
    assert value("dynoform_dynos_desired", namespace=ns) is None
    assert value("dynoform_formations", namespace=ns, ready="True", reason="DynosAvailable") is None


def test_the_same_status_seen_again_moves_nothing() -> None:
    tally, ns = FormationTally(), "again-ns"
    body = formation(ns, "a", "True", web=(1, 1))
    for _ in range(3):
        tally.observe((ns, "a"), body)
    assert value("dynoform_formations", namespace=ns, ready="True", reason="DynosAvailable") == 1
    assert value("dynoform_dynos_desired", namespace=ns) == 1


def test_forgetting_an_unknown_formation_changes_nothing() -> None:
    FormationTally().forget(("nowhere", "x"))
    assert value("dynoform_dynos_desired", namespace="nowhere") is None
