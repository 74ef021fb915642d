"""Autoscaling against the real API server: the HPA, who holds the Deployment's replicas, and
KEDA's absence and arrival.

The local control plane runs the real HPA controller (kube-controller-manager) but no metrics
server, so an HPA never sees a metric: it reports ScalingActive=False, which the Formation's
Autoscaling condition relays, and it still moves the replicas into its bounds. A change "by the
HPA" is also made here with the HPA controller's field manager, as the controller's own writes
would show in managedFields.
"""

from __future__ import annotations

from typing import Any

from lightkube import Client
from lightkube.types import PatchType

from dynoform.runtime.resources import RESOURCES
from localcluster.audit import AuditLog
from localcluster.operator import OPERATOR_USER
from tests.integration.test_operator import create, deployment, patch_spec, wait_ready
from tests.integration.test_writes import settled
from tests.kubehelp import (
    Deployment,
    Formation,
    Pod,
    apply_yaml,
    condition,
    eventually,
    get,
    names,
)

HPA = RESOURCES["HorizontalPodAutoscaler"]
HPA_MANAGER = "horizontal-pod-autoscaler"
KEDA_CRD = "scaledobjects.keda.sh"


def web(quantity: int, **scaling: Any) -> dict[str, Any]:
    proc: dict[str, Any] = {"command": "puma", "quantity": quantity}
    if scaling:
        proc["autoscaling"] = scaling
    return {"web": proc}


def replicas_managers(obj: dict[str, Any]) -> set[str]:
    return {
        f["manager"]
        for f in obj["metadata"].get("managedFields") or []
        if "f:replicas" in ((f.get("fieldsV1") or {}).get("f:spec") or {})
    }


def handed_over(kube: Client, namespace: str, name: str) -> dict[str, Any] | None:
    """The Deployment once the operator no longer holds its replicas."""
    dep = get(kube, Deployment, name, namespace)
    return dep if dep and "dynoform" not in replicas_managers(dep) else None


def at(kube: Client, namespace: str, name: str, replicas: int) -> dict[str, Any] | None:
    dep = get(kube, Deployment, name, namespace)
    return dep if dep and dep["spec"]["replicas"] == replicas else None


def test_the_premise_dropping_replicas_as_their_only_manager_resets_them_to_1(
    installed, kube: Client, namespace: str
) -> None:
    # Why the operator hands replicas over instead of just leaving them out (Kubernetes docs,
    # Server-Side Apply, "Transferring ownership"): shown on a plain Deployment.
    labels = {"app": "premise"}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "premise", "namespace": namespace},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:v1"}]},
            },
        },
    }
    kube.apply(Deployment.from_dict(body), field_manager="premise", force=True)
    del body["spec"]["replicas"]
    kube.apply(Deployment.from_dict(body), field_manager="premise", force=True)
    assert deployment(kube, namespace, "premise")["spec"]["replicas"] == 1


def test_an_autoscaled_type_gets_an_hpa_and_starts_at_its_quantity(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=web(3, min=2, max=10, cpu=60))
    hpa = eventually(lambda: get(kube, HPA, "shop-web", namespace), what="the HPA")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "shop-web",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "Formation"
    f = wait_ready(kube, namespace)
    dep = deployment(kube, namespace, "shop-web")
    assert dep["spec"]["replicas"] == 3
    assert replicas_managers(dep) == {"dynoform-handover"}  # not ours: the autoscaler's to take
    assert f["status"]["formation"] == "web=2..10:standard-1x"
    assert f["status"]["processes"]["web"]["autoscaler"] == {
        "kind": "HorizontalPodAutoscaler",
        "min": 2,
        "max": 10,
        "current": 3,
    }

    def relayed() -> dict[str, Any] | None:
        c = condition(get(kube, Formation, "shop", namespace), "Autoscaling")
        return c if c and c["status"] == "False" else None

    # No metrics server here: the HPA controller says so within its 15 s sync, and so do we.
    said = eventually(relayed, timeout=45, interval=0.5, what="Autoscaling=False from the HPA")
    assert said["reason"] == "AutoscalerInactive"
    assert said["message"].startswith("web: HorizontalPodAutoscaler shop-web cannot scale (")


def test_a_replica_change_by_the_hpas_field_manager_is_left_alone(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=web(3, min=2, max=10, cpu=60))
    wait_ready(kube, namespace)
    kube.patch(
        Deployment,
        "shop-web",
        {"spec": {"replicas": 5}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
        field_manager=HPA_MANAGER,
    )
    generation = deployment(kube, namespace, "shop-web")["metadata"]["generation"]
    operator.wait_for_resyncs(3)  # time to have fought back, had it wanted to
    dep = deployment(kube, namespace, "shop-web")
    assert dep["spec"]["replicas"] == 5
    assert dep["metadata"]["generation"] == generation  # nobody wrote its spec since
    assert replicas_managers(dep) == {HPA_MANAGER}
    f = wait_ready(kube, namespace)
    assert f["status"]["processes"]["web"]["desired"] == 5
    assert f["status"]["processes"]["web"]["autoscaler"]["current"] == 5
    assert f["spec"]["processes"]["web"]["quantity"] == 3  # the spec is not rewritten either


def test_the_hpa_controller_moves_the_dynos_into_new_bounds_and_the_operator_lets_it(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=web(2, min=2, max=10, cpu=60))
    wait_ready(kube, namespace)
    patch_spec(kube, namespace, {"web": {"autoscaling": {"min": 4}}})
    # Without metrics the HPA controller still brings the count into its bounds (its own write).
    dep = eventually(lambda: at(kube, namespace, "shop-web", 4), timeout=45, interval=0.5,
                     what="the HPA controller raising web to its new min")  # fmt: skip
    # The controller's write took the replicas from our hand-over manager (its own manager name
    # comes from its user agent); ours hold them no more.
    assert replicas_managers(dep)
    assert not replicas_managers(dep) & {"dynoform", "dynoform-handover"}
    operator.wait_for_resyncs(3)  # time to have fought back, had it wanted to
    assert deployment(kube, namespace, "shop-web")["spec"]["replicas"] == 4


def test_switching_autoscaling_on_keeps_the_count_and_off_returns_to_quantity(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=web(4))
    wait_ready(kube, namespace)
    dynos = names(kube, Pod, namespace)
    assert len(dynos) == 4
    patch_spec(kube, namespace, {"web": {"autoscaling": {"min": 2, "max": 10, "cpu": 60}}})
    eventually(lambda: get(kube, HPA, "shop-web", namespace), what="the HPA")
    dep = eventually(lambda: handed_over(kube, namespace, "shop-web"), what="replicas handed over")
    assert dep["spec"]["replicas"] == 4
    operator.wait_for_resyncs(3)  # time to have fought back, had it wanted to
    # Handed over at the running count: had replicas fallen to 1 even for a moment, the
    # ReplicaSet would have stopped three of these dynos.
    assert names(kube, Pod, namespace) == dynos

    kube.patch(Deployment, "shop-web", {"spec": {"replicas": 7}}, namespace=namespace,
               patch_type=PatchType.MERGE, field_manager=HPA_MANAGER)  # fmt: skip
    wait_ready(kube, namespace)
    patch_spec(kube, namespace, {"web": {"autoscaling": None}})
    dep = eventually(lambda: at(kube, namespace, "shop-web", 4), what="web back at its quantity")
    eventually(lambda: get(kube, HPA, "shop-web", namespace) is None, what="the HPA pruned")
    assert replicas_managers(dep) >= {"dynoform"}
    operator.wait_for_resyncs(3)  # time to have fought back, had it wanted to
    assert deployment(kube, namespace, "shop-web")["spec"]["replicas"] == 4
    f = wait_ready(kube, namespace)
    assert condition(f, "Autoscaling") is None
    assert "autoscaler" not in f["status"]["processes"]["web"]


WORKER = {
    "command": "sidekiq",
    "quantity": 2,
    "autoscaling": {"min": 1, "max": 5, "queue": {"scaler": "redis", "length": 10}},
}


def test_without_keda_a_queue_target_runs_the_quantity_and_says_why(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes={"worker": WORKER})
    f = wait_ready(kube, namespace)
    assert deployment(kube, namespace, "shop-worker")["spec"]["replicas"] == 2
    said = condition(f, "Autoscaling")
    assert said is not None
    assert (said["status"], said["reason"]) == ("False", "KedaNotInstalled")
    assert said["message"] == (
        "worker: a queue target needs KEDA, and this cluster has no ScaledObject "
        "(scaledobjects.keda.sh); worker runs its quantity, 2"
    )
    assert names(kube, HPA, namespace) == set()


def keda_crd() -> dict[str, Any]:
    """A stand-in for KEDA's CRD: the operator looks for the CRD, not for KEDA's controller."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": KEDA_CRD},
        "spec": {
            "group": "keda.sh",
            "scope": "Namespaced",
            "names": {"kind": "ScaledObject", "plural": "scaledobjects", "singular": "scaledobject",
                      "listKind": "ScaledObjectList"},
            "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                          "subresources": {"status": {}},
                          "schema": {"openAPIV3Schema": {
                              "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    }  # fmt: skip


def test_once_kedas_crd_is_installed_a_queue_target_gets_a_scaled_object(
    operator, installed, kube: Client, namespace: str
) -> None:
    scaled = RESOURCES["ScaledObject"]
    create(installed, namespace, processes={"worker": WORKER})
    wait_ready(kube, namespace)
    apply_yaml(installed.kubectl, keda_crd())
    try:
        installed.kubectl("wait", "--for=condition=Established", f"crd/{KEDA_CRD}")
        so = eventually(lambda: get(kube, scaled, "shop-worker", namespace), timeout=30,
                        what="the ScaledObject")  # fmt: skip
        assert so["spec"]["triggers"][0]["metadata"] == {"listLength": "10"}
        assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (1, 5)
        dep = eventually(
            lambda: handed_over(kube, namespace, "shop-worker"), what="replicas handed to KEDA"
        )
        assert dep["spec"]["replicas"] == 2

        def not_taken_up() -> dict[str, Any] | None:
            c = condition(get(kube, Formation, "shop", namespace), "Autoscaling")
            return c if c and c["reason"] == "AutoscalerInactive" else None

        said = eventually(not_taken_up, what="Autoscaling waiting for KEDA")
        assert "ScaledObject shop-worker cannot scale (not taken up by KEDA yet)" in said["message"]
    finally:
        installed.kubectl("delete", "crd", KEDA_CRD, "--wait=true")

    def back() -> dict[str, Any] | None:
        c = condition(get(kube, Formation, "shop", namespace), "Autoscaling")
        return c if c and c["reason"] == "KedaNotInstalled" else None

    eventually(back, timeout=30, what="KedaNotInstalled again once the CRD is gone")
    dep = eventually(lambda: at(kube, namespace, "shop-worker", 2), what="worker at its quantity")
    assert "dynoform" in replicas_managers(dep)


def test_the_cli_enables_shows_and_disables_autoscaling(
    operator, installed, kube: Client, namespace: str
) -> None:
    from tests.integration.test_cli import dyno

    create(installed, namespace, processes=web(2))
    wait_ready(kube, namespace)
    enable = ("ps:autoscale:enable", "web", "--min", "2", "--max", "6", "--p95", "500")
    result = dyno(namespace, *enable)
    assert (result.code, result.out) == (0, "")
    assert result.err == "Enabling dyno autoscaling... done, web autoscales 2..6 on p95 500 ms\n"
    hpa = eventually(lambda: get(kube, HPA, "shop-web", namespace), what="the HPA")
    assert hpa["spec"]["metrics"][0]["pods"]["target"] == {
        "type": "AverageValue",
        "averageValue": "500m",
    }
    eventually(
        lambda: "Autoscaling 2..6 on p95 500 ms: at 2 now" in dyno(namespace, "ps", "web").out,
        what="dyno ps showing the autoscaler",
    )
    scaled = dyno(namespace, "ps:scale", "web=3")
    assert scaled.code == 0
    assert "web is autoscaled (2..6): its quantity is only where it starts." in scaled.err
    off = dyno(namespace, "ps:autoscale:disable", "web")
    assert off.err == "Disabling dyno autoscaling... done, web runs its quantity again: 3\n"
    eventually(lambda: at(kube, namespace, "shop-web", 3), what="web at its quantity")
    eventually(lambda: get(kube, HPA, "shop-web", namespace) is None, what="the HPA pruned")
    again = dyno(namespace, "ps:autoscale:disable", "web")
    assert (again.code, again.err) == (
        1,
        "Disabling dyno autoscaling... !\n !    web does not have autoscaling enabled.\n",
    )


def test_switching_autoscaling_on_costs_the_hand_over_and_then_no_write(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    create(installed, namespace, processes=web(4))
    wait_ready(kube, namespace)
    settled(audit, operator, namespace)
    mark = audit.mark()
    patch_spec(kube, namespace, {"web": {"autoscaling": {"min": 2, "max": 10, "cpu": 60}}})
    eventually(lambda: handed_over(kube, namespace, "shop-web"), what="replicas handed over")

    def hpa_reported() -> bool:
        c = condition(get(kube, Formation, "shop", namespace), "Autoscaling")
        return bool(c and c["status"] == "False")

    eventually(hpa_reported, timeout=45, interval=0.5, what="the HPA's verdict relayed")
    settled(audit, operator, namespace)
    children = sorted(
        (w.verb, w.resource)
        for w in audit.writes_since(mark, OPERATOR_USER, namespace)
        if w.resource not in ("formations/status", "events")
    )
    # The HPA created, the replicas handed over, the Deployment applied without them.
    assert children == [
        ("patch", "deployments"),
        ("patch", "deployments"),
        ("patch", "horizontalpodautoscalers"),
    ]
    mark = audit.mark()
    operator.wait_for_resyncs(3)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]
