"""Scale windows against the real API server and the operator: what `kubectl apply` refuses
(and that the model agrees), and a real window, a few seconds from now and half a minute long,
that the Deployments follow in and out while status, history, Events and `dyno ps` say so; a
`ps:scale` made during it waits for its end."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lightkube import Client
from pydantic import ValidationError

from dynoform.api.admission import CATALOG_POLICY, NAMES_POLICY
from dynoform.api.sizes import Catalog, SizeError, check
from dynoform.api.v1alpha1 import Formation as FormationModel
from tests.factories import formation_body
from tests.integration.test_cli import dyno
from tests.integration.test_operator import create, wait_ready
from tests.kubehelp import Deployment, Formation, apply_yaml, events_for, eventually, get

ZONE = "Europe/Berlin"


def window(**extra: Any) -> dict[str, Any]:
    return {"from": "20:00", "to": "07:00", "quantities": {"web": 1}, **extra}


REFUSED = [
    pytest.param(
        window(quantities={"sidekiq": 0}),
        NAMES_POLICY,
        "scale window night: no such process type as sidekiq",
        id="a type that does not exist",
    ),
    pytest.param(
        window(timeZone="Europe/Atlantis"),
        NAMES_POLICY,
        "'Europe/Atlantis': not an IANA time zone",
        id="an unknown time zone",
    ),
    pytest.param(
        window(quantities={"clock": 2}),
        NAMES_POLICY,
        "scale window night: clock is a singleton process type and runs at most 1 dyno (clock=2)",
        id="a singleton above one dyno",
    ),
    pytest.param(
        window(quantities={"web": 11}),
        CATALOG_POLICY,
        "Cannot run more than 10 Performance-L dynos per process type (web=11 in scale window "
        "night).",
        id="above the size's maximum",
    ),
    pytest.param(
        window(**{"from": "24:00"}),
        "",
        "a time of day as HH:MM or HH:MM:SS",
        id="a time that is not one",
    ),
]


@pytest.mark.parametrize(("night", "policy", "message"), REFUSED)
def test_bad_windows_are_refused_at_apply_time_naming_the_window_and_the_model_agrees(
    operator, installed, namespace: str, night: dict[str, Any], policy: str, message: str
) -> None:
    processes = formation_body()["spec"]["processes"]
    processes["web"]["size"] = "performance-l"
    body = formation_body(namespace=namespace, processes=processes, scaleWindows={"night": night})
    result = apply_yaml(installed.kubectl, body, check=False)
    assert result.returncode != 0, "accepted"
    assert message in result.stderr
    assert "night" in result.stderr
    if policy:
        assert f"ValidatingAdmissionPolicy '{policy}'" in result.stderr
    # The CLI and the Platform API judge with the models: they refuse it in the same words.
    with pytest.raises((ValidationError, SizeError), match=re.escape(message)):
        check(FormationModel.model_validate(body).spec, Catalog())


def test_an_autoscaled_type_may_not_be_named_by_a_window(
    operator, installed, namespace: str
) -> None:
    processes = formation_body()["spec"]["processes"]
    processes["web"]["autoscaling"] = {"min": 1, "max": 4, "cpu": 70}
    body = formation_body(
        namespace=namespace, processes=processes, scaleWindows={"night": window()}
    )
    result = apply_yaml(installed.kubectl, body, check=False)
    assert result.returncode != 0, "accepted"
    said = "scale window night: web: a scale window may not name an autoscaled type"
    assert said in result.stderr
    with pytest.raises(ValidationError, match=re.escape(said)):
        FormationModel.model_validate(body)


def _local(at: datetime) -> str:
    return at.astimezone(ZoneInfo(ZONE)).strftime("%H:%M:%S")


def _replicas(kube: Client, namespace: str, ptype: str) -> int | None:
    dep = get(kube, Deployment, f"shop-{ptype}", namespace)
    return None if dep is None else dep["spec"].get("replicas")


def test_a_window_scales_the_deployments_in_and_out_and_status_and_history_say_so(
    operator, installed, kube: Client, namespace: str
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    end = start + timedelta(seconds=30)
    night = {
        "from": _local(start),
        "to": _local(end),
        "timeZone": ZONE,
        "quantities": {"web": 1, "worker": 0},
    }
    create(installed, namespace, scaleWindows={"night": night})
    wait_ready(kube, namespace)
    assert (_replicas(kube, namespace, "web"), _replicas(kube, namespace, "worker")) == (2, 1)

    def in_force() -> dict[str, Any] | None:
        f = get(kube, Formation, "shop", namespace) or {}
        return f if (f.get("status") or {}).get("scaleWindow") else None

    f = eventually(in_force, timeout=30, what="the window in force")
    assert datetime.now(UTC) >= start - timedelta(seconds=1)
    assert f["status"]["scaleWindow"] == {
        "name": "night",
        "until": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert f["spec"]["processes"]["web"]["quantity"] == 2  # the spec stays as declared
    eventually(
        lambda: (_replicas(kube, namespace, "web"), _replicas(kube, namespace, "worker")) == (1, 0),
        what="the window's quantities applied",
    )
    f = wait_ready(kube, namespace)
    assert f["status"]["formation"] == "clock=1:standard-1x web=1:standard-1x worker=0:standard-1x"
    assert f["status"]["history"][-1]["by"] == "schedule night"
    ps = dyno(namespace, "ps")
    assert ps.code == 0, ps.err
    assert "Scale window night in force until" in ps.out

    # A scale during the window changes the spec; the window still decides until it ends.
    scaled = dyno(namespace, "ps:scale", "web=3")
    assert scaled.code == 0, scaled.err
    assert "Scale window night is in force until" in scaled.err
    eventually(
        lambda: (
            (get(kube, Formation, "shop", namespace) or {})["status"].get("observedGeneration") == 2
        ),
        what="the scale reconciled",
    )
    assert _replicas(kube, namespace, "web") == 1

    def out_of_force() -> dict[str, Any] | None:
        f = get(kube, Formation, "shop", namespace) or {}
        return None if (f.get("status") or {}).get("scaleWindow") else f

    eventually(out_of_force, timeout=60, what="the window over")
    assert datetime.now(UTC) >= end - timedelta(seconds=1)
    eventually(
        lambda: (_replicas(kube, namespace, "web"), _replicas(kube, namespace, "worker")) == (3, 1),
        what="the spec's quantities back",
    )
    f = wait_ready(kube, namespace)
    assert f["status"]["formation"] == "clock=1:standard-1x web=3:standard-1x worker=1:standard-1x"
    history = [(h["formation"], h.get("by")) for h in f["status"]["history"]]
    assert history[-2:] == [
        ("clock=1:standard-1x web=1:standard-1x worker=0:standard-1x", "schedule night"),
        ("clock=1:standard-1x web=3:standard-1x worker=1:standard-1x", "end of schedule night"),
    ]
    scaled_events = {
        e["message"] for e in events_for(kube, namespace, "shop") if e["reason"] == "Scaled"
    }
    assert "Scale to clock=1, web=1, worker=0 by schedule night" in scaled_events
    assert "Scale to clock=1, web=3, worker=1 by end of schedule night" in scaled_events
