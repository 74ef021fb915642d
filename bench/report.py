"""Benchmark figures -> bench/results.json (for scripts), bench/RESULTS.md and a PNG plot.

Each entry: {"name", "value", "unit", "target", "goal", "better"}; the first entry describes
the machine. Targets come from the benchmark issue; a figure with no target is reported only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the headless backend

MB_PER_MIB = 1.048576


@dataclass(frozen=True)
class Entry:
    name: str
    value: float | str
    unit: str
    target: float | None = None
    goal: float | None = None
    better: str = "lower"


def entries(values: dict[str, float], machine: str, sizes: list[int]) -> list[Entry]:
    out = [Entry("machine", machine, "", better="n/a")]
    big = max(sizes)
    for n in sizes:
        last = n == big
        out += [
            Entry(f"baseline_seconds_n{n}", values[f"baseline_seconds_n{n}"], "s"),
            Entry(f"operator_seconds_n{n}", values[f"operator_seconds_n{n}"], "s"),
            Entry(
                f"formations_created_seconds_n{n}",
                values[f"formations_created_seconds_n{n}"],
                "s",
            ),
            Entry(
                f"operator_cpu_percent_n{n}",
                values[f"operator_cpu_percent_n{n}"],
                "% of a core",
            ),
            Entry(
                f"convergence_ratio_n{n}",
                values[f"convergence_ratio_n{n}"],
                "ratio",
                1.5 if last else None,
                1.2 if last else None,
            ),
            Entry(f"pods_running_seconds_n{n}", values[f"pods_running_seconds_n{n}"], "s"),
            Entry(
                f"admission_stamped_fraction_n{n}",
                values[f"admission_stamped_fraction_n{n}"],
                "fraction",
                1,
                1,
                "higher",
            ),
            Entry(
                f"operator_rss_mb_n{n}",
                values[f"operator_rss_mib_n{n}"] * MB_PER_MIB,
                "MB",
                150 if last else None,
                100 if last else None,
            ),
        ]
    if len(sizes) > 1:
        small, large = min(sizes), big
        slope = (values[f"operator_rss_mib_n{large}"] - values[f"operator_rss_mib_n{small}"]) / (
            large - small
        )
        out.append(Entry("operator_rss_kb_per_formation", slope * MB_PER_MIB * 1000, "KB"))
    out += [
        Entry("scale_latency_p50_ms_converging", values["scale_latency_p50_ms_converging"], "ms"),
        Entry("scale_latency_p99_ms_converging", values["scale_latency_p99_ms_converging"], "ms"),
        Entry("settled_seconds", values["settled_seconds"], "s"),
        Entry("scale_patch_p50_ms", values["scale_patch_p50_ms"], "ms"),
        Entry("scale_latency_p50_ms", values["scale_latency_p50_ms"], "ms"),
        Entry("scale_latency_p99_ms", values["scale_latency_p99_ms"], "ms", 250, 100),
        Entry("idle_writes", values["idle_writes"], "requests", 0, 0),
        Entry("idle_cpu_percent", values["idle_cpu_percent"], "% of a core"),
        Entry("restart_seconds", values["restart_seconds"], "s", 30, None),
        Entry("restart_writes", values["restart_writes"], "requests", 0, 0),
        Entry("restart_formations", values["restart_formations"], "formations", better="n/a"),
    ]
    return out + api_entries(values, big)


API_FIGURES = (
    "api_formation_info",
    "direct_formation_get",
    "api_batch_update",
    "direct_formation_patch",
)


def api_entries(values: dict[str, float], n: int) -> list[Entry]:
    """The Platform API's figures beside the direct ones (bench.api), when they were measured."""
    out = []
    for figure in API_FIGURES:
        if f"{figure}_rps_n{n}" in values:
            out.append(
                Entry(
                    f"{figure}_rps_n{n}",
                    values[f"{figure}_rps_n{n}"],
                    "requests/s",
                    better="higher",
                )
            )
            out.append(Entry(f"{figure}_p99_ms_n{n}", values[f"{figure}_p99_ms_n{n}"], "ms"))
    return out


def verdict(e: Entry) -> str:
    if e.target is None or isinstance(e.value, str):
        return ""
    meets = e.value <= e.target if e.better == "lower" else e.value >= e.target
    goal = e.goal is not None and (e.value <= e.goal if e.better == "lower" else e.value >= e.goal)
    return "goal met" if goal else ("target met" if meets else "**missed**")


def markdown(rows: list[Entry]) -> str:
    lines = [
        f"Machine: {rows[0].value}",
        "",
        "| figure | value | unit | target | goal | |",
        "|---|---|---|---|---|---|",
    ]
    for e in rows[1:]:
        value = f"{e.value:.3g}" if isinstance(e.value, float) else str(e.value)
        t, g = _opt(e.target, e.better), _opt(e.goal, e.better)
        lines.append(f"| {e.name} | {value} | {e.unit} | {t} | {g} | {verdict(e)} |")
    return "\n".join(lines) + "\n"


def _opt(x: float | None, better: str) -> str:
    return "" if x is None else f"{'>=' if better == 'higher' else '<='} {x:g}"


def plot(values: dict[str, float], sizes: list[int], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(sizes, [values[f"operator_seconds_n{n}"] for n in sizes], "o-", label="dynoform")
    ax.plot(
        sizes,
        [values[f"baseline_seconds_n{n}"] for n in sizes],
        "s--",
        label="baseline: children applied directly",
    )
    ax.set_xlabel("Formations created at once (N)")
    ax.set_ylabel("seconds until every child is in place")
    ax.set_title("Convergence against the API server's own limit")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(out: Path, values: dict[str, float], machine: str, sizes: list[int]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = entries(values, machine, sizes)
    (out / "results.json").write_text(json.dumps([asdict(e) for e in rows], indent=2) + "\n")
    (out / "RESULTS.md").write_text(markdown(rows))
    plot(values, sizes, out / "convergence.png")
