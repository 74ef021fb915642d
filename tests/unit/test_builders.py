"""The builders: a Formation in, the children's manifests out (pure, no mocks)."""

from __future__ import annotations

from typing import Any

import pytest

from dynoform.api.dyno import EXEC, shell_command
from dynoform.api.sizes import BUILTIN, Catalog, check
from dynoform.api.v1alpha1 import Toleration
from dynoform.core.builders.formation import build_children
from tests.factories import make_formation


def children(**spec: Any) -> dict[tuple[str, str], dict[str, Any]]:
    f = make_formation(**spec)
    return {
        (c["kind"], c["metadata"]["name"]): c for c in build_children(f, check(f.spec, Catalog()))
    }


def pod(kids: dict[tuple[str, str], dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = kids[("Deployment", name)]["spec"]["template"]["spec"]
    return spec


def test_each_process_type_gets_a_deployment_named_formation_dash_type() -> None:
    kids = children()
    deployments = sorted(n for k, n in kids if k == "Deployment")
    assert deployments == ["shop-clock", "shop-web", "shop-worker"]
    assert kids[("Deployment", "shop-web")]["spec"]["replicas"] == 2


def test_the_command_runs_through_a_shell_as_a_procfile_line() -> None:
    container = pod(children(), "shop-web")["containers"][0]
    # A simple command replaces the shell (it then hears SIGTERM as PID 1); $PORT expands.
    assert container["command"] == ["/bin/sh", "-c", EXEC, "bundle exec puma -p $PORT"]
    assert container["image"] == "registry.example/shop:v1"


@pytest.mark.parametrize(
    ("line", "execs"),
    [
        ("python3 web.py", True),
        ("bundle exec puma -p $PORT -C config/puma.rb", True),
        ("node server.js > /dev/null", False),  # a redirection: the shell stays
        ("cd app && ./run", False),
        ("./migrate; ./serve", False),
        ("yes | head", False),
        ("echo $(date)", False),
        ("FOO=1 ./run", False),  # an assignment prefix: `exec FOO=1` would fail
        ("exec ./run", False),  # already exec'd
        ("if true; then ./run; fi", False),
        ("it's unbalanced", False),
    ],
)
def test_a_simple_procfile_line_replaces_the_shell_and_a_compound_one_keeps_it(
    line: str, execs: bool
) -> None:
    argv = shell_command(line)
    assert argv == (["/bin/sh", "-c", EXEC, line] if execs else ["/bin/sh", "-c", line])


def test_type_config_vars_override_app_ones_and_dyno_identity_is_set() -> None:
    kids = children(
        env={"RAILS_ENV": "production", "LOG": "info"},
        processes={"web": {"command": "a", "env": {"LOG": "debug"}}},
    )
    env = {
        e["name"]: e.get("value", e.get("valueFrom"))
        for e in pod(kids, "shop-web")["containers"][0]["env"]
    }
    assert env["RAILS_ENV"] == "production"
    assert env["LOG"] == "debug"
    assert env["PORT"] == "5000"
    assert env["DYNO_TYPE"] == "web"
    assert env["DYNO"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_resources_come_from_the_size() -> None:
    kids = children(processes={"web": {"command": "a", "size": "performance-l"}})
    res = pod(kids, "shop-web")["containers"][0]["resources"]
    assert res == {
        "requests": {"cpu": "8", "memory": "14Gi"},
        "limits": {"cpu": "8", "memory": "14Gi"},
    }


def test_dynos_get_a_restricted_security_context_and_herokus_30s_grace() -> None:
    p = pod(children(), "shop-worker")
    assert p["terminationGracePeriodSeconds"] == 30
    assert p["securityContext"]["runAsNonRoot"] is True
    assert p["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = p["containers"][0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_dynos_spread_across_zones_and_hosts_softly_by_default_and_strictly_on_request() -> None:
    soft = pod(children(), "shop-web")["topologySpreadConstraints"]
    assert [(c["topologyKey"], c["maxSkew"], c["whenUnsatisfiable"]) for c in soft] == [
        ("topology.kubernetes.io/zone", 1, "ScheduleAnyway"),
        ("kubernetes.io/hostname", 1, "ScheduleAnyway"),
    ]
    strict = pod(children(spread={"whenUnsatisfiable": "DoNotSchedule"}), "shop-web")
    assert {c["whenUnsatisfiable"] for c in strict["topologySpreadConstraints"]} == {
        "DoNotSchedule"
    }


def test_spread_counts_only_the_nodes_a_dyno_tolerates() -> None:
    # A tainted node (control plane, another size's pool) is not a host with zero dynos.
    for constraint in pod(children(), "shop-web")["topologySpreadConstraints"]:
        assert constraint["nodeTaintsPolicy"] == "Honor"


def test_singletons_roll_out_by_recreate_and_others_surge_first() -> None:
    kids = children()
    assert kids[("Deployment", "shop-clock")]["spec"]["strategy"] == {"type": "Recreate"}
    web = kids[("Deployment", "shop-web")]["spec"]["strategy"]
    assert web["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize(
    ("processes", "expected"),
    [
        ({"web": {"command": "a", "quantity": 2}}, {"shop-web"}),
        ({"web": {"command": "a", "quantity": 1}}, set()),
        ({"worker": {"command": "a", "quantity": 3}}, {"shop-worker"}),
        ({"clock": {"command": "a", "quantity": 1}}, set()),
    ],
)
def test_a_disruption_budget_guards_types_with_two_or_more_dynos_and_never_singletons(
    processes: dict[str, Any], expected: set[str]
) -> None:
    kids = children(processes=processes)
    pdbs = {n for k, n in kids if k == "PodDisruptionBudget"}
    assert pdbs == expected
    for name in pdbs:
        assert kids[("PodDisruptionBudget", name)]["spec"]["maxUnavailable"] == 1


def test_web_gets_a_port_a_readiness_probe_and_a_service_and_workers_do_not() -> None:
    kids = children()
    assert {n for k, n in kids if k == "Service"} == {"shop-web"}
    web = pod(kids, "shop-web")["containers"][0]
    assert web["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
    assert web["readinessProbe"]["tcpSocket"] == {"port": "http"}
    assert "ports" not in pod(kids, "shop-worker")["containers"][0]


def test_children_carry_the_recommended_labels_and_a_controller_owner_reference() -> None:
    dep = children()[("Deployment", "shop-worker")]
    assert dep["metadata"]["labels"] == {
        "app.kubernetes.io/name": "shop",
        "app.kubernetes.io/instance": "shop",
        "app.kubernetes.io/component": "worker",
        "app.kubernetes.io/managed-by": "dynoform",
        "dyno.dev/formation": "shop",
        "dyno.dev/process-type": "worker",
    }
    (ref,) = dep["metadata"]["ownerReferences"]
    assert ref["uid"] == "uid-1"
    assert ref["controller"] is True
    assert ref["blockOwnerDeletion"] is True


def test_secrets_and_config_maps_become_config_vars_and_pull_secrets_are_passed() -> None:
    kids = children(
        envFrom=[
            {"secretRef": {"name": "shop-secrets"}},
            {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
        ],
        imagePullSecrets=[{"name": "registry"}],
    )
    p = pod(kids, "shop-web")
    assert p["containers"][0]["envFrom"] == [
        {"secretRef": {"name": "shop-secrets"}},
        {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
    ]
    assert p["imagePullSecrets"] == [{"name": "registry"}]


TOLERATION = Toleration(key="dyno.dev/dedicated", operator="Exists", effect="NoSchedule")


def test_a_dedicated_size_places_dynos_on_its_nodes() -> None:
    dedicated = BUILTIN["performance-l"].model_copy(
        update={
            "node_selector": {"dyno.dev/pool": "dedicated"},
            "tolerations": [
                Toleration(key="dyno.dev/dedicated", operator="Exists", effect="NoSchedule")
            ],
        }
    )
    f = make_formation(processes={"web": {"command": "a", "size": "performance-l"}})
    (dep, *_) = build_children(f, {"web": dedicated})
    spec = dep["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"dyno.dev/pool": "dedicated"}
    assert spec["tolerations"] == [
        {"key": "dyno.dev/dedicated", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_security_overrides_reach_the_pod() -> None:
    p = pod(children(security={"runAsUser": 1000, "readOnlyRootFilesystem": True}), "shop-web")
    assert p["securityContext"]["runAsUser"] == 1000
    assert p["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
