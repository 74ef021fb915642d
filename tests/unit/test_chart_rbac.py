"""The chart's RBAC grants exactly what the operator declares it uses (dynoform.runtime), in
both scopes, and nothing of what only local mode needs.

In a cluster the chart owns the webhook configurations, so LOCAL_WEBHOOK_PERMISSIONS are left
out. Leader election (LEADER_ELECTION_PERMISSIONS) is granted only in the release namespace, by a
Role of its own, and reading or renewing only the release's own Lease; everything else
cluster-wide, or per watched namespace with a small ClusterRole for what is cluster-scoped.
kopf runs standalone: nothing of kopf.dev (its peering) is granted.
tests/e2e/test_helm_e2e.py runs the operator under both scopes to prove the grants are enough.
"""

from __future__ import annotations

from collections import defaultdict

from dynoform.runtime.resources import (
    LEADER_ELECTION_PERMISSIONS,
    LOCAL_WEBHOOK_PERMISSIONS,
    PERMISSIONS,
)
from tests.unit.test_chart_render import CHART, NAMESPACE, Doc, render

Grants = dict[tuple[str, str], frozenset[str]]
IN_CLUSTER: Grants = {
    k: v
    for k, v in PERMISSIONS.items()
    if k not in LOCAL_WEBHOOK_PERMISSIONS and k not in LEADER_ELECTION_PERMISSIONS
}
CLUSTER_SCOPED = {
    ("dyno.dev", "dynosizes"),
    ("dyno.dev", "dynosizes/status"),
    ("", "nodes"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "namespaces"),
}
LEASE_ROLE = "dyno-dynoform-leader-election"
LEASE_NAME = "dyno-dynoform"  # the release's full name, as the Deployment's --lease-name


def grants(role: Doc, *, named: frozenset[str] = frozenset()) -> Grants:
    """What a role grants. Only verbs in `named` may be limited to resourceNames (the Lease's
    get and update); anywhere else a rule is plain groups x resources x verbs."""
    out: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for rule in role["rules"]:
        keys = {"apiGroups", "resources", "verbs"}
        assert set(rule) in (keys, keys | {"resourceNames"}), rule
        if "resourceNames" in rule:
            assert rule["resourceNames"] == [LEASE_NAME], rule
            assert set(rule["verbs"]) <= named, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out[group, resource].update(rule["verbs"])
    return {k: frozenset(v) for k, v in out.items()}


def roles(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def lease_role(docs: list[Doc]) -> Doc:
    """The leader-election Role: in the release namespace, with its binding to the operator."""
    (role,) = [r for r in roles(docs, "Role") if r["metadata"]["name"] == LEASE_ROLE]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert grants(role, named=frozenset({"get", "update"})) == LEADER_ELECTION_PERMISSIONS
    # create cannot be limited by name (the object does not exist yet); get and update are.
    named = [r for r in role["rules"] if "resourceNames" in r]
    assert {v for r in named for v in r["verbs"]} == {"get", "update"}
    (binding,) = [b for b in roles(docs, "RoleBinding") if b["metadata"]["name"] == LEASE_ROLE]
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": LEASE_ROLE,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "dyno-dynoform", "namespace": NAMESPACE}
    ]
    return role


def test_the_split_the_chart_relies_on() -> None:
    # Leases are all leader election needs, and kopf (standalone) peers through nothing.
    assert LEADER_ELECTION_PERMISSIONS.keys() == {("coordination.k8s.io", "leases")}
    assert LEADER_ELECTION_PERMISSIONS.keys() <= PERMISSIONS.keys()
    assert not {group for group, _ in PERMISSIONS} & {"kopf.dev", "zalando.org"}


def test_cluster_wide_one_cluster_role_and_the_lease_role_grant_exactly_the_declared() -> None:
    docs = render()
    (role,) = roles(docs, "ClusterRole")
    assert grants(role) == IN_CLUSTER
    (binding,) = roles(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "dyno-dynoform", "namespace": NAMESPACE}
    ]
    assert [r["metadata"]["name"] for r in roles(docs, "Role")] == [LEASE_ROLE]
    lease_role(docs)


def test_namespaced_each_namespace_gets_a_role_and_the_cluster_only_cluster_scoped_reads() -> None:
    docs = render("-f", str(CHART / "ci" / "namespaced-values.yaml"))
    watched = [r for r in roles(docs, "Role") if r["metadata"]["name"] != LEASE_ROLE]
    by_ns = {r["metadata"]["namespace"]: grants(r) for r in watched}
    assert len(watched) == len(by_ns)
    assert set(by_ns) == {"shop", "billing"}
    assert by_ns["shop"] == by_ns["billing"]
    (cluster_role,) = roles(docs, "ClusterRole")
    assert set(grants(cluster_role)) == CLUSTER_SCOPED
    union = {**by_ns["shop"], **grants(cluster_role)}
    assert union == IN_CLUSTER
    bindings = {
        b["metadata"]["namespace"]: b
        for b in roles(docs, "RoleBinding")
        if b["metadata"]["name"] != LEASE_ROLE
    }
    assert set(bindings) == {"shop", "billing"}
    for binding in bindings.values():
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"][0]["namespace"] == NAMESPACE
    lease_role(docs)


def test_the_lease_role_stays_apart_when_the_release_namespace_is_also_watched() -> None:
    # Same namespace, two Roles: the watched namespace's and the Lease's, names never clashing.
    docs = render("--set", f"watchNamespaces={{{NAMESPACE},shop}}")
    here = [r for r in roles(docs, "Role") if r["metadata"]["namespace"] == NAMESPACE]
    assert sorted(r["metadata"]["name"] for r in here) == ["dyno-dynoform", LEASE_ROLE]
    lease_role(docs)


def test_without_leader_election_no_lease_is_granted_anywhere() -> None:
    docs = render("-f", str(CHART / "ci" / "single-replica-values.yaml"))
    (role,) = roles(docs, "ClusterRole")
    assert grants(role) == IN_CLUSTER
    assert not roles(docs, "Role")
    assert not roles(docs, "RoleBinding")


def test_no_rule_uses_wildcards_or_touches_secrets_webhooks_or_kopf_peering() -> None:
    for values in ([], ["-f", str(CHART / "ci" / "namespaced-values.yaml")]):
        docs = render(*values)
        for role in roles(docs, "ClusterRole") + roles(docs, "Role"):
            for (group, resource), verbs in grants(
                role, named=frozenset({"get", "update"})
            ).items():
                assert "*" not in verbs
                assert "*" not in (group, resource)
                assert resource not in {"secrets", "validatingwebhookconfigurations"}
                assert group != "kopf.dev"
            if role["kind"] == "ClusterRole":
                assert ("coordination.k8s.io", "leases") not in grants(role)


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    docs = render("--set", "rbac.create=false")
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} & {
        d["kind"] for d in docs
    }
