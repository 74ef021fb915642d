"""The chart's Prometheus objects as `helm template` renders them: the metrics port and
Service, the optional ServiceMonitor and PrometheusRule, and the rules checked by Prometheus's
own `promtool check rules` (the pinned promtool, built like the other binaries)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from localcluster import binaries
from tests.unit.test_chart_render import NAMESPACE, helm_template, kinds, one, render

RULES = ("--set", "metrics.prometheusRule.enabled=true")
MONITOR = ("--set", "metrics.serviceMonitor.enabled=true")


def test_by_default_the_operator_serves_metrics_behind_a_service_without_prometheus_crds():
    docs = render()
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "--metrics-port=8081" in container["args"]
    assert {"name": "metrics", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    service = one(docs, "Service", "dyno-dynoform-metrics")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8081, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert not {"ServiceMonitor", "PrometheusRule"} & set(kinds(docs))


def test_metrics_off_removes_the_flag_the_port_and_the_service():
    docs = render("--set", "metrics.enabled=false")
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert not [a for a in container["args"] if a.startswith("--metrics")]
    assert "metrics" not in [p["name"] for p in container["ports"]]
    assert not [d for d in docs if d["metadata"]["name"].endswith("-metrics")]


def test_the_service_monitor_scrapes_the_metrics_service_only():
    docs = render(*MONITOR, "--set", "metrics.serviceMonitor.labels.release=kube-prometheus")
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selected = monitor["spec"]["selector"]["matchLabels"].items()
    services = [
        d for d in docs if d["kind"] == "Service" and selected <= d["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in services] == ["dyno-dynoform-metrics"]


def test_the_rules_alert_on_formations_not_ready_the_operator_down_no_leader_and_errors():
    rule = one(render(*RULES, "--set", "metrics.prometheusRule.notReadyFor=30m"), "PrometheusRule")
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {
        "DynoformFormationNotReady",
        "DynoformOperatorDown",
        "DynoformNoLeader",
        "DynoformReconcileErrors",
    }
    assert alerts["DynoformFormationNotReady"]["for"] == "30m"
    job = f'job="dyno-dynoform-metrics", namespace="{NAMESPACE}"'
    for alert in alerts.values():
        assert job in alert["expr"], alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical")


def test_promtool_accepts_the_rules(tmp_path: Path):
    rule = one(render(*RULES), "PrometheusRule")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rule["spec"]))
    promtool = binaries.ensure(["promtool"]).path("promtool")
    checked = subprocess.run(
        [str(promtool), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout


def test_promtool_refuses_a_broken_rule(tmp_path: Path):
    """The check is real: a rule with a syntax error fails it."""
    rule = one(render(*RULES), "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["expr"] = "max by (namespace (dynoform_formations"
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rule["spec"]))
    promtool = binaries.ensure(["promtool"]).path("promtool")
    checked = subprocess.run(
        [str(promtool), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode != 0


def test_the_values_schema_refuses_unknown_metrics_keys_and_bad_durations():
    for bad in ("metrics.scrape=true", "metrics.serviceMonitor.interval=often"):
        result = helm_template("--set", bad, check=False)
        assert result.returncode != 0, bad
        assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
