"""Verified spread and Heroku's redundancy advice, from where the Running dynos are."""

from __future__ import annotations

import pytest

from dynoform.spread import advice, zone_redundancy
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
        ({"web": [], "worker": []}, 3, (True, "")),
    ],
    ids=[
        "every type in several zones",
        "web in one zone is named with its zone",
        "each type at fault is named",
        "a one-zone cluster cannot do better",
        "no Running dynos yet is a readiness matter, not a spread one",
    ],
)
def test_zone_redundancy_is_judged_from_the_running_dynos_zones(
    zones: dict[str, list[str]], cluster_zones: int, expected: tuple[bool, str]
) -> None:
    ok, reason, message = zone_redundancy(SHOP, zones, cluster_zones)
    assert ok is expected[0]
    if not ok:
        assert (reason, message) == ("NotSpreadAcrossZones", expected[1])


def test_singletons_and_single_dynos_are_not_judged() -> None:
    f = make_formation(
        processes={"clock": {"command": "c", "quantity": 1}, "web": {"command": "w", "quantity": 1}}
    )
    assert zone_redundancy(f, {"clock": ["a"], "web": ["a"]}, 3)[0] is True


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
