"""The chart's RBAC grants exactly what the operator declares it uses (dynoform.kube), in both
scopes, and nothing of what only local mode needs.

In a cluster the chart owns the webhook configurations, so LOCAL_WEBHOOK_PERMISSIONS are left
out. kopf peers through ClusterKopfPeerings when cluster-wide and through a KopfPeering in each
namespace otherwise (kopf's peering.guess_selectors), so each scope is granted only its own kind;
tests/e2e/test_helm_e2e.py runs the operator under both to prove the grants are enough.
"""

from __future__ import annotations

from collections import defaultdict

from dynoform.kube import LOCAL_WEBHOOK_PERMISSIONS, PERMISSIONS
from tests.unit.test_chart_render import CHART, NAMESPACE, Doc, render

Grants = dict[tuple[str, str], frozenset[str]]
IN_CLUSTER: Grants = {k: v for k, v in PERMISSIONS.items() if k not in LOCAL_WEBHOOK_PERMISSIONS}
CLUSTER_PEERINGS = ("kopf.dev", "clusterkopfpeerings")
NAMESPACED_PEERINGS = ("kopf.dev", "kopfpeerings")
CLUSTER_SCOPED = {
    ("dyno.dev", "dynosizes"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "namespaces"),
}


def grants(role: Doc) -> Grants:
    out: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule  # no resourceNames tricks
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out[group, resource].update(rule["verbs"])
    return {k: frozenset(v) for k, v in out.items()}


def without(perms: Grants, *keys: tuple[str, str]) -> Grants:
    return {k: v for k, v in perms.items() if k not in keys}


def roles(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def test_cluster_wide_one_cluster_role_grants_exactly_the_declared_permissions() -> None:
    docs = render()
    (role,) = roles(docs, "ClusterRole")
    assert not roles(docs, "Role")
    assert grants(role) == without(IN_CLUSTER, NAMESPACED_PEERINGS)
    (binding,) = roles(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "dyno-dynoform", "namespace": NAMESPACE}
    ]


def test_namespaced_each_namespace_gets_a_role_and_the_cluster_only_cluster_scoped_reads() -> None:
    docs = render("-f", str(CHART / "ci" / "namespaced-values.yaml"))
    by_ns = {r["metadata"]["namespace"]: grants(r) for r in roles(docs, "Role")}
    assert set(by_ns) == {"shop", "billing"}
    assert by_ns["shop"] == by_ns["billing"]
    (cluster_role,) = roles(docs, "ClusterRole")
    assert set(grants(cluster_role)) == CLUSTER_SCOPED
    union = {**by_ns["shop"], **grants(cluster_role)}
    assert union == without(IN_CLUSTER, CLUSTER_PEERINGS)
    bindings = {b["metadata"]["namespace"]: b for b in roles(docs, "RoleBinding")}
    assert set(bindings) == {"shop", "billing"}
    for binding in bindings.values():
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"][0]["namespace"] == NAMESPACE


def test_without_peering_no_peering_kind_is_granted() -> None:
    (role,) = roles(
        render("--set", "peering.enabled=false", "--set", "replicaCount=1"), "ClusterRole"
    )
    assert grants(role) == without(IN_CLUSTER, NAMESPACED_PEERINGS, CLUSTER_PEERINGS)


def test_no_rule_uses_wildcards_or_touches_secrets_or_webhook_configurations() -> None:
    for values in ([], ["-f", str(CHART / "ci" / "namespaced-values.yaml")]):
        docs = render(*values)
        for role in roles(docs, "ClusterRole") + roles(docs, "Role"):
            for (group, resource), verbs in grants(role).items():
                assert "*" not in verbs
                assert "*" not in (group, resource)
                assert resource not in {"secrets", "validatingwebhookconfigurations"}


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    docs = render("--set", "rbac.create=false")
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} & {
        d["kind"] for d in docs
    }
