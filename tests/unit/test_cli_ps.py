"""`dyno ps`: pods become Heroku dynos (numbered by age, Heroku's states) and Heroku's layout.

Pods here are the dicts the API server returns, trimmed to the fields that matter; the clock and
the time zone are fixed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dynoform.api import dynos as dy
from dynoform.api.dyno import EXEC
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import Condition, Formation, FormationStatus
from dynoform.cli import render
from dynoform.cli.commands.ps import redundancy_verdict
from dynoform.cli.grammar import DynoRef
from tests.factories import make_formation

NOW = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)
CATALOG = Catalog()
FORMATION = make_formation(
    processes={
        "web": {"command": "bundle exec puma -p $PORT", "quantity": 3, "size": "standard-2x"},
        "worker": {"command": "bundle exec sidekiq", "quantity": 1},
    }
)
READY = [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-21T19:00:00Z"}]


def pod(
    name: str,
    ptype: str = "web",
    created: str = "2026-11-21T18:59:50Z",
    phase: str = "Running",
    conditions: list[dict[str, Any]] | None = None,
    node: str | None = "kwok-zone-a-1",
    **extra: Any,
) -> dict[str, Any]:
    labels = {"dyno.dev/formation": "shop", "dyno.dev/size": "standard-2x"}
    labels |= extra.pop("labels", {"dyno.dev/process-type": ptype})
    obj: dict[str, Any] = {
        "metadata": {"name": name, "creationTimestamp": created, "labels": labels},
        "spec": {
            "containers": [{"command": ["/bin/sh", "-c", f"run {ptype}"]}],
            **({"nodeName": node} if node else {}),
        },
        "status": {"phase": phase, "conditions": READY if conditions is None else conditions},
    }
    for key, value in extra.items():
        obj["metadata" if key in ("deletionTimestamp", "ownerReferences") else "status"][key] = (
            value
        )
    return obj


ZONES = {"kwok-zone-a-1": "zone-a", "kwok-zone-b-1": "zone-b"}


def test_dynos_are_numbered_by_age_per_type_oldest_first() -> None:
    pods = [
        pod("shop-web-x-ccc", created="2026-11-21T19:00:02Z"),
        pod("shop-web-x-aaa", created="2026-11-21T19:00:01Z"),
        pod("shop-worker-y-zzz", "worker", created="2026-11-21T18:00:00Z"),
        pod("shop-web-x-bbb", created="2026-11-21T19:00:01Z"),  # same second: by name
    ]
    names = [(d.name, d.pod) for d in dy.from_pods(pods, ZONES)]
    assert names == [
        ("web.1", "shop-web-x-aaa"),
        ("web.2", "shop-web-x-bbb"),
        ("web.3", "shop-web-x-ccc"),
        ("worker.1", "shop-worker-y-zzz"),
    ]


def test_terminating_pods_are_numbered_after_the_live_ones() -> None:
    pods = [
        pod("old", created="2026-11-21T10:00:00Z", deletionTimestamp="2026-11-21T19:00:30Z"),
        pod("new", created="2026-11-21T19:00:00Z"),
    ]
    assert [(d.name, d.pod, d.state) for d in dy.from_pods(pods, ZONES)] == [
        ("web.1", "new", "up"),
        ("web.2", "old", "down"),
    ]


def test_one_off_dynos_keep_their_run_name_and_come_first() -> None:
    pods = [
        pod("shop-web-a"),
        pod(
            "shop-run-3-abcde",
            labels={"dyno.dev/one-off": "run.3"},
            ownerReferences=[{"kind": "Job", "name": "shop-run-3"}],
        ),
    ]
    first = dy.from_pods(pods, ZONES)[0]
    assert (first.name, first.type, first.number, first.job) == ("run.3", "run", 3, "shop-run-3")


WAITING = {"state": {"waiting": {"reason": "CrashLoopBackOff"}}}
NO_IMAGE = {"state": {"waiting": {"reason": "ImagePullBackOff"}}}
NOT_READY = [{"type": "Ready", "status": "False"}]
STATES = [
    ("a ready running pod is up", {}, "up"),
    ("a running pod not ready yet is starting", {"conditions": NOT_READY}, "starting"),
    ("a pending pod is starting", {"phase": "Pending", "conditions": []}, "starting"),
    ("a pod in CrashLoopBackOff is crashed", {"containerStatuses": [WAITING]}, "crashed"),
    ("a pod without its image is crashed", {"containerStatuses": [NO_IMAGE]}, "crashed"),
    ("a failed pod is crashed", {"phase": "Failed"}, "crashed"),
    ("a finished pod is down", {"phase": "Succeeded"}, "down"),
    ("a terminating pod is down", {"deletionTimestamp": "2026-11-21T19:00:30Z"}, "down"),
]


@pytest.mark.parametrize(("case", "fields", "state"), STATES, ids=[s[0] for s in STATES])
def test_heroku_states_come_from_the_pod(case: str, fields: dict[str, Any], state: str) -> None:
    assert dy.state(pod("p", **fields)) == state


def test_since_is_when_the_dyno_entered_its_state() -> None:
    up = pod("p")
    assert dy.updated_at(up, "up") == datetime(2026, 11, 21, 19, 0, 0, tzinfo=UTC)
    crashed = pod(
        "p",
        containerStatuses=[
            {**WAITING, "lastState": {"terminated": {"finishedAt": "2026-11-21T20:00:00Z"}}}
        ],
    )
    assert dy.updated_at(crashed, "crashed") == datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
    starting = pod("p", phase="Pending", conditions=[])
    assert dy.updated_at(starting, "starting") == datetime(2026, 11, 21, 18, 59, 50, tzinfo=UTC)


def test_the_zone_comes_from_the_pod_or_else_from_its_node() -> None:
    labelled = pod("a", labels={"dyno.dev/process-type": "web", dy.ZONE_LABEL: "zone-c"})
    unlabelled = pod("b", node="kwok-zone-b-1")
    unscheduled = pod("c", node=None, phase="Pending", conditions=[])
    assert dy.unzoned_nodes([labelled, unlabelled, unscheduled]) == {"kwok-zone-b-1"}
    found = {
        d.pod: (d.node, d.zone) for d in dy.from_pods([labelled, unlabelled, unscheduled], ZONES)
    }
    assert found == {
        "a": ("kwok-zone-a-1", "zone-c"),
        "b": ("kwok-zone-b-1", "zone-b"),
        "c": (None, None),
    }


def test_find_picks_a_type_or_one_dyno() -> None:
    dynos = dy.from_pods(
        [pod("a", created="2026-11-21T01:00:00Z"), pod("b"), pod("w", "worker")], ZONES
    )
    assert [d.pod for d in dy.find(dynos, DynoRef("web"))] == ["a", "b"]
    assert [d.pod for d in dy.find(dynos, DynoRef("web", 2))] == ["b"]
    assert dy.find(dynos, DynoRef("web", 3)) == []


AGO = [
    (timedelta(seconds=5), " (~ 5s ago)"),
    (timedelta(seconds=59), " (~ 59s ago)"),
    (timedelta(minutes=5, seconds=59), " (~ 5m ago)"),
    (timedelta(hours=8, minutes=59), " (~ 8h ago)"),
    (timedelta(hours=24, minutes=59), " (~ 24h ago)"),
    (timedelta(hours=25), ""),
]


@pytest.mark.parametrize(("elapsed", "text"), AGO)
def test_ago_is_herokus_seconds_minutes_hours_then_nothing(elapsed: timedelta, text: str) -> None:
    assert render.ago(NOW - elapsed, NOW) == text


def test_since_prints_herokus_timestamp_in_the_given_time_zone() -> None:
    when = datetime(2026, 11, 21, 19, 0, 0, tzinfo=UTC)
    assert render.since(when, NOW, UTC) == "2026/11/21 19:00:00 +0000 (~ 8h ago)"
    cet = timezone(timedelta(hours=1))
    assert render.since(when, NOW, cet) == "2026/11/21 20:00:00 +0100 (~ 8h ago)"


def test_ps_prints_herokus_layout_with_zone_and_node() -> None:
    pods = [
        pod("shop-web-1", created="2026-11-21T18:00:00Z"),
        pod("shop-web-2", node="kwok-zone-b-1"),
        pod("shop-worker-1", "worker", phase="Pending", conditions=[], node=None),
        pod(
            "shop-run-1-x",
            "migrate",  # the one-off's command: `run migrate`
            labels={"dyno.dev/one-off": "run.1"},
            created="2026-11-22T02:59:00Z",
            conditions=[
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-22T02:59:30Z"}
            ],
        ),
    ]
    text = render.ps(dy.from_pods(pods, ZONES), FORMATION, CATALOG, NOW, UTC)
    assert text == (
        "=== run: one-off processes (1)\n"
        "\n"
        "run.1 (Standard-2X): up 2026/11/22 02:59:30 +0000 (~ 30s ago) in zone-a on "
        "kwok-zone-a-1: run migrate\n"
        "\n"
        "=== web (Standard-2X): bundle exec puma -p $PORT (2)\n"
        "\n"
        "web.1: up 2026/11/21 19:00:00 +0000 (~ 8h ago) in zone-a on kwok-zone-a-1\n"
        "web.2: up 2026/11/21 19:00:00 +0000 (~ 8h ago) in zone-b on kwok-zone-b-1\n"
        "\n"
        "=== worker (Standard-1X): bundle exec sidekiq (1)\n"
        "\n"
        "worker.1: starting 2026/11/21 18:59:50 +0000 (~ 8h ago)\n"
    )


def test_a_type_no_longer_in_the_formation_shows_what_its_pods_run() -> None:
    text = render.ps(dy.from_pods([pod("gone", "cron")], ZONES), FORMATION, CATALOG, NOW, UTC)
    assert text.startswith("=== cron (Standard-2X): run cron (1)\n")


def test_ps_json_has_herokus_fields_and_where_each_dyno_runs() -> None:
    dynos = dy.from_pods([pod("shop-web-1")], ZONES)
    assert json.loads(render.ps_json(dynos)) == [
        {
            "name": "web.1",
            "type": "web",
            "number": 1,
            "state": "up",
            "updated_at": "2026-11-21T19:00:00Z",
            "command": "run web",
            "size": "standard-2x",
            "pod": "shop-web-1",
            "node": "kwok-zone-a-1",
            "zone": "zone-a",
            "job": None,
            "scheduled": None,
            "restarts": 0,
        }
    ]


def test_a_dyno_restarted_in_place_says_how_often() -> None:
    # The kubelet restarted the killed worker: the pod stays, its container count goes up, and
    # the dyno is up again since the restart (Ready's last transition).
    again = [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-22T02:59:57Z"}]
    worker = pod(
        "shop-worker-1", "worker", conditions=again, containerStatuses=[{"restartCount": 2}]
    )
    (dyno,) = dy.from_pods([worker], ZONES)
    assert dyno.restarts == 2
    lines = render.ps([dyno], FORMATION, CATALOG, NOW, UTC).splitlines()
    assert lines[2] == (
        "worker.1: up 2026/11/22 02:59:57 +0000 (~ 3s ago) in zone-a on kwok-zone-a-1, 2 restarts"
    )


def _with_conditions(*conds: tuple[str, str, str]) -> Formation:
    f = make_formation(processes={"web": {"command": "a", "quantity": 3}})
    status = FormationStatus(
        conditions=[
            Condition(type=t, status=s, reason="R", message=m, last_transition_time="t")
            for t, s, m in conds
        ]
    )
    return f.model_copy(update={"status": status})


def test_ps_ends_with_the_operators_redundancy_verdict() -> None:
    ok = _with_conditions(
        ("ZoneRedundant", "True", "Types with 2 or more dynos run in at least 2 zones.")
    )
    assert (
        redundancy_verdict(ok) == "Redundancy: Types with 2 or more dynos run in at least 2 zones."
    )
    bad = _with_conditions(
        ("ZoneRedundant", "False", "web: 3 of 3 dynos in zone-a"),
        ("RedundancyAdvised", "False", "Run at least two worker dynos for redundancy."),
    )
    assert redundancy_verdict(bad) == (
        "Redundancy: NOT spread across zones: web: 3 of 3 dynos in zone-a "
        "Run at least two worker dynos for redundancy."
    )
    assert "not verified yet" in redundancy_verdict(make_formation())


def test_a_dyno_shows_its_procfile_line_however_the_shell_runs_it() -> None:
    exec_pod = pod("one", "run")
    exec_pod["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", EXEC, "rake db:migrate"]
    assert dy.command_of(exec_pod) == "rake db:migrate"
    assert dy.command_of(pod("two", "run")) == "run run"  # a compound line: `/bin/sh -c LINE`
