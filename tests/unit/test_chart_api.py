"""The chart's Platform API server (`api.enabled`) as `helm template` renders it: off by
default; on, a restricted Deployment with no token and no RBAC, and its Service."""

from __future__ import annotations

import pytest

from tests.unit.test_chart_render import helm_template, kinds, one, render

API = "dyno-dynoform-api"


def test_the_api_is_off_by_default() -> None:
    docs = render()
    assert not [d for d in docs if d["metadata"]["name"] == API]


def test_the_api_runs_the_operators_image_without_a_token_or_any_rbac() -> None:
    docs = render("--set", "api.enabled=true")
    ours = [d for d in docs if d["metadata"]["name"] == API]
    assert kinds(ours) == ["Deployment", "Service", "ServiceAccount"]
    assert not [d for d in docs if "Binding" in d["kind"] and API in str(d.get("subjects"))]
    assert one(docs, "ServiceAccount", API)["automountServiceAccountToken"] is False
    pod = one(docs, "Deployment", API)["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == (API, False)
    (container,) = pod["containers"]
    operator = one(docs, "Deployment", "dyno-dynoform")["spec"]["template"]["spec"]
    assert container["image"] == operator["containers"][0]["image"]
    assert container["command"] == ["python", "-m", "dynoform.server"]
    assert container["args"] == ["--port=5100"]
    sources = pod["volumes"][0]["projected"]["sources"]
    assert sources[0]["configMap"]["name"] == "kube-root-ca.crt"
    assert not [s for s in sources if "serviceAccountToken" in s]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_service_selects_only_the_api_pods() -> None:
    docs = render("--set", "api.enabled=true", "--set", "api.service.port=8080")
    service = one(docs, "Service", API)["spec"]
    assert service["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["selector"]["app.kubernetes.io/component"] == "platform-api"
    labels = one(docs, "Deployment", API)["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    operator = one(docs, "Deployment", "dyno-dynoform")["spec"]["selector"]["matchLabels"]
    assert not operator.items() <= labels.items()


def test_a_default_namespace_for_app_names_becomes_a_flag() -> None:
    docs = render(
        "--set", "api.enabled=true", "--set", "api.namespace=team-a", "--set", "api.port=9000"
    )
    (container,) = one(docs, "Deployment", API)["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["--port=9000", "--namespace=team-a"]
    assert container["ports"][0]["containerPort"] == 9000


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--set", "api.enable=true"], "additional properties 'enable' not allowed"),
        (["--set", "api.port=0"], "/api/port"),
        (["--set", "api.namespace=Team_A"], "/api/namespace"),
        (["--set", "api.service.type=NodePort"], "additional properties 'type' not allowed"),
    ],
)
def test_the_schema_refuses_bad_api_values(args: list[str], complaint: str) -> None:
    result = helm_template(*args, check=False)
    assert result.returncode != 0
    assert complaint in result.stderr, result.stderr


def test_the_dashboard_is_served_with_the_api_and_its_flags_come_from_the_values() -> None:
    container = _api_container("--set", "api.enabled=true")
    assert container["args"] == ["--port=5100"]  # the dashboard on, the sign-in form only
    container = _api_container(
        "--set",
        "api.enabled=true",
        "--set",
        "api.dashboard.enabled=false",
        "--set",
        "api.dashboard.tokenHeader=X-Forwarded-Access-Token",
    )
    assert container["args"] == [
        "--port=5100",
        "--no-dashboard",
        "--dashboard-token-header=X-Forwarded-Access-Token",
    ]


def _api_container(*args: str) -> dict:  # type: ignore[type-arg]
    pod = one(render(*args), "Deployment", API)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return dict(container)
