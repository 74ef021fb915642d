"""Admission's cost: the same Formation writes with the admission policies, and with none.

Run before the operator starts (nothing reconciles the Formations), in namespaces of their own:
N creates at the operator's concurrency with every policy bound, and N with the policies'
bindings removed (the API server admits everything), then the bindings back and in force. A
first round, not counted, warms the API server up (a new one is slower for its first thousand
writes, whichever comes first); then the two alternate, ROUNDS times each, and the medians are
the figures.
"""

from __future__ import annotations

import statistics
import time

from lightkube import AsyncClient

from bench import workload
from bench.measure import Kubectl
from bench.scenarios import CONCURRENCY, Figures, bounded, delete_namespace, fresh_namespace
from dynoform.api.admission import CATALOG_POLICY, NAMES_POLICY, STAMP_POLICY
from dynoform.runtime.resources import FormationResource
from localcluster.operator import ROOT, wait_for_admission

BINDINGS = [
    f"validatingadmissionpolicybinding/{NAMES_POLICY}",
    f"validatingadmissionpolicybinding/{CATALOG_POLICY}",
    f"mutatingadmissionpolicybinding/{STAMP_POLICY}",
]
ROUNDS = 2  # each way, alternating


async def _creates(client: AsyncClient, n: int, ns: str) -> float:
    await fresh_namespace(client, ns)
    bodies = [workload.formation(name, ns) for name in workload.names(n)]
    start = time.monotonic()
    await bounded(CONCURRENCY, [client.create(FormationResource.from_dict(b)) for b in bodies])
    seconds = time.monotonic() - start
    await delete_namespace(client, ns)
    return seconds


async def cost(client: AsyncClient, run: Kubectl, n: int, figures: Figures) -> None:
    def bind() -> None:
        for name in ("crds/formations.dyno.dev.policy.yaml", "deploy/stamp-policy.yaml"):
            run("apply", "--server-side", "-f", str(ROOT / name))
        wait_for_admission(run)

    await _creates(client, n, "admission-warm-up")
    on, off = [], []
    for i in range(ROUNDS):
        on.append(await _creates(client, n, f"admission-on-{i}"))
        run("delete", *BINDINGS)
        off.append(await _creates(client, n, f"admission-off-{i}"))
        bind()
    with_policies, without = statistics.median(on), statistics.median(off)
    figures.put(f"admission_writes_seconds_n{n}", with_policies)
    figures.put(f"no_admission_writes_seconds_n{n}", without)
    figures.put("admission_cost_ratio", with_policies / without)
