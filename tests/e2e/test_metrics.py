"""The operator's /metrics as Prometheus would scrape it, while a Formation is created, scaled,
refused at admission, broken by a failing release and deleted: each figure moves as the
cluster does. The Formation gauges are labelled by namespace, so this test's own namespace
isolates its figures from every other test's; counters are compared before and after.

The operator here is one of its own (the session's is stopped meanwhile), run as the chart runs
it: leader election on a Lease, the metrics port, and the admission webhook on 127.0.0.1, whose
refusals are the ones the operator sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.types import PatchType

from localcluster.operator import OPERATOR_USER, Operator
from localcluster.processes import free_ports
from localcluster.scrape import Scrape, scrape
from tests.kubehelp import Formation, eventually

TIMEOUT = 90.0


@pytest.fixture
def metered(operator: Operator, installed, tmp_path: Path) -> Iterator[Operator]:
    """An operator of the test's own, serving its metrics on 127.0.0.1, the session's stopped."""
    local = installed.local
    kubeconfig = str(local.kubeconfig_for(OPERATOR_USER)) if local else installed.kubeconfig
    own = Operator(kubeconfig, tmp_path / "operator.log")
    port = next(p for p in free_ports(2) if p != own.port)  # not its liveness port
    lease = (
        "--leader-elect",
        "--lease-namespace",
        "default",
        "--lease-name",
        f"m-{uuid.uuid4().hex[:8]}",
    )
    metrics = ("--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    own.extra_args = ("--webhook-port", "0", *lease, *metrics)
    own.metrics_url = f"http://127.0.0.1:{port}/metrics"
    with operator.down():
        own.start()
        try:
            yield own
        finally:
            own.stop()
            # kopf registered the local webhook's configurations: the session's admission is
            # the API server's own again.
            for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
                installed.kubectl("delete", kind, "dyno.dev", "--ignore-not-found")


def manifest(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "Formation",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": {
            "image": "registry.example/shop:v1",
            "release": {"command": "bundle exec rake db:migrate"},
            "processes": {
                "web": {"command": "puma", "quantity": 2},
                "worker": {"command": "sidekiq", "quantity": 1},
            },
        },
    }


def patch(kube: Client, namespace: str, spec: dict[str, Any]) -> None:
    kube.patch(Formation, "shop", {"spec": spec}, namespace=namespace, patch_type=PatchType.MERGE)


def wait_for(operator: Operator, what: str, probe: Any) -> Scrape:
    """Scrape until `probe(scrape)` holds; the scrape it held on."""
    assert operator.metrics_url is not None

    def once() -> Scrape | None:
        taken = scrape(operator.metrics_url)
        return taken if probe(taken) else None

    return eventually(once, timeout=TIMEOUT, interval=0.25, what=what)


def formations(s: Scrape, namespace: str, ready: str, reason: str) -> float | None:
    return s.value("dynoform_formations", namespace=namespace, ready=ready, reason=reason)


def dynos(s: Scrape, namespace: str) -> tuple[float | None, float | None]:
    return (
        s.value("dynoform_dynos_desired", namespace=namespace),
        s.value("dynoform_dynos_ready", namespace=namespace),
    )


def test_the_metrics_follow_a_formation_created_scaled_refused_broken_and_deleted(
    metered: Operator, kube: Client, namespace: str
) -> None:
    operator = metered
    before = wait_for(operator, "the Lease held", lambda s: s.value("dynoform_leader") == 1)
    assert before.total("dynoform_build_info") == 1
    assert before.total("dynoform_api_requests_total", resource="leases") >= 2  # read, then taken
    assert before.total("dynoform_api_requests_total", verb="watch") > 0  # its informers
    assert dynos(before, namespace) == (None, None)

    kube.create(Formation.from_dict(manifest(namespace)))
    created = wait_for(
        operator,
        "the Formation Ready with its 3 dynos",
        lambda s: (
            dynos(s, namespace) == (3, 3)
            and formations(s, namespace, "True", "DynosAvailable") == 1
        ),
    )
    succeeded = created.total("dynoform_releases_total", result="succeeded")
    assert succeeded >= before.total("dynoform_releases_total", result="succeeded") + 1
    reconciles = created.total("dynoform_reconcile_duration_seconds_count", result="success")
    assert reconciles > before.total("dynoform_reconcile_duration_seconds_count", result="success")
    applies = created.total("dynoform_api_requests_total", verb="patch", resource="deployments")
    assert (
        applies
        >= before.total("dynoform_api_requests_total", verb="patch", resource="deployments") + 2
    )
    waited = created.total("dynoform_workqueue_wait_seconds_count")
    assert waited > before.total("dynoform_workqueue_wait_seconds_count")
    assert created.value("dynoform_workqueue_depth") is not None

    patch(kube, namespace, {"processes": {"web": {"command": "puma", "quantity": 5}}})
    wait_for(operator, "6 dynos desired and ready", lambda s: dynos(s, namespace) == (6, 6))

    refusals = created.total("dynoform_admission_refusals_total", reason="UnknownSize")
    with pytest.raises(ApiError) as refused:
        patch(kube, namespace, {"processes": {"web": {"command": "puma", "size": "huge-9x"}}})
    assert "No such size as huge-9x" in str(refused.value)
    wait_for(
        operator,
        "the admission webhook's refusal counted",
        lambda s: (
            s.total("dynoform_admission_refusals_total", reason="UnknownSize") == refusals + 1
        ),
    )

    failed = created.total("dynoform_releases_total", result="failed")
    patch(kube, namespace, {"image": "registry.example/shop:v2", "release": {"command": "exit 1"}})
    broken = wait_for(
        operator,
        "the Formation not Ready for its failed release",
        lambda s: (
            formations(s, namespace, "False", "ReleaseFailed") == 1
            and formations(s, namespace, "True", "DynosAvailable") == 0
        ),
    )
    assert broken.total("dynoform_releases_total", result="failed") == failed + 1
    assert dynos(broken, namespace) == (6, 6)  # the dynos run on, on v1

    kube.delete(Formation, "shop", namespace=namespace)
    gone = wait_for(
        operator, "the namespace's series gone", lambda s: dynos(s, namespace) == (None, None)
    )
    assert not [v for v in gone.label_values("dynoform_formations", "namespace") if v == namespace]
