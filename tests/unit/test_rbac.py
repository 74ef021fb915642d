"""The operator's ClusterRole grants exactly what the code declares it uses, nothing more."""

from __future__ import annotations

from pathlib import Path

import yaml

from dynoform.runtime.resources import LOCAL_WEBHOOK_PERMISSIONS, PERMISSIONS

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"


def granted() -> dict[tuple[str, str], frozenset[str]]:
    (role,) = [d for d in yaml.safe_load_all(RBAC.read_text()) if d["kind"] == "ClusterRole"]
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return {k: frozenset(v) for k, v in out.items()}


def test_the_cluster_role_grants_exactly_the_declared_permissions() -> None:
    assert granted() == PERMISSIONS


def test_no_rule_uses_wildcards() -> None:
    for (group, resource), verbs in granted().items():
        assert "*" not in verbs
        assert resource != "*"
        assert group != "*"


def test_only_local_mode_manages_webhook_configurations() -> None:
    # The split the chart relies on: what it leaves out is exactly kopf's webhook management.
    assert LOCAL_WEBHOOK_PERMISSIONS.keys() <= PERMISSIONS.keys()
    assert {resource for _, resource in LOCAL_WEBHOOK_PERMISSIONS} == {
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    }
