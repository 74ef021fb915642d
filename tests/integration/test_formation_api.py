"""Validation at `kubectl apply` time: the CRD's schema and CEL rules, against the real API server.

Each case is applied with a server-side dry run, so nothing is stored; the message the user
sees must name the problem.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.factories import formation_body
from tests.kubehelp import apply_yaml


def body_with(name: str = "shop", **spec: Any) -> dict[str, Any]:
    return formation_body(name=name, namespace="default", **spec)


AUTO = {"min": 1, "max": 2, "cpu": 50}


REJECTED = [
    pytest.param(
        body_with(imagePullSecrets=[{"name": "regcred"}, {"name": "regcred"}]),
        'spec.imagePullSecrets[1]: Duplicate value: {"name":"regcred"}',
        id="an image pull secret named twice",
    ),
    pytest.param(
        body_with(processes={"clock": {"command": "c", "quantity": 2}}),
        "clock is a singleton process type and runs at most 1 dyno (set singleton: false",
        id="a clock above 1 dyno",
    ),
    pytest.param(
        body_with(processes={"cron": {"command": "c", "quantity": 3, "singleton": True}}),
        "spec.processes[cron]: Invalid value: a singleton process type runs at most 1 dyno",
        id="a declared singleton above 1 dyno",
    ),
    pytest.param(
        body_with(processes={"web": {"command": "a", "quantity": -1}}),
        "should be greater than or equal to 0",
        id="a negative quantity",
    ),
    pytest.param(
        body_with(processes={"web": {"command": "a", "quantity": 1001}}),
        "should be less than or equal to 1000",
        id="a quantity above the cap",
    ),
    pytest.param(
        body_with(processes={"Web_1": {"command": "a"}}),
        "invalid process type names: Web_1 (lowercase letters",
        id="a process type that is no DNS label",
    ),
    pytest.param(
        body_with(processes={"w" * 31: {"command": "a"}}),
        "process type names hold at most 30 characters",
        id="a process type name too long",
    ),
    pytest.param(
        body_with(processes={"web": {"quantity": 1}}),
        "command: Required value",
        id="a process type without a command",
    ),
    pytest.param(
        body_with(processes={"web": {"command": ""}}),
        "should be at least 1 chars long",
        id="an empty command",
    ),
    pytest.param(
        body_with(processes={}),
        "should have at least 1 properties",
        id="no process types",
    ),
    pytest.param(
        body_with(processes={"web": {"command": "a", "size": "standard 2x"}}),
        "standard 2x is not a dyno size name: letters, digits and '-', such as standard-2x",
        id="a size that is no name",
    ),
    pytest.param(
        body_with(env={"PORT": "80"}, processes={"web": {"command": "a"}}),
        "PORT, DYNO, DYNO_TYPE, DYNO_SIZE are set by dynoform",
        id="a reserved config var",
    ),
    pytest.param(
        body_with(env={"1BAD": "x"}, processes={"web": {"command": "a"}}),
        "config var names may hold letters",
        id="a config var name starting with a digit",
    ),
    pytest.param(
        body_with(name="a" * 45, processes={"urgent-worker-queue": {"command": "a"}}),
        "spec.processes: Invalid value: '<formation>-<type>' names each Deployment and Service",
        id="a child name too long for a Service",
    ),
    pytest.param(
        body_with(envFrom=[{"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}]),
        "exactly one of secretRef or configMapRef",
        id="an envFrom naming two sources",
    ),
    pytest.param(
        body_with(spread={"whenUnsatisfiable": "Sometimes"}),
        'Unsupported value: "Sometimes"',
        id="an unknown spread policy",
    ),
    pytest.param(
        {k: v for k, v in body_with().items() if k != "spec"},
        "spec: Required value",
        id="no spec",
    ),
    pytest.param(
        body_with(processes={"clock": {"command": "c", "autoscaling": AUTO}}),
        "clock is a singleton process type and cannot be autoscaled (set singleton: false",
        id="an autoscaled clock",
    ),
    pytest.param(
        body_with(processes={"cron": {"command": "c", "singleton": True, "autoscaling": AUTO}}),
        "spec.processes[cron]: Invalid value: a singleton process type cannot be autoscaled",
        id="an autoscaled declared singleton",
    ),
    pytest.param(
        body_with(processes={"web": {"command": "a", "autoscaling": {**AUTO, "min": 3}}}),
        "autoscaling.min must not exceed autoscaling.max",
        id="autoscaling bounds the wrong way round",
    ),
    pytest.param(
        body_with(processes={"web": {"command": "a", "autoscaling": {"min": 1, "max": 2}}}),
        "autoscaling needs a target: cpu, responseTime or queue",
        id="autoscaling without a target",
    ),
    pytest.param(
        body_with(processes={"web": {"command": "a", "autoscaling": {**AUTO, "min": 0}}}),
        "autoscaling.min 0 (scale to zero) needs a queue target (KEDA)",
        id="autoscaling to zero without a queue",
    ),
    pytest.param(
        body_with(processes={"web": {"command": "a"}, "release": {"command": "rake db:migrate"}}),
        "release is Heroku's release phase, not a process type: set spec.release.command",
        id="a process type named release",
    ),
]


@pytest.mark.parametrize(("manifest", "message"), REJECTED)
def test_invalid_formations_are_refused_at_apply_time_with_a_clear_message(
    installed, manifest: dict[str, Any], message: str
) -> None:
    result = apply_yaml(installed.kubectl, manifest, "--dry-run=server", check=False)
    assert result.returncode != 0, f"accepted: {manifest}"
    assert message in result.stderr, result.stderr


def test_a_valid_formation_is_accepted_with_defaults_filled_in(installed) -> None:
    manifest = body_with(
        processes={"web": {"command": "a"}, "clock": {"command": "c", "quantity": 1}},
        release={"command": "migrate"},
        spread={},
    )
    result = apply_yaml(installed.kubectl, manifest, "--dry-run=server", "-o", "json", check=False)
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)["spec"]
    assert spec["spread"] == {"whenUnsatisfiable": "ScheduleAnyway"}
    assert spec["release"]["size"] == "standard-1x"
    # No size is stored for a type: one that names none takes the app's tier (size_of).
    assert "size" not in spec["processes"]["web"]


def test_a_clock_may_scale_when_declared_not_singleton(installed) -> None:
    manifest = body_with(processes={"clock": {"command": "c", "quantity": 2, "singleton": False}})
    result = apply_yaml(installed.kubectl, manifest, "--dry-run=server", check=False)
    assert result.returncode == 0, result.stderr
