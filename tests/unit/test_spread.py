"""Verified spread and Heroku's redundancy advice, from where the Running dynos are."""

from __future__ import annotations

import pytest

from dynoform.core.spread import advice, zone_redundancy
from tests.factories import make_formation

SHOP = make_formation(
    processes={
        "web": {"command": "a", "quantity": 3},
        "worker": {"command": "b", "quantity": 2},
        "clock": {"command": "c", "quantity": 1},
    }
)


@pytest.mark.parametrize(
    ("zones", "cluster_zones", "expected"),
    [
        ({"web": ["a", "b", "c"], "worker": ["a", "b"]}, 3, (True, "")),
        ({"web": ["zone-a"] * 3, "worker": ["a", "b"]}, 3, (False, "web: 3 of 3 dynos in zone-a")),
        (
            {"web": ["a", "a", "a"], "worker": ["b", "b"]},
            3,
            (False, "web: 3 of 3 dynos in a; worker: 2 of 2 dynos in b"),
        ),
        ({"web": ["a", "a", "a"], "worker": ["a", "a"]}, 1, (True, "")),
    ],
    ids=[
        "every type in several zones",
        "web in one zone is named with its zone",
        "each type at fault is named",
        "a one-zone cluster cannot do better",
    ],
)
def test_zone_redundancy_is_judged_from_the_running_dynos_zones(
    zones: dict[str, list[str]], cluster_zones: int, expected: tuple[bool, str]
) -> None:
    verdict = zone_redundancy(SHOP, zones, cluster_zones)
    assert verdict is not None
    ok, reason, message = verdict
    assert ok is expected[0]
    if not ok:
        assert (reason, message) == ("NotSpreadAcrossZones", expected[1])


@pytest.mark.parametrize(
    "zones",
    [
        {"web": [], "worker": []},
        {"web": ["a"], "worker": ["a", "b"]},
        {"web": ["a", "a", "a", "b"], "worker": ["a", "b"]},
    ],
    ids=["none Running yet", "scaling up", "surging in a rollout"],
)
def test_no_verdict_while_a_type_is_rolling_out(zones: dict[str, list[str]]) -> None:
    assert zone_redundancy(SHOP, zones, 3) is None


def test_singletons_and_single_dynos_are_not_judged() -> None:
    f = make_formation(
        processes={"clock": {"command": "c", "quantity": 1}, "web": {"command": "w", "quantity": 1}}
    )
    assert zone_redundancy(f, {"clock": ["a"], "web": ["a"]}, 3) == (
        True,
        "SpreadAcrossZones",
        "Types with 2 or more dynos run in at least 2 zones.",
    )


def test_herokus_advice_names_a_single_web_dyno_and_critical_types() -> None:
    f = make_formation(
        processes={
            "web": {"command": "a", "quantity": 1},
            "payments": {"command": "b", "quantity": 1, "critical": True},
            "worker": {"command": "c", "quantity": 1},
        }
    )
    assert advice(f) == (
        False,
        "SingleDyno",
        "Run at least two payments and web dynos for redundancy.",
    )
    two = make_formation(processes={"web": {"command": "a", "quantity": 2}})
    assert advice(two)[0] is True


def test_redundancy_news_is_told_once_per_flip() -> None:
    from dynoform.api.v1alpha1 import FormationStatus
    from dynoform.core.status import Observed, Outcome, build_status, redundancy_news

    applied = (True, "Applied", "")
    spread_ok = Observed(zones={"web": ["a", "b", "c"], "worker": ["a", "b"]}, cluster_zones=3)
    one_zone = Observed(zones={"web": ["a", "a", "a"], "worker": ["a", "b"]}, cluster_zones=3)
    first = build_status(SHOP, spread_ok, Outcome(applied, "t1"))
    assert redundancy_news(FormationStatus(), first) == []  # a first True is no news
    lost = build_status(SHOP.model_copy(update={"status": first}), one_zone, Outcome(applied, "t2"))
    assert redundancy_news(first, lost) == [
        ("NotSpreadAcrossZones", "web: 3 of 3 dynos in a", "Warning")
    ]
    again = build_status(SHOP.model_copy(update={"status": lost}), one_zone, Outcome(applied, "t3"))
    assert redundancy_news(lost, again) == []
    back = build_status(
        SHOP.model_copy(update={"status": again}), spread_ok, Outcome(applied, "t4")
    )
    assert [(r, t) for r, _, t in redundancy_news(again, back)] == [("SpreadAcrossZones", "Normal")]
