"""Writes counted at the API server: none when in sync, none on restart; deletes need no operator.

Run after test_operator.py's behaviours, against the same operator (resync every 2 s here).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightkube import Client

from dynoform.runtime.resources import RESOURCES
from localcluster.audit import AuditLog
from localcluster.operator import OPERATOR_USER, Operator
from tests.integration.test_operator import create, wait_ready
from tests.kubehelp import Deployment, eventually, names

CronJob = RESOURCES["CronJob"]


def settled(audit: AuditLog, operator: Operator, namespace: str) -> None:
    """Wait until a whole resync pass of the operator makes no write in `namespace`."""

    def quiet_pass() -> bool:
        mark = audit.mark()
        operator.wait_for_resyncs(1)
        return not audit.writes_since(mark, OPERATOR_USER, namespace)

    eventually(quiet_pass, timeout=60, interval=0, what="the operator to stop writing")


def test_a_converged_formation_costs_no_write_across_resyncs(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    settled(audit, operator, namespace)
    mark = audit.mark()
    operator.wait_for_resyncs(3)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]


def test_a_scale_costs_exactly_the_writes_it_needs(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    settled(audit, operator, namespace)
    mark = audit.mark()
    installed.kubectl(
        "patch",
        "-n",
        namespace,
        "formation/shop",
        "--type=merge",
        "-p",
        '{"spec":{"processes":{"worker":{"quantity":3}}}}',
    )
    wait_ready(kube, namespace)
    settled(audit, operator, namespace)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    children = {
        (w.verb, w.resource, w.name)
        for w in writes
        if w.resource != "formations/status" and w.resource != "events"
    }
    # worker goes from 1 to 3 dynos: its Deployment changes and it now earns a PDB.
    assert children == {
        ("patch", "deployments", "shop-worker"),
        ("patch", "poddisruptionbudgets", "shop-worker"),
    }
    assert [(w.verb, w.code) for w in writes if w.resource == "events"] == [("create", 201)]


def test_restarting_the_operator_costs_no_write(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    settled(audit, operator, namespace)
    operator.stop()
    mark = audit.mark()
    operator.start()
    eventually(lambda: "Caches synced" in operator.log_since_start(), what="caches synced")
    operator.wait_for_resyncs(2)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]


def test_a_formation_deleted_while_the_operator_is_down_still_takes_its_children(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace)
    wait_ready(kube, namespace)
    operator.stop()
    try:
        installed.kubectl("delete", "-n", namespace, "formation/shop", "--timeout=20s")
        eventually(
            lambda: not names(kube, Deployment, namespace),
            timeout=30,
            what="children garbage collected with no operator running",
        )
    finally:
        operator.start()


def test_a_converged_formation_with_scheduled_jobs_costs_no_write_across_resyncs(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    # Every kind of schedule; a yearly one never runs during the test, so nothing changes.
    jobs = {
        "nightly": {"command": "rake report", "schedule": "every day at 01:30"},
        "sweep": {"command": "rake sweep", "schedule": "0 0 1 1 *", "size": "standard-2x"},
        "yearly": {"command": "rake close", "schedule": "@yearly", "concurrencyPolicy": "Allow"},
    }
    create(installed, namespace, jobs=jobs)
    wait_ready(kube, namespace)
    eventually(lambda: len(names(kube, CronJob, namespace)) == 3, what="three CronJobs")
    settled(audit, operator, namespace)
    mark = audit.mark()
    operator.wait_for_resyncs(3)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]


def test_a_formation_in_a_scale_window_costs_no_write_across_resyncs(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    now = datetime.now(UTC)
    hhmm = "%H:%M"
    in_force = {
        "from": (now - timedelta(hours=1)).strftime(hhmm),
        "to": (now + timedelta(hours=1)).strftime(hhmm),
        "quantities": {"web": 1, "worker": 0},
    }
    later = {
        "from": (now + timedelta(hours=3)).strftime(hhmm),
        "to": (now + timedelta(hours=4)).strftime(hhmm),
        "timeZone": "America/New_York",
        "quantities": {"worker": 2},
    }
    create(installed, namespace, scaleWindows={"day": in_force, "later": later})
    f = wait_ready(kube, namespace)
    assert f["status"]["scaleWindow"]["name"] == "day"
    settled(audit, operator, namespace)
    mark = audit.mark()
    operator.wait_for_resyncs(3)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]
    assert names(kube, Deployment, namespace) == {"shop-web", "shop-worker", "shop-clock"}


def test_a_converged_eco_formation_costs_no_write_across_resyncs(
    operator, installed, kube: Client, audit: AuditLog, namespace: str
) -> None:
    # Without the KEDA HTTP add-on: web runs awake and its Sleeping condition says why; that
    # verdict, once written, is not written again. (With the add-on, awake and asleep:
    # tests/integration/test_eco_sleep.py.)
    eco = {
        "web": {"command": "node server.js", "size": "eco"},
        "worker": {"command": "node worker.js", "quantity": 1, "size": "eco"},
    }
    create(installed, namespace, processes=eco)
    wait_ready(kube, namespace)
    settled(audit, operator, namespace)
    mark = audit.mark()
    operator.wait_for_resyncs(3)
    writes = audit.writes_since(mark, OPERATOR_USER, namespace)
    assert writes == [], [str(w) for w in writes]
