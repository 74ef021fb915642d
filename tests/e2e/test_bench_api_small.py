"""The Platform API benchmark (bench.api) at a small N on the session's cluster, so that
`make bench` keeps producing its figures. Not a timed test: every figure is produced and sane."""

from __future__ import annotations

import asyncio

import yaml

from bench import api, workload
from bench.report import API_FIGURES
from bench.scenarios import Figures


def test_the_api_benchmark_measures_the_api_beside_the_kubernetes_api(installed, namespace) -> None:
    n = 10
    docs = [workload.formation(name, namespace) for name in workload.names(n)]
    installed.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))
    figures = Figures()
    asyncio.run(api.scenario(installed.kubectl, installed.kubeconfig, namespace, n, 40, figures))
    for name in API_FIGURES:
        assert figures.values[f"{name}_rps_n{n}"] > 0, name
        assert figures.values[f"{name}_p99_ms_n{n}"] > 0, name
    quantities = {
        f["metadata"]["name"]: f["spec"]["processes"]["web"]["quantity"]
        for f in yaml.safe_load(
            installed.kubectl("get", "formations", "-n", namespace, "-o", "yaml").stdout
        )["items"]
    }
    assert set(quantities.values()) <= {2, 3}
    assert len(quantities) == n
