"""ps:autoscale:enable and :disable: the new spec, the merge patch that writes it, every refusal,
and what `dyno ps` shows of an autoscaled type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dynoform.api import dynos as dy
from dynoform.api.autoscaling import AutoscalerStatus
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import Condition, FormationStatus, ProcessStatus
from dynoform.cli import render
from dynoform.cli.edit import (
    AutoscaleRequest,
    disable_autoscaling,
    enable_autoscaling,
    merge_patch,
    processes_patch,
)
from dynoform.cli.errors import USAGE, CliError
from dynoform.cli.main import build_parser
from tests.factories import make_formation

CATALOG = Catalog()
SHOP = make_formation(
    processes={
        "web": {"command": "puma", "quantity": 2, "size": "performance-l"},
        "worker": {"command": "sidekiq", "quantity": 1},
        "clock": {"command": "clockwork", "quantity": 1},
    }
).spec


def enable(ptype: str = "web", spec=SHOP, **kw: int | str):  # type: ignore[no-untyped-def]
    request = AutoscaleRequest(int(kw.pop("minimum", 2)), int(kw.pop("maximum", 10)), **kw)  # type: ignore[arg-type]
    return enable_autoscaling(spec, ptype, request, CATALOG)


def test_herokus_command_autoscales_web_on_p95_and_patches_only_that() -> None:
    new = enable(p95=500)
    scaling = new.autoscaling_of("web")
    assert scaling is not None
    assert scaling.describe() == "2..10 on p95 500 ms"
    assert processes_patch(SHOP, new) == {
        "spec": {
            "processes": {
                "web": {
                    "autoscaling": {
                        "min": 2,
                        "max": 10,
                        "responseTime": {
                            "p95": 500,
                            "metric": "http_request_duration_seconds_p95",
                            "source": "Pods",
                        },
                    }
                }
            }
        }
    }


def test_without_a_target_web_gets_herokus_p95_of_1000_ms() -> None:
    scaling = enable().autoscaling_of("web")
    assert scaling is not None
    assert scaling.response_time is not None
    assert scaling.response_time.p95 == 1000


def test_a_worker_scales_on_cpu_and_must_be_told_so() -> None:
    scaling = enable("worker", minimum=1, maximum=4, cpu=70).autoscaling_of("worker")
    assert scaling is not None
    assert scaling.describe() == "1..4 on CPU 70%"
    with pytest.raises(CliError) as exc:
        enable("worker", minimum=1, maximum=4)
    assert exc.value.code == USAGE
    assert str(exc.value) == "Name a target for worker: --cpu PERCENT."


def test_enabling_again_changes_the_bounds_and_keeps_the_other_targets() -> None:
    once = enable(p95=500, metric="latency_p95")
    again = enable(spec=once, minimum=3, maximum=6, cpu=60)
    scaling = again.autoscaling_of("web")
    assert scaling is not None
    assert scaling.describe() == "3..6 on CPU 60% and p95 500 ms"
    assert scaling.response_time is not None
    assert scaling.response_time.metric == "latency_p95"
    patch = processes_patch(once, again)["spec"]["processes"]["web"]["autoscaling"]
    assert patch == {"min": 3, "max": 6, "cpu": 60}


@pytest.mark.parametrize(
    ("ptype", "kw", "message"),
    [
        ("clock", {}, "clock is a singleton process type and cannot be autoscaled "
                      "(set singleton: false to scale it)"),
        ("foo", {}, "Couldn't find that process type (foo)."),
        ("web", {"minimum": 5, "maximum": 2}, "autoscaling.min must not exceed autoscaling.max"),
        ("web", {"minimum": 0}, "autoscaling.min 0 (scale to zero) needs a queue target (KEDA)"),
        ("web", {"maximum": 11},
         "Cannot autoscale web to more than 10 Performance-L dynos (autoscaling.max 11)."),
        ("worker", {"p95": 300}, "worker does not listen on a port: --p95 needs a type that does."),
    ],
)  # fmt: skip
def test_refusals_say_why_and_change_nothing(ptype: str, kw: dict[str, int], message: str) -> None:
    with pytest.raises(CliError) as exc:
        enable(ptype, **kw)
    assert str(exc.value) == message


def test_disabling_removes_the_autoscaler_and_the_type_runs_its_quantity() -> None:
    on = enable(p95=500)
    off = disable_autoscaling(on, "web")
    assert off.autoscaling_of("web") is None
    assert off.quantity_of("web") == 2
    assert processes_patch(on, off) == {"spec": {"processes": {"web": {"autoscaling": None}}}}
    with pytest.raises(CliError, match=r"^web does not have autoscaling enabled\.$"):
        disable_autoscaling(off, "web")


def test_a_merge_patch_nulls_what_is_gone_and_keeps_what_is_equal() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
    assert merge_patch(old, {"a": 1, "b": {"c": 2}}) == {"b": {"d": None}, "e": None}


def test_the_parser_takes_herokus_flags_and_web_by_default() -> None:
    argv = ["ps:autoscale:enable", "--min", "2", "--max", "10", "--p95", "500"]
    args = build_parser().parse_args(argv)
    assert (args.ptype, args.minimum, args.maximum, args.p95, args.cpu) == ("web", 2, 10, 500, None)
    args = build_parser().parse_args(["ps:autoscale:disable", "worker", "-a", "shop"])
    assert (args.ptype, args.app) == ("worker", "shop")


def test_ps_shows_the_autoscalers_bounds_and_its_count_now() -> None:
    on = make_formation(processes={"web": {"command": "puma", "quantity": 2}})
    spec = enable(spec=on.spec, minimum=2, maximum=10, p95=500)
    auto = AutoscalerStatus(kind="HorizontalPodAutoscaler", min=2, max=10, current=3)
    status = FormationStatus(
        processes={"web": ProcessStatus(size="standard-1x", desired=3, autoscaler=auto)}
    )
    formation = on.model_copy(update={"spec": spec, "status": status})
    pods = [
        {
            "metadata": {
                "name": f"shop-web-{i}",
                "creationTimestamp": "2026-11-21T19:00:00Z",
                "labels": {"dyno.dev/formation": "shop", "dyno.dev/process-type": "web"},
            },
            "spec": {"containers": [{"command": ["/bin/sh", "-c", "puma"]}]},
            "status": {"phase": "Running"},
        }
        for i in range(3)
    ]
    now = datetime(2026, 11, 21, 19, 0, 5, tzinfo=UTC)
    text = render.ps(dy.from_pods(pods, {}), formation, CATALOG, now, UTC)
    assert text.splitlines()[:3] == [
        "=== web (Standard-1X): puma (3)",
        "Autoscaling 2..10 on p95 500 ms: at 3 now",
        "",
    ]
    stuck = Condition(
        type="Autoscaling",
        status="False",
        reason="AutoscalerInactive",
        message="web: HorizontalPodAutoscaler shop-web cannot scale (no metrics)",
        last_transition_time="t",
    )
    waiting = formation.model_copy(update={"status": FormationStatus(conditions=[stuck])})
    text = render.ps(dy.from_pods(pods, {}), waiting, CATALOG, now, UTC)
    assert text.splitlines()[1] == (
        "Autoscaling 2..10 on p95 500 ms: not in effect (web: HorizontalPodAutoscaler shop-web "
        "cannot scale (no metrics))"
    )
