"""Status from observed Deployments: conditions, figures and transition times."""

from __future__ import annotations

import dataclasses
from typing import Any

from dynoform.api.conditions import find
from dynoform.core.status import Observed, Outcome, build_status
from tests.factories import make_formation

APPLIED = (True, "Applied", "ok")


def deployment(replicas: int, ready: int, generation: int = 1, observed: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": replicas,
            "availableReplicas": ready,
        },
    }


def test_ready_is_true_when_every_type_has_all_its_dynos_available() -> None:
    f = make_formation(processes={"web": {"command": "a", "quantity": 2}})
    st = build_status(f, Observed({"web": deployment(2, 2)}), Outcome(APPLIED, "t1"))
    ready = find(st.conditions, "Ready")
    assert ready is not None
    assert (ready.status, ready.reason) == ("True", "DynosAvailable")
    assert st.formation == "web=2:standard-1x"
    assert st.processes is not None
    assert st.processes["web"].available == 2
    assert st.observed_generation == 1


def test_ready_is_false_while_dynos_are_rolling_out_and_names_the_type() -> None:
    f = make_formation(processes={"web": {"command": "a", "quantity": 3}})
    st = build_status(f, Observed({"web": deployment(3, 1)}), Outcome(APPLIED, "t1"))
    ready = find(st.conditions, "Ready")
    assert ready is not None
    assert ready.status == "False"
    assert "web: 1/3 available" in ready.message


def test_ready_says_when_running_web_dynos_do_not_answer_on_their_port() -> None:
    f = make_formation(
        processes={
            "web": {"command": "a", "quantity": 2},
            "worker": {"command": "b", "quantity": 1},
        }
    )
    deployments = {"web": deployment(2, 0), "worker": deployment(1, 0)}
    seen = Observed(deployments, not_answering={"web": 2, "worker": 1})
    ready = find(
        build_status(
            f, dataclasses.replace(seen, deployments=deployments), Outcome(APPLIED, "t1")
        ).conditions,
        "Ready",
    )
    assert ready is not None
    assert ready.message == (
        "Waiting for dynos: web: 0/2 available (2 dynos run but do not answer on $PORT 5000 "
        "yet); worker: 0/1 available"  # a worker has no port: nothing to say of it
    )


def test_transition_time_moves_only_when_the_status_flips() -> None:
    f = make_formation(processes={"web": {"command": "a", "quantity": 1}})
    first = build_status(f, Observed({"web": deployment(1, 0)}), Outcome(APPLIED, "t1"))
    f2 = f.model_copy(update={"status": first})
    second = build_status(f2, Observed({"web": deployment(1, 0)}), Outcome(APPLIED, "t2"))
    assert second == first
    f3 = f.model_copy(update={"status": second})
    third = build_status(f3, Observed({"web": deployment(1, 1)}), Outcome(APPLIED, "t3"))
    ready = find(third.conditions, "Ready")
    assert ready is not None
    assert (ready.status, ready.last_transition_time) == ("True", "t3")


def test_a_spec_that_cannot_be_applied_keeps_the_last_figures_and_says_why() -> None:
    f = make_formation(processes={"web": {"command": "a", "quantity": 1}})
    good = build_status(f, Observed({"web": deployment(1, 1)}), Outcome(APPLIED, "t1"))
    f2 = f.model_copy(update={"status": good})
    bad = build_status(
        f2, Observed(), Outcome((False, "UnknownSize", "No such size as huge"), "t2")
    )
    assert bad.processes == good.processes
    reconciled = find(bad.conditions, "Reconciled")
    assert reconciled is not None
    assert (reconciled.status, reconciled.reason) == ("False", "UnknownSize")
    ready = find(bad.conditions, "Ready")
    assert ready is not None
    assert ready.status == "False"
