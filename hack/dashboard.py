"""The Grafana dashboard of the operator's metrics, and a picture of it from a real scrape.

`PANELS` is the dashboard, once: each panel's PromQL (what Grafana runs) beside the same
figure computed from raw scrapes (what the picture draws, there being no Prometheus or Grafana
here). `python hack/dashboard.py` (`make dashboard`) writes `docs/grafana-dashboard.json` and,
after running a scenario against a fresh local cluster (Formations created, scaled, refused at
admission, broken by a failing release, repaired, deleted) while scraping the operator's
/metrics every second, `docs/images/dashboard.png`. `--json-only` writes only the JSON (a unit
test checks that the committed one is what PANELS makes).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcluster.scrape import Scrape

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_JSON = ROOT / "docs" / "grafana-dashboard.json"
PICTURE = ROOT / "docs" / "images" / "dashboard.png"
WINDOW = 5  # scrapes a rate is taken over in the picture (Grafana: the range in the PromQL)

# One line of a panel: its legend, its PromQL, and the figure from scrapes (i: the scrape's index).
Series = tuple[str, str, Callable[[Sequence[Scrape], int], float | None]]


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    series: tuple[Series, ...]


def _rate(name: str, **labels: str) -> Callable[[Sequence[Scrape], int], float | None]:
    def figure(scrapes: Sequence[Scrape], i: int) -> float | None:
        if i < WINDOW:
            return None
        old, new = scrapes[i - WINDOW], scrapes[i]
        return max(0.0, new.total(name, **labels) - old.total(name, **labels)) / (new.at - old.at)

    return figure


def _gauge(name: str, **labels: str) -> Callable[[Sequence[Scrape], int], float | None]:
    return lambda scrapes, i: scrapes[i].total(name, **labels)


def _since_start(name: str, **labels: str) -> Callable[[Sequence[Scrape], int], float | None]:
    return lambda scrapes, i: scrapes[i].total(name, **labels) - scrapes[0].total(name, **labels)


def _quantile(q: float, name: str) -> Callable[[Sequence[Scrape], int], float | None]:
    """histogram_quantile over the buckets' increase in the window, as Prometheus computes it."""

    def figure(scrapes: Sequence[Scrape], i: int) -> float | None:
        if i < WINDOW:
            return None
        old, new = scrapes[i - WINDOW], scrapes[i]
        bucket = f"{name}_bucket"
        les = sorted(new.label_values(bucket, "le"), key=float)  # "0.005", ..., "+Inf"
        counts = [new.total(bucket, le=le) - old.total(bucket, le=le) for le in les]
        return _interpolate(q, [float(le) for le in les], counts)

    return figure


def _interpolate(q: float, edges: list[float], counts: list[float]) -> float | None:
    if not counts or counts[-1] <= 0:
        return None
    rank, low, below = q * counts[-1], 0.0, 0.0
    for edge, count in zip(edges, counts, strict=True):
        if count >= rank:
            if edge == float("inf"):
                return low
            return low + (edge - low) * (rank - below) / max(count - below, 1e-12)
        low, below = edge, count
    return low


PANELS = (
    Panel(
        "Formations by Ready",
        "formations",
        tuple(
            (
                f"Ready={ready}",
                f'sum(max by (namespace, reason) (dynoform_formations{{ready="{ready}"}}))',
                _gauge("dynoform_formations", ready=ready),
            )
            for ready in ("True", "False")
        ),
    ),
    Panel(
        "Dynos desired and ready",
        "dynos",
        tuple(
            (
                what,
                f"sum(max by (namespace) (dynoform_dynos_{what}))",
                _gauge(f"dynoform_dynos_{what}"),
            )
            for what in ("desired", "ready")
        ),
    ),
    Panel(
        "Reconciles by result",
        "per second",
        tuple(
            (
                result,
                f'sum(rate(dynoform_reconcile_duration_seconds_count{{result="{result}"}}[1m]))',
                _rate("dynoform_reconcile_duration_seconds_count", result=result),
            )
            for result in ("success", "error")
        ),
    ),
    Panel(
        "Reconcile duration",
        "seconds",
        tuple(
            (
                f"p{int(q * 100)}",
                f"histogram_quantile({q}, sum by (le) "
                "(rate(dynoform_reconcile_duration_seconds_bucket[1m])))",
                _quantile(q, "dynoform_reconcile_duration_seconds"),
            )
            for q in (0.5, 0.99)
        ),
    ),
    Panel(
        "Work queue",
        "keys / seconds",
        (
            ("depth", "max(dynoform_workqueue_depth)", _gauge("dynoform_workqueue_depth")),
            (
                "wait p99 (s)",
                "histogram_quantile(0.99, sum by (le) "
                "(rate(dynoform_workqueue_wait_seconds_bucket[1m])))",
                _quantile(0.99, "dynoform_workqueue_wait_seconds"),
            ),
        ),
    ),
    Panel(
        "API requests by verb",
        "per second",
        tuple(
            (
                verb,
                f'sum(rate(dynoform_api_requests_total{{verb="{verb}"}}[1m]))',
                _rate("dynoform_api_requests_total", verb=verb),
            )
            for verb in ("patch", "create", "delete", "list", "watch")
        ),
    ),
    Panel(
        "Releases and refusals",
        "count",
        (
            (
                "releases failed",
                'sum(increase(dynoform_releases_total{result="failed"}[1h]))',
                _since_start("dynoform_releases_total", result="failed"),
            ),
            (
                "releases succeeded",
                'sum(increase(dynoform_releases_total{result="succeeded"}[1h]))',
                _since_start("dynoform_releases_total", result="succeeded"),
            ),
            (
                "refused at admission",
                "sum(increase(dynoform_admission_refusals_total[1h]))",
                _since_start("dynoform_admission_refusals_total"),
            ),
        ),
    ),
    Panel(
        "Operator memory (RSS)",
        "MB",
        (
            (
                "RSS",
                'max(process_resident_memory_bytes{job=~".*dynoform.*"}) / 1e6',
                lambda scrapes, i: scrapes[i].total("process_resident_memory_bytes") / 1e6,
            ),
        ),
    ),
)


def grafana_json() -> dict[str, Any]:
    """The dashboard as Grafana imports it: one timeseries panel per Panel, two a row."""
    panels = []
    for n, panel in enumerate(PANELS):
        panels.append(
            {
                "id": n + 1,
                "type": "timeseries",
                "title": panel.title,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (n % 2), "y": 8 * (n // 2)},
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "fieldConfig": {"defaults": {"custom": {"axisLabel": panel.unit}}},
                "targets": [
                    {"refId": chr(65 + k), "expr": expr, "legendFormat": legend}
                    for k, (legend, expr, _) in enumerate(panel.series)
                ],
            }
        )
    return {
        "title": "dynoform",
        "uid": "dynoform",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]
        },
        "panels": panels,
    }


def render(scrapes: Sequence[Scrape], path: Path) -> None:
    """The panels, drawn from the scrapes with matplotlib, in the dashboard's layout."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (len(PANELS) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(13, 3.0 * rows), sharex=True)
    start = scrapes[0].at
    xs = [s.at - start for s in scrapes]
    for ax, panel in zip(axes.flat, PANELS, strict=False):
        for legend, _, figure in panel.series:
            ys = [figure(scrapes, i) for i in range(len(scrapes))]
            ax.plot(xs, [float("nan") if y is None else y for y in ys], label=legend)
        ax.set_title(panel.title, fontsize=10, loc="left")
        ax.set_ylabel(panel.unit, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("seconds", fontsize=8)
    fig.suptitle("dynoform: the operator's /metrics, scraped every second", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


def main(argv: list[str]) -> int:
    DASHBOARD_JSON.write_text(json.dumps(grafana_json(), indent=2) + "\n")
    print(f"dashboard: wrote {DASHBOARD_JSON}")
    if "--json-only" in argv:
        return 0
    from dashboard_scenario import run_scenario

    with tempfile.TemporaryDirectory(prefix="dynoform-dashboard-") as tmp:
        scrapes = run_scenario(Path(tmp))
    render(scrapes, PICTURE)
    print(f"dashboard: drew {len(scrapes)} scrapes into {PICTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
