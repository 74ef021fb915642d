"""The scenario the dashboard's picture is drawn from: a fresh local cluster (kwok nodes only),
the operator from this checkout with its metrics on 127.0.0.1, and Formations created, scaled,
refused at admission, broken by a failing release, repaired and deleted, while a scraper reads
/metrics every second. Every step waits on what the API server says, never on a fixed sleep,
except the quiet stretches that show the figures settling.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from dynoform.runtime.resources import FormationResource as Formation
from localcluster.cluster import LocalCluster
from localcluster.operator import OPERATOR_USER, ROOT, Operator
from localcluster.processes import free_ports
from localcluster.readiness import wait_until
from localcluster.scrape import Scrape, scrape

NAMESPACES = {"shop": 12, "billing": 6}
FAILS = {"command": "exit 1"}  # failed by the local cluster's kwok stage for Job pods


class Scraper(threading.Thread):
    """Scrapes a /metrics URL every second until `done` is set."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.scrapes, self.done = url, list[Scrape](), threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.scrapes.append(scrape(self.url, at=time.monotonic()))


def run_scenario(state: Path) -> list[Scrape]:
    """The scrapes taken while the scenario ran on a fresh local cluster in `state`."""
    with LocalCluster(state / "cluster", real_node=False) as cluster:
        _install(cluster)
        # The default resync (300 s), as in a cluster: idle means no reconcile at all.
        op = Operator(
            str(cluster.kubeconfig_for(OPERATOR_USER)), state / "operator.log", resync=300.0
        )
        port = next(p for p in free_ports(2) if p != op.port)
        metrics = ("--metrics-port", str(port), "--metrics-address", "127.0.0.1")
        # The admission webhook on 127.0.0.1: its refusals are the ones the operator counts.
        op.extra_args = ("--webhook-port", "0", *metrics)
        op.start()
        reading = Scraper(f"http://127.0.0.1:{port}/metrics")
        reading.start()
        try:
            _steps(Client(KubeConfig.from_file(cluster.kubeconfig), field_manager="dashboard"))
        finally:
            reading.done.set()
            reading.join()
            op.stop()
    return reading.scrapes


def _install(cluster: LocalCluster) -> None:
    kubectl = [str(cluster.kubectl), "--kubeconfig", str(cluster.kubeconfig)]
    subprocess.run([*kubectl, "apply", "--server-side", "-f", str(ROOT / "crds")], check=True)
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "--timeout=60s",
         "crd/formations.dyno.dev", "crd/dynosizes.dyno.dev"],
        check=True,
    )  # fmt: skip
    subprocess.run([*kubectl, "apply", "-f", str(ROOT / "deploy" / "rbac.yaml")], check=True)


def _formation(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "Formation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "image": "registry.example/app:v1",
            "release": {"command": "bin/migrate"},
            "processes": {
                "web": {"command": "bin/web", "quantity": 2},
                "worker": {"command": "bin/worker", "quantity": 1},
            },
        },
    }


def _patch(kube: Client, namespace: str, name: str, spec: dict[str, Any]) -> None:
    kube.patch(Formation, name, {"spec": spec}, namespace=namespace, patch_type=PatchType.MERGE)


def _all_ready(kube: Client, want: int, what: str, timeout: float = 180.0) -> None:
    def pending() -> str | None:
        ready = 0
        for ns in NAMESPACES:
            for f in kube.list(Formation, namespace=ns):
                conditions = (f.get("status") or {}).get("conditions") or []
                ready += any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return None if ready == want else f"{ready} of {want} Formations Ready ({what})"

    wait_until({what: pending}, timeout, lambda: None)


def _steps(kube: Client) -> None:
    time.sleep(3)  # a quiet start: the baseline of every panel
    for ns, count in NAMESPACES.items():
        kube.create(Namespace(metadata=ObjectMeta(name=ns)))
        for n in range(count):
            kube.create(Formation.from_dict(_formation(f"app-{n}", ns)))
    total = sum(NAMESPACES.values())
    _all_ready(kube, total, "created")
    time.sleep(5)
    for n in range(6):  # scale some web types up
        _patch(
            kube, "shop", f"app-{n}", {"processes": {"web": {"command": "bin/web", "quantity": 5}}}
        )
    _all_ready(kube, total, "scaled")
    for n in range(3):  # sizes the catalog refuses at admission
        with contextlib.suppress(ApiError):
            _patch(
                kube,
                "billing",
                f"app-{n}",
                {"processes": {"web": {"command": "bin/web", "size": "huge-9x"}}},
            )
    for n in range(3):  # a release that fails: the Formation is not Ready, its dynos run on
        _patch(kube, "shop", f"app-{n}", {"image": "registry.example/app:v2", "release": FAILS})
    _all_ready(kube, total - 3, "broken")
    time.sleep(8)
    for n in range(2):  # fixed with the next image
        _patch(
            kube,
            "shop",
            f"app-{n}",
            {"image": "registry.example/app:v3", "release": {"command": "bin/migrate"}},
        )
    _all_ready(kube, total - 1, "repaired")
    time.sleep(5)
    for n in range(NAMESPACES["billing"]):
        kube.delete(Formation, f"app-{n}", namespace="billing")
    time.sleep(8)
