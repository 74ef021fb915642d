"""The operator against the real API server: formations in, Deployments out, drift corrected.

The operator runs as users run it (`python -m dynoform`, its own identity and RBAC); the tests
act as a user would, with kubectl and the API.
"""

from __future__ import annotations

import time
from typing import Any

from lightkube import Client
from lightkube.types import PatchType

from localcluster.operator import wait_for_catalog
from tests.factories import formation_body
from tests.kubehelp import (
    PDB,
    Deployment,
    Formation,
    Service,
    apply_yaml,
    condition,
    condition_with,
    events_for,
    eventually,
    get,
    names,
)

DRIFT_SECONDS = 2.0  # Children edited by hand are set back within this.


def create(installed, namespace: str, name: str = "shop", **spec: Any) -> dict[str, Any]:
    body = formation_body(name=name, namespace=namespace, **spec)
    apply_yaml(installed.kubectl, body)
    return body


def wait_ready(
    kube: Client, namespace: str, name: str = "shop", timeout: float = 60
) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        f = get(kube, Formation, name, namespace)
        c = condition(f, "Ready")
        gen = (f or {}).get("metadata", {}).get("generation")
        if f and c and c["status"] == "True" and f["status"].get("observedGeneration") == gen:
            return f
        return None

    return eventually(ready, timeout=timeout, what=f"Formation {name} Ready")


def deployment(kube: Client, namespace: str, name: str) -> dict[str, Any]:
    return eventually(lambda: get(kube, Deployment, name, namespace), what=f"Deployment {name}")


def patch_spec(kube: Client, namespace: str, processes: dict[str, Any], name: str = "shop") -> None:
    kube.patch(
        Formation,
        name,
        {"spec": {"processes": processes}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )


def test_a_formation_becomes_one_deployment_per_process_type_and_turns_ready(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    f = wait_ready(kube, namespace)
    assert names(kube, Deployment, namespace) == {"shop-web", "shop-worker", "shop-clock"}
    assert names(kube, Service, namespace) == {"shop-web"}
    assert names(kube, PDB, namespace) == {"shop-web"}
    web = deployment(kube, namespace, "shop-web")
    assert web["spec"]["replicas"] == 2
    assert web["status"]["availableReplicas"] == 2
    assert f["status"]["formation"] == "clock=1:standard-1x web=2:standard-1x worker=1:standard-1x"
    assert f["status"]["processes"]["web"] == {
        "size": "standard-1x",
        "desired": 2,
        "ready": 2,
        "updated": 2,
        "available": 2,
    }
    reconciled = condition(f, "Reconciled")
    assert reconciled is not None
    assert reconciled["status"] == "True"


def test_kubectl_wait_for_ready_works(operator, installed, kube: Client, namespace: str) -> None:
    create(installed, namespace)
    result = installed.kubectl(
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        namespace,
        "formation/shop",
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "condition met" in result.stdout


def test_a_scale_changes_replicas_and_records_herokus_scale_event(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    patch_spec(kube, namespace, {"web": {"quantity": 4}, "worker": {"quantity": 0}})
    eventually(
        lambda: deployment(kube, namespace, "shop-web")["spec"]["replicas"] == 4, what="web at 4"
    )
    eventually(
        lambda: deployment(kube, namespace, "shop-worker")["spec"]["replicas"] == 0,
        what="worker at 0",
    )
    wait_ready(kube, namespace)

    def scale_events() -> set[str]:
        return {
            e["message"] for e in events_for(kube, namespace, "shop") if e["reason"] == "Scaled"
        }

    # The tests act as the local control plane's admin user.
    expected = {
        "Scale to clock=1, web=2, worker=1 by admin",
        "Scale to clock=1, web=4, worker=0 by admin",
    }
    eventually(lambda: scale_events() == expected, what=f"Scaled events {expected}")


def test_a_new_image_rolls_every_type_and_keeps_quantities_and_sizes(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(
        installed,
        namespace,
        processes={
            "web": {"command": "a", "quantity": 3, "size": "standard-2x"},
            "worker": {"command": "b", "quantity": 2},
        },
    )
    wait_ready(kube, namespace)
    kube.patch(
        Formation,
        "shop",
        {"spec": {"image": "registry.example/shop:v2"}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    wait_ready(kube, namespace)
    for name, replicas, memory in (("shop-web", 3, "1Gi"), ("shop-worker", 2, "512Mi")):
        d = deployment(kube, namespace, name)
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert (c["image"], d["spec"]["replicas"], c["resources"]["limits"]["memory"]) == (
            "registry.example/shop:v2",
            replicas,
            memory,
        )


def test_a_removed_process_type_is_pruned(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    kube.patch(
        Formation,
        "shop",
        [{"op": "remove", "path": "/spec/processes/web"}],
        namespace=namespace,
        patch_type=PatchType.JSON,
    )
    eventually(
        lambda: names(kube, Deployment, namespace) == {"shop-worker", "shop-clock"},
        what="web's Deployment pruned",
    )
    eventually(
        lambda: not names(kube, Service, namespace) and not names(kube, PDB, namespace),
        what="web's Service and PDB pruned",
    )


def test_a_deployment_scaled_by_hand_is_set_back_within_two_seconds(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    installed.kubectl("scale", "-n", namespace, "deployment/shop-clock", "--replicas=3")
    start = time.monotonic()
    eventually(
        lambda: deployment(kube, namespace, "shop-clock")["spec"]["replicas"] == 1,
        timeout=DRIFT_SECONDS,
        interval=0.05,
        what="the singleton back at 1",
    )
    assert time.monotonic() - start < DRIFT_SECONDS


def test_a_deployment_edited_or_deleted_by_hand_is_restored(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    installed.kubectl("set", "image", "-n", namespace, "deployment/shop-worker", "worker=evil:1")
    eventually(
        lambda: (
            deployment(kube, namespace, "shop-worker")["spec"]["template"]["spec"]["containers"][0][
                "image"
            ]
            == "registry.example/shop:v1"
        ),
        timeout=DRIFT_SECONDS,
        interval=0.05,
        what="the image set back",
    )
    uid = deployment(kube, namespace, "shop-web")["metadata"]["uid"]
    installed.kubectl("delete", "-n", namespace, "deployment/shop-web", "--wait=false")
    eventually(
        lambda: (d := get(kube, Deployment, "shop-web", namespace)) and d["metadata"]["uid"] != uid,
        timeout=DRIFT_SECONDS + 3,
        interval=0.05,
        what="web's Deployment re-created",
    )


def test_an_unknown_size_is_reported_and_leaves_the_running_dynos_untouched(
    operator, installed, kube: Client, namespace: str
) -> None:
    # Admission refuses an unknown size at apply time; a size removed while a Formation uses
    # it is how a Formation comes to name one.
    name = f"{namespace}-gone"
    apply_yaml(installed.kubectl, {
        "apiVersion": "dyno.dev/v1alpha1", "kind": "DynoSize", "metadata": {"name": name},
        "spec": {"tier": "standard", "requests": {"cpu": "100m", "memory": "128Mi"},
                 "limits": {"cpu": "1", "memory": "128Mi"}},
    })  # fmt: skip
    wait_for_catalog(installed.kubectl)
    create(installed, namespace, processes={"web": {"command": "a", "size": name, "quantity": 2}})
    wait_ready(kube, namespace)
    before = deployment(kube, namespace, "shop-web")
    installed.kubectl("delete", "dynosize", name)
    c = eventually(
        lambda: condition_with(kube, namespace, "Reconciled", "UnknownSize"),
        what="Reconciled=False UnknownSize",
    )
    assert c["status"] == "False"
    assert c["message"].startswith(
        f"No such size as {name} (process type web). Available dyno sizes are eco, basic"
    )
    ready = condition(get(kube, Formation, "shop", namespace), "Ready")
    assert ready is not None
    assert ready["status"] == "False"
    operator.wait_for_resyncs(1)  # reconciled once more: still nothing applied
    after = deployment(kube, namespace, "shop-web")
    assert after["spec"] == before["spec"]
    warnings = [e for e in events_for(kube, namespace, "shop") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["UnknownSize"]


def test_an_admins_dyno_size_is_used_and_editing_it_rolls_out(
    operator, installed, kube: Client, namespace: str
) -> None:
    size = {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "DynoSize",
        "metadata": {"name": f"{namespace}-large"},
        "spec": {
            "tier": "custom",
            "requests": {"cpu": "1", "memory": "2Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
            "maxQuantity": 4,
        },
    }
    apply_yaml(installed.kubectl, size)
    wait_for_catalog(installed.kubectl)  # known to the admission policy
    try:
        create(
            installed,
            namespace,
            processes={"worker": {"command": "w", "quantity": 2, "size": f"{namespace}-large"}},
        )
        wait_ready(kube, namespace)
        res = deployment(kube, namespace, "shop-worker")["spec"]["template"]["spec"]["containers"][
            0
        ]["resources"]
        assert res["limits"] == {"cpu": "2", "memory": "2Gi"}
        size["spec"]["limits"]["memory"] = "3Gi"
        size["spec"]["requests"]["memory"] = "3Gi"
        apply_yaml(installed.kubectl, size)
        eventually(
            lambda: (
                deployment(kube, namespace, "shop-worker")["spec"]["template"]["spec"][
                    "containers"
                ][0]["resources"]["limits"]["memory"]
                == "3Gi"
            ),
            what="the edited size rolled out",
        )
    finally:
        installed.kubectl("delete", "dynosize", size["metadata"]["name"], "--wait=false")


def test_an_object_we_do_not_own_is_never_taken_over(
    operator, installed, kube: Client, namespace: str
) -> None:
    squatter = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop-web", "namespace": namespace},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "other"}},
            "template": {
                "metadata": {"labels": {"app": "other"}},
                "spec": {"containers": [{"name": "c", "image": "other:1"}]},
            },
        },
    }
    apply_yaml(installed.kubectl, squatter)
    create(installed, namespace)
    c = eventually(
        lambda: condition_with(kube, namespace, "Reconciled", "NameConflict"),
        what="Reconciled=False NameConflict",
    )
    assert "Deployment shop-web already exists and is not owned by this Formation" in c["message"]
    d = deployment(kube, namespace, "shop-web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "other:1"
    assert not d["metadata"].get("ownerReferences")


def test_deleting_a_formation_removes_its_children(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    installed.kubectl("delete", "-n", namespace, "formation/shop", "--timeout=30s")
    eventually(
        lambda: not names(kube, Deployment, namespace) and not names(kube, Service, namespace),
        timeout=30,
        what="children garbage collected",
    )


def test_the_operator_logged_no_error(operator) -> None:
    assert operator.errors() == [], operator.log_tail()


def test_without_the_admission_policy_a_bad_process_type_name_is_refused_by_the_operator(
    operator, installed, kube: Client, namespace: str
) -> None:
    binding = "validatingadmissionpolicybinding/formations.dyno.dev"
    saved = installed.kubectl("get", binding, "-o", "yaml").stdout
    installed.kubectl("delete", binding)
    try:
        body = formation_body(
            name="shop",
            namespace=namespace,
            processes={"web": {"command": "a"}, "Bad_Type": {"command": "b"}},
        )
        # The admission plugin learns of the removed binding through its own watch; the
        # operator's webhook would refuse the name too, so it is down meanwhile.
        with operator.down():
            eventually(
                lambda: apply_yaml(installed.kubectl, body, check=False).returncode == 0,
                what="the Formation accepted once the policy binding is gone",
            )
        c = eventually(
            lambda: condition_with(kube, namespace, "Reconciled", "InvalidSpec"),
            what="Reconciled=False InvalidSpec",
        )
        assert "Bad_Type" in c["message"]
        assert names(kube, Deployment, namespace) == set()  # nothing half-applied
    finally:
        installed.kubectl("apply", "-f", "-", input=saved)
