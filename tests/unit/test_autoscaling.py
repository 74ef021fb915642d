"""Autoscaling, pure parts: the API's rules, the HPA and ScaledObject built, the Deployment that
leaves its replicas to them, the size rules, what status and the condition say."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dynoform.api.conditions import find
from dynoform.api.sizes import Catalog, SizeError, check
from dynoform.api.v1alpha1 import Formation, describe
from dynoform.core.builders.formation import build_children
from dynoform.core.compare import owns_replicas
from dynoform.core.scaling import autoscaler_status, verdict
from dynoform.core.status import Observed, Outcome, Phases, build_status, summary
from dynoform.runtime.wire import trim
from tests.factories import make_formation

APPLIED = (True, "Applied", "ok")
WEB_P95 = {
    "command": "puma",
    "quantity": 3,
    "autoscaling": {"min": 2, "max": 10, "responseTime": {"p95": 500}},
}
QUEUE = {"scaler": "redis", "length": 20, "metadata": {"listName": "jobs", "address": "r:6379"}}
WORKER_QUEUE = {"command": "sidekiq", "autoscaling": {"min": 0, "max": 5, "queue": QUEUE}}


def kids(formation: Formation, keda: bool = False) -> dict[tuple[str, str], dict[str, Any]]:
    built = build_children(formation, check(formation.spec, Catalog()), keda=keda)
    return {(c["kind"], c["metadata"]["name"]): c for c in built}


def invalid(**processes: Any) -> str:
    with pytest.raises(ValidationError) as exc:
        make_formation(processes=processes)
    return describe(exc.value)


# -- the API's rules (the CRD's CEL says the same; tests/integration/test_autoscaling.py) -------


def auto(ptype: str, low: int = 1, high: int = 2, proc: Any = None, **targets: Any) -> Any:
    scaling = {"min": low, "max": high, **targets}
    return {ptype: {"command": "c", **(proc or {}), "autoscaling": scaling}}


@pytest.mark.parametrize(
    ("processes", "message"),
    [
        (auto("clock", cpu=50), "clock: a singleton process type cannot be autoscaled"),
        (
            auto("cron", proc={"singleton": True}, cpu=5),
            "cron: a singleton process type cannot be autoscaled",
        ),
        (auto("web", 3, 2, cpu=50), "autoscaling.min must not exceed autoscaling.max"),
        (auto("web"), "autoscaling needs a target: cpu, responseTime or queue"),
        (auto("web", 0, cpu=50), "autoscaling.min 0 (scale to zero) needs a queue target (KEDA)"),
        (
            auto("worker", responseTime={"p95": 1}),
            "worker: a responseTime target needs a type that listens (web, or set port)",
        ),
        (
            auto("worker", queue={"scaler": "nats", "length": 3}),
            "set queue.lengthKey: the metadata key of the nats scaler",
        ),
        (
            {"release": {"command": "rake db:migrate"}},
            "release is Heroku's release phase, not a process type",
        ),
    ],
)
def test_autoscaling_that_cannot_work_is_refused_with_a_reason(
    processes: dict[str, Any], message: str
) -> None:
    assert message in invalid(**processes)


def test_quantity_is_the_starting_point_within_the_bounds() -> None:
    spec = make_formation(
        processes={
            "web": {"command": "a", "quantity": 1, "autoscaling": {"min": 2, "max": 4, "cpu": 60}},
            "api": {"command": "a", "quantity": 9, "autoscaling": {"min": 2, "max": 4, "cpu": 60}},
            "worker": {"command": "a", "quantity": 3},
        }
    ).spec
    assert (spec.start_of("web"), spec.start_of("api"), spec.start_of("worker")) == (2, 4, 3)
    assert (spec.floor_of("web"), spec.most_of("web")) == (2, 4)


# -- builders ------------------------------------------------------------------------------------


def test_an_autoscaled_deployment_leaves_its_replicas_to_the_autoscaler() -> None:
    built = kids(make_formation(processes={"web": WEB_P95, "worker": {"command": "w"}}))
    assert "replicas" not in built[("Deployment", "shop-web")]["spec"]
    assert built[("Deployment", "shop-worker")]["spec"]["replicas"] == 0


def test_a_p95_target_becomes_an_hpa_on_a_pods_metric_in_seconds() -> None:
    hpa = kids(make_formation(processes={"web": WEB_P95}))[("HorizontalPodAutoscaler", "shop-web")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "Formation"
    assert hpa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "dynoform"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop-web"},
        "minReplicas": 2,
        "maxReplicas": 10,
        "metrics": [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "http_request_duration_seconds_p95"},
                    "target": {"type": "AverageValue", "averageValue": "500m"},
                },
            }
        ],
    }


def test_cpu_and_an_external_p95_metric_with_its_selector() -> None:
    timing = {"p95": 250, "metric": "p95_s", "source": "External", "selector": {"app": "shop"}}
    f = make_formation(processes=auto("web", 1, 3, cpu=70, responseTime=timing))
    metrics = kids(f)[("HorizontalPodAutoscaler", "shop-web")]["spec"]["metrics"]
    assert metrics == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        },
        {
            "type": "External",
            "external": {
                "metric": {"name": "p95_s", "selector": {"matchLabels": {"app": "shop"}}},
                "target": {"type": "Value", "value": "250m"},
            },
        },
    ]


def test_a_queue_target_is_a_keda_scaled_object_when_keda_is_there() -> None:
    f = make_formation(processes={"worker": {**WORKER_QUEUE, "quantity": 2}})
    built = kids(f, keda=True)
    assert "replicas" not in built[("Deployment", "shop-worker")]["spec"]
    assert ("HorizontalPodAutoscaler", "shop-worker") not in built  # KEDA makes its own
    assert built[("ScaledObject", "shop-worker")]["spec"] == {
        "scaleTargetRef": {"name": "shop-worker"},
        "minReplicaCount": 0,
        "maxReplicaCount": 5,
        "triggers": [
            {
                "type": "redis",
                "metadata": {"listName": "jobs", "address": "r:6379", "listLength": "20"},
            }
        ],
    }


def test_without_keda_a_queue_target_runs_the_quantity() -> None:
    built = kids(make_formation(processes={"worker": {**WORKER_QUEUE, "quantity": 2}}))
    assert built[("Deployment", "shop-worker")]["spec"]["replicas"] == 2
    assert not {"ScaledObject", "HorizontalPodAutoscaler"} & {kind for kind, _ in built}


def test_rabbitmq_gets_its_queue_length_mode_and_an_own_key_wins() -> None:
    queue = {"scaler": "rabbitmq", "length": 5, "authenticationRef": "rabbit"}
    other = {"scaler": "nats-jetstream", "length": 7, "lengthKey": "lagThreshold"}
    f = make_formation(
        processes={
            "a": {"command": "a", "autoscaling": {"min": 1, "max": 2, "queue": queue}},
            "b": {"command": "b", "autoscaling": {"min": 1, "max": 2, "queue": other, "cpu": 80}},
        }
    )
    built = kids(f, keda=True)
    (rabbit,) = built[("ScaledObject", "shop-a")]["spec"]["triggers"]
    assert rabbit == {
        "type": "rabbitmq",
        "metadata": {"mode": "QueueLength", "value": "5"},
        "authenticationRef": {"name": "rabbit"},
    }
    nats, cpu = built[("ScaledObject", "shop-b")]["spec"]["triggers"]
    assert nats["metadata"] == {"lagThreshold": "7"}
    assert cpu == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}}


def test_an_autoscaled_type_that_may_run_two_dynos_gets_a_disruption_budget() -> None:
    web = {"command": "a", "quantity": 1, "autoscaling": {"min": 1, "max": 3, "cpu": 50}}
    assert ("PodDisruptionBudget", "shop-web") in kids(make_formation(processes={"web": web}))


# -- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "bounds", "message"),
    [
        ("eco", (1, 2), "Cannot autoscale Eco dynos (web): they do not scale horizontally."),
        (
            "performance-l",
            (2, 11),
            "Cannot autoscale web to more than 10 Performance-L dynos (autoscaling.max 11).",
        ),
    ],
)
def test_sizes_that_cannot_scale_out_cannot_be_autoscaled(
    size: str, bounds: tuple[int, int], message: str
) -> None:
    scaling = {"min": bounds[0], "max": bounds[1], "cpu": 50}
    f = make_formation(processes={"web": {"command": "a", "size": size, "autoscaling": scaling}})
    with pytest.raises(SizeError) as exc:
        check(f.spec, Catalog())
    assert str(exc.value).startswith(message)
    assert exc.value.reason == "SizeLimitExceeded"


# -- status -------------------------------------------------------------------------------------


def deployment(spec_replicas: int, ready: int) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"generation": 2},
        "spec": {"replicas": spec_replicas},
        "status": {
            "observedGeneration": 2,
            "replicas": ready,
            "readyReplicas": ready,
            "updatedReplicas": ready,
            "availableReplicas": ready,
        },
    }


HPA_OK = {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "shop-web"}, "status": {}}


def test_status_shows_the_autoscalers_count_and_bounds_and_ready_waits_for_that_count() -> None:
    f = make_formation(processes={"web": WEB_P95})
    auto = autoscaler_status(f, "web", HPA_OK, deployment(5, 5))
    assert auto is not None
    assert auto.wire() == {"kind": "HorizontalPodAutoscaler", "min": 2, "max": 10, "current": 5}
    phases = Phases(autoscalers={"web": auto}, autoscaling=verdict(f, {"web": HPA_OK}, False))
    st = build_status(f, Observed({"web": deployment(5, 5)}), Outcome(APPLIED, "t1", phases=phases))
    assert st.processes is not None
    assert (st.processes["web"].desired, st.processes["web"].available) == (5, 5)
    ready = find(st.conditions, "Ready")
    assert ready is not None
    assert (ready.status, ready.message) == ("True", "All 5 dynos are available.")
    scaling = find(st.conditions, "Autoscaling")
    assert scaling is not None
    assert (scaling.status, scaling.reason) == ("True", "AutoscalersActive")
    assert scaling.message == "Autoscaling web 2..10 on p95 500 ms."
    assert st.formation == "web=2..10:standard-1x"  # the spec's bounds, not the moving count


def test_the_condition_names_a_missing_keda_and_an_hpa_that_cannot_read_its_metrics() -> None:
    f = make_formation(processes={"web": WEB_P95, "worker": {**WORKER_QUEUE, "quantity": 2}})
    stuck = {
        **HPA_OK,
        "status": {
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
                {
                    "type": "ScalingActive",
                    "status": "False",
                    "reason": "FailedGetPodsMetric",
                    "message": "unable to get metric http_request_duration_seconds_p95",
                },
            ]
        },
    }
    ok, reason, message = verdict(f, {"web": stuck}, keda=False) or (True, "", "")
    assert (ok, reason) == (False, "AutoscalerInactive")
    assert message == (
        "web: HorizontalPodAutoscaler shop-web cannot scale (FailedGetPodsMetric: unable to get "
        "metric http_request_duration_seconds_p95); worker: a queue target needs KEDA, and this "
        "cluster has no ScaledObject (scaledobjects.keda.sh); worker runs its quantity, 2"
    )
    only_worker = verdict(f, {"web": HPA_OK}, keda=False)
    assert only_worker is not None
    assert only_worker[:2] == (False, "KedaNotInstalled")


def test_no_autoscaled_type_no_condition() -> None:
    f = make_formation(processes={"web": WEB_P95})
    first = build_status(
        f, Observed(), Outcome(APPLIED, "t1", phases=Phases(autoscaling=verdict(f, {}, False)))
    )
    assert find(first.conditions, "Autoscaling") is not None
    plain = make_formation(processes={"web": {"command": "a"}}).model_copy(update={"status": first})
    assert (
        find(build_status(plain, Observed(), Outcome(APPLIED, "t2")).conditions, "Autoscaling")
        is None
    )


def test_spread_and_advice_judge_an_autoscaled_type_on_its_live_count_and_its_floor() -> None:
    f = make_formation(
        processes={"web": {**WEB_P95, "autoscaling": {"min": 1, "max": 4, "cpu": 5}}}
    )
    auto = autoscaler_status(f, "web", HPA_OK, deployment(3, 3))
    assert auto is not None
    where = Observed(
        {"web": deployment(3, 3)}, zones={"web": ["zone-a", "zone-b", "zone-c"]}, cluster_zones=3
    )
    st = build_status(f, where, Outcome(APPLIED, "t", phases=Phases(autoscalers={"web": auto})))
    spread, advice = find(st.conditions, "ZoneRedundant"), find(st.conditions, "RedundancyAdvised")
    assert spread is not None
    assert spread.status == "True"  # 3 Running dynos judged against the 3 wanted, not quantity
    assert advice is not None
    assert advice.status == "False"  # it may go down to 1 web dyno


def test_summary_and_scale_event_show_the_bounds_of_an_autoscaled_type() -> None:
    f = make_formation(processes={"web": WEB_P95, "worker": {"command": "w", "quantity": 2}})
    assert summary(f) == "web=2..10:standard-1x worker=2:standard-1x"


# -- the hand-over needs to know who holds spec.replicas ----------------------------------------


def test_trim_keeps_only_who_manages_replicas_and_owns_replicas_reads_it() -> None:
    managed = [
        {
            "manager": "dynoform",
            "operation": "Apply",
            "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}},
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "subresource": "status",
            "fieldsV1": {"f:status": {}},
        },
    ]
    obj = trim({"metadata": {"name": "shop-web", "managedFields": managed}, "spec": {}})
    assert obj["metadata"]["managedFields"] == [
        {"manager": "dynoform", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    ]
    assert owns_replicas(obj, "dynoform")
    assert not owns_replicas(obj, "dynoform-handover")
    assert "managedFields" not in trim({"metadata": {"managedFields": managed[1:]}})["metadata"]
