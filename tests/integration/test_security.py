"""Security, as the API server enforces it.

- Pod Security `restricted`: a namespace labelled to enforce it admits a Formation's dynos (and
  refuses them once the Formation opts out, so the label is really enforced), and the operator's
  own Pods from the chart's rendered Deployment.
- The chart's RBAC, installed, grants exactly the verbs the operator uses (`dynoform.runtime.kube`'s
  PERMISSIONS), as `kubectl auth can-i --list` reads it from the API server, and denies the
  verbs an operator of Formations has no business with.
- A Formation in one namespace never creates or changes anything in another (counted from the
  API server's audit log, and by resourceVersion), and cannot even name another namespace.
- An object with a child's name that the Formation does not own is never taken over, and
  nothing is applied beside it: the Formation is refused whole.

Already tested elsewhere, not repeated: the chart's identity is enough to reconcile and may not
read Secrets, delete Namespaces or touch another Lease (tests/e2e/test_helm_e2e.py); the
namespaced install's RBAC (tests/integration/test_chart.py); the rendered RBAC equals PERMISSIONS
(tests/unit/test_chart_rbac.py); a squatter is left alone (tests/integration/test_operator.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.types import PatchType

from dynoform.runtime.resources import (
    LEADER_ELECTION_PERMISSIONS,
    LOCAL_WEBHOOK_PERMISSIONS,
    PERMISSIONS,
)
from localcluster.audit import AuditLog
from tests.factories import formation_body
from tests.kubehelp import Deployment, Formation, apply_yaml, condition, eventually, get, names
from tests.reliability import (
    Snapshot,
    foreign_writes,
    problems,
    quiet,
    scratch_namespace,
    settled,
    wait_converged,
)
from tests.unit.test_chart_render import CHART, helm_template

pytestmark = pytest.mark.chaos
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
}


@pytest.fixture
def restricted(installed, kube: Client) -> Iterator[str]:
    with scratch_namespace(kube, "psa") as ns:
        labels = [f"{k}={v}" for k, v in RESTRICTED.items()]
        installed.kubectl("label", "namespace", ns, *labels)
        yield ns


def replica_failures(installed, namespace: str) -> list[str]:  # type: ignore[no-untyped-def]
    events = installed.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "reason=FailedCreate",
        "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}",
    ).stdout  # fmt: skip
    return [line for line in events.splitlines() if line]


# --- Pod Security restricted -----------------------------------------------------------------


def test_a_restricted_namespace_admits_the_dynos_of_a_formation(
    operator, installed, kube: Client, restricted: str
) -> None:
    body = formation_body(
        name="shop",
        namespace=restricted,
        processes={
            "web": {"command": "serve", "quantity": 2},
            "worker": {"command": "work", "quantity": 1},
            "clock": {"command": "tick", "quantity": 1},
        },
    )
    result = apply_yaml(installed.kubectl, body)
    assert "violate" not in result.stderr
    wait_converged(kube, restricted, 120)  # every dyno Running, in that namespace
    assert replica_failures(installed, restricted) == []


def test_the_restricted_namespace_refuses_dynos_that_opt_out_so_the_label_is_enforced(
    operator, installed, kube: Client, restricted: str
) -> None:
    body = formation_body(
        name="root",
        namespace=restricted,
        processes={"web": {"command": "serve", "quantity": 1}},
        security={"runAsNonRoot": False, "runAsUser": 0},
    )
    apply_yaml(installed.kubectl, body)
    failures = eventually(
        lambda: replica_failures(installed, restricted), timeout=60, what="FailedCreate"
    )
    assert any('violates PodSecurity "restricted:latest"' in f for f in failures), failures
    assert names(kube, Deployment, restricted) == {"root-web"}
    # Status follows the children once the Formation's changes are quiet (decision 0019).
    ready = eventually(
        lambda: condition(get(kube, Formation, "root", restricted), "Ready"),
        timeout=30,
        what="the Ready condition",
    )
    assert ready["status"] == "False"


def chart_objects(namespace: str) -> list[dict[str, Any]]:
    """What the operator's Pods need from the chart, rendered for `namespace` with the optional
    webhook on (its certificate mounted too): the ServiceAccount, the webhook certificate's
    Secret and the Deployment. (Nothing that would make the API server dial a Service: no
    webhook configuration.)"""
    text = helm_template(
        "--set", "webhooks.enabled=true", namespace=namespace, release="psa"
    ).stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    wanted = {"ServiceAccount", "Secret", "Deployment"}
    return [d for d in docs if d["kind"] in wanted]


def test_a_restricted_namespace_admits_the_operators_pods_from_the_chart(
    installed, kube: Client, restricted: str
) -> None:
    objects = chart_objects(restricted)
    assert {d["kind"] for d in objects} == {"ServiceAccount", "Secret", "Deployment"}
    result = installed.kubectl(
        "apply", "-n", restricted, "-f", "-", input=yaml.safe_dump_all(objects)
    )
    assert "violate" not in result.stderr, result.stderr
    (deployment,) = [d for d in objects if d["kind"] == "Deployment"]
    name, replicas = deployment["metadata"]["name"], deployment["spec"]["replicas"]

    def running() -> bool:
        d = get(kube, Deployment, name, restricted) or {}
        return int((d.get("status") or {}).get("readyReplicas") or 0) == replicas

    eventually(running, timeout=90, what=f"the chart's {replicas} operator Pods Running")
    pods = installed.kubectl(
        "get", "pods", "-n", restricted, "-o", "jsonpath={.items[*].status.phase}"
    ).stdout.split()
    assert pods == ["Running"] * replicas
    assert replica_failures(installed, restricted) == []


# --- RBAC: exactly what the operator uses, as the API server sees it -------------------------

BASIC = {  # what every authenticated identity may do (system:basic-user and friends)
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}
ROW = re.compile(r"^(\S*)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$")


def granted(installed, sa: str, namespace: str) -> dict[tuple[str, str], set[str]]:  # type: ignore[no-untyped-def]
    """`kubectl auth can-i --list` for the ServiceAccount in a namespace: (group, resource) ->
    verbs, without the non-resource URLs and the grants every user has."""
    out = installed.kubectl("auth", "can-i", "--list", f"--as={sa}", "-n", namespace).stdout
    rules: dict[tuple[str, str], set[str]] = {}
    for line in out.splitlines()[1:]:
        match = ROW.match(line)
        if match is None or not match.group(1):
            continue
        resource, _, sub = match.group(1).partition("/")
        plural, _, group = resource.partition(".")
        key = (group, plural + (f"/{sub}" if sub else ""))
        if key not in BASIC:
            rules.setdefault(key, set()).update(match.group(4).split())
    return rules


@pytest.fixture
def chart_release(installed) -> Iterator[tuple[str, str]]:
    """The chart installed cluster-wide (no CRDs: the session's; no webhooks: nothing may dial a
    Service here): (its namespace, its ServiceAccount's user name)."""
    ns, release = f"rbac-{uuid.uuid4().hex[:6]}", "sec"
    installed.kubectl("create", "namespace", ns)
    installed.helm(
        "install", release, str(CHART), "-n", ns, "--set", "webhooks.enabled=false",
        "--set", "crds.enabled=false", "--set", "replicaCount=1",
        "--set", "leaderElection.enabled=false",
    )  # fmt: skip
    try:
        yield ns, f"system:serviceaccount:{ns}:{release}-dynoform"
    finally:
        installed.helm("uninstall", release, "-n", ns, "--wait", check=False)
        installed.kubectl("delete", "namespace", ns, "--wait=false")


def test_the_charts_rbac_grants_exactly_the_verbs_the_operator_uses(
    installed, chart_release: tuple[str, str]
) -> None:
    _, sa = chart_release
    want = {
        key: set(verbs)
        for key, verbs in PERMISSIONS.items()
        if key not in LOCAL_WEBHOOK_PERMISSIONS and key not in LEADER_ELECTION_PERMISSIONS
    }
    probe = f"any-{uuid.uuid4().hex[:6]}"  # a namespace the chart has never heard of
    assert granted(installed, sa, probe) == want


FORBIDDEN = [
    # The children: server-side apply patches; it never updates, lists across, or mass-deletes.
    ("update", "deployments.apps"),
    ("deletecollection", "deployments.apps"),
    ("update", "services"),
    ("deletecollection", "poddisruptionbudgets.policy"),
    # Formations are the user's: read only, but for the status subresource.
    ("create", "formations.dyno.dev"),
    ("patch", "formations.dyno.dev"),
    ("update", "formations.dyno.dev"),
    ("delete", "formations.dyno.dev"),
    ("update", "formations.dyno.dev/status"),
    ("create", "dynosizes.dyno.dev"),
    ("delete", "dynosizes.dyno.dev"),
    # No pod of its own, no reaching into the dynos or their secrets.
    ("create", "pods"),
    ("delete", "pods"),
    ("get", "pods"),
    ("create", "pods/exec"),
    ("get", "pods/log"),
    ("get", "secrets"),
    ("list", "secrets"),
    ("get", "configmaps"),
    # Nothing that grants power or touches the cluster itself.
    ("create", "serviceaccounts/token"),
    ("impersonate", "users"),
    ("escalate", "clusterroles.rbac.authorization.k8s.io"),
    ("bind", "clusterroles.rbac.authorization.k8s.io"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
    ("patch", "nodes"),
    ("delete", "namespaces"),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "validatingwebhookconfigurations.admissionregistration.k8s.io"),
    ("patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io"),
    ("delete", "events"),
    ("create", "leases.coordination.k8s.io"),  # no leader election in this install
]


@pytest.mark.parametrize(("verb", "resource"), FORBIDDEN, ids=lambda v: str(v))
def test_the_charts_identity_is_denied_what_the_operator_does_not_do(
    installed, chart_release: tuple[str, str], verb: str, resource: str
) -> None:
    ns, sa = chart_release
    for where in (["-n", ns], ["-n", "default"], ["--all-namespaces"]):
        result = installed.kubectl(
            "auth", "can-i", verb, resource, f"--as={sa}", *where, check=False
        )
        assert result.stdout.strip() == "no", (verb, resource, where, result.stdout)


# --- Namespaces --------------------------------------------------------------------------------


def versions(kube: Client, namespace: str) -> dict[str, str]:
    snap = Snapshot.read(kube, namespace)
    out = {f"Formation {n}": f["metadata"]["resourceVersion"] for n, f in snap.formations.items()}
    for kind, objs in snap.children.items():
        out |= {f"{kind} {n}": o["metadata"]["resourceVersion"] for n, o in objs.items()}
    return out


def test_a_formation_never_creates_or_changes_anything_in_another_namespace(
    operator, installed, kube: Client, audit: AuditLog
) -> None:
    with scratch_namespace(kube, "ns-a") as a, scratch_namespace(kube, "ns-b") as b:
        # B holds a Formation of the same name, converged, and an object named like A's child.
        apply_yaml(installed.kubectl, formation_body(name="shop", namespace=b))
        squatter = formation_body(name="solo", namespace=b, processes={"web": {"command": "x"}})
        apply_yaml(installed.kubectl, squatter)
        wait_converged(kube, b, 120)
        assert quiet(audit, operator, b, passes=1) == []
        before = versions(kube, b)
        mark = audit.mark()
        for name in ("shop", "solo"):
            apply_yaml(installed.kubectl, formation_body(name=name, namespace=a))
        wait_converged(kube, a, 120)
        kube.patch(
            Formation, "shop", {"spec": {"processes": {"web": {"quantity": 3}}}},
            namespace=a, patch_type=PatchType.MERGE,
        )  # fmt: skip
        wait_converged(kube, a, 120)
        installed.kubectl("delete", "formation", "solo", "-n", a)
        assert quiet(audit, operator, a) == []
        assert foreign_writes(audit, mark, {a}) == []
        assert versions(kube, b) == before


@pytest.mark.parametrize(
    "where",
    [
        {"envFrom": [{"secretRef": {"name": "s", "namespace": "kube-system"}}]},
        {"envFrom": [{"configMapRef": {"name": "c", "namespace": "kube-system"}}]},
        {"imagePullSecrets": [{"name": "s", "namespace": "kube-system"}]},
        {"namespace": "kube-system"},
    ],
    ids=["a Secret", "a ConfigMap", "a pull secret", "the spec"],
)
def test_a_formation_cannot_name_another_namespace(installed, where: dict[str, Any]) -> None:
    body = formation_body(name="shop", namespace="default")
    body["spec"].update(where)
    result = apply_yaml(installed.kubectl, body, "--dry-run=server", check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.' in result.stderr
    assert 'namespace"' in result.stderr


# --- Never take over, and never half-apply beside a conflict ---------------------------------


def test_two_formations_whose_children_would_share_a_name_never_take_each_others(
    operator, installed, kube: Client, namespace: str
) -> None:
    # Formation "a" with type "b-web" and Formation "a-b" with type "web" both name a
    # Deployment "a-b-web": the second to come is refused, and the first keeps its own.
    first = formation_body(
        name="a", namespace=namespace, processes={"b-web": {"command": "serve", "quantity": 1}}
    )
    apply_yaml(installed.kubectl, first)
    eventually(lambda: get(kube, Deployment, "a-b-web", namespace), what="a's Deployment")
    second = formation_body(
        name="a-b", namespace=namespace, processes={"web": {"command": "other", "quantity": 2}}
    )
    apply_yaml(installed.kubectl, second)

    def refused() -> dict[str, Any] | None:
        f = get(kube, Formation, "a-b", namespace)
        c = condition(f, "Reconciled")
        return c if c and c["reason"] == "NameConflict" else None

    c = eventually(refused, timeout=30, what="Reconciled=False NameConflict on a-b")
    assert "Deployment a-b-web already exists and is not owned by this Formation" in c["message"]
    operator.wait_for_resyncs(2)
    d = get(kube, Deployment, "a-b-web", namespace)
    assert d is not None
    (ref,) = d["metadata"]["ownerReferences"]
    assert ref["name"] == "a"
    assert d["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "serve"


def test_a_name_conflict_refuses_the_formation_whole_and_it_converges_once_the_name_is_free(
    operator, installed, kube: Client, namespace: str
) -> None:
    squatter = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "shop-web", "namespace": namespace},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "other"}},
    }
    apply_yaml(installed.kubectl, squatter)
    apply_yaml(installed.kubectl, formation_body(name="shop", namespace=namespace))

    def refused() -> dict[str, Any] | None:
        f = get(kube, Formation, "shop", namespace)
        c = condition(f, "Reconciled")
        return f if f and settled(f) and c and c["reason"] == "NameConflict" else None

    eventually(refused, timeout=30, what="Reconciled=False NameConflict")
    operator.wait_for_resyncs(2)  # resyncs do not apply the rest either
    snap = Snapshot.read(kube, namespace)
    owned = snap.owned_by(snap.formations["shop"])
    assert owned == {"Deployment": set(), "Service": set(), "PodDisruptionBudget": set()}
    assert not (snap.children["Service"]["shop-web"]["metadata"].get("ownerReferences"))
    installed.kubectl("delete", "service", "shop-web", "-n", namespace)
    wait_converged(kube, namespace, 60)
    assert problems(Snapshot.read(kube, namespace)) == []
