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


def entries(values: dict[str, float], machine: str, sizes: list[int], target: int) -> list[Entry]:
    out = [Entry("machine", machine, "", better="n/a")]
    out += [
        Entry(f"admission_writes_seconds_n{n}", values[f"admission_writes_seconds_n{n}"], "s")
        for n in _writes(values)
    ]
    out += [
        Entry(f"no_admission_writes_seconds_n{n}", values[f"no_admission_writes_seconds_n{n}"], "s")
        for n in _writes(values)
    ]
    out.append(Entry("admission_cost_ratio", values["admission_cost_ratio"], "ratio"))
    for n in sizes:
        out += _per_size(values, n, n == target)
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
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
    return out + api_entries(values, target)


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


def _writes(values: dict[str, float]) -> list[int]:
    prefix = "admission_writes_seconds_n"
    return [int(k[len(prefix) :]) for k in values if k.startswith(prefix)]


def _per_size(values: dict[str, float], n: int, target: bool) -> list[Entry]:
    spread = [
        Entry(f"convergence_ratio_{m}_n{n}", values[f"convergence_ratio_{m}_n{n}"], "ratio")
        for m in ("min", "max")
        if f"convergence_ratio_{m}_n{n}" in values
    ]
    return [
        Entry(f"baseline_seconds_n{n}", values[f"baseline_seconds_n{n}"], "s"),
        Entry(f"operator_seconds_n{n}", values[f"operator_seconds_n{n}"], "s"),
        Entry(f"formations_created_seconds_n{n}", values[f"formations_created_seconds_n{n}"], "s"),
        Entry(f"operator_cpu_percent_n{n}", values[f"operator_cpu_percent_n{n}"], "% of a core"),
        Entry(
            f"convergence_ratio_n{n}",
            values[f"convergence_ratio_n{n}"],
            "ratio",
            1.5 if target else None,
            1.2 if target else None,
        ),
        *spread,
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
            150 if target else None,
            100 if target else None,
        ),
    ]


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
    """Two panels over N: convergence (dynoform beside the baseline) and the operator's RSS."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    left.plot(sizes, [values[f"operator_seconds_n{n}"] for n in sizes], "o-", label="dynoform")
    left.plot(
        sizes,
        [values[f"baseline_seconds_n{n}"] for n in sizes],
        "s--",
        label="baseline: children applied directly",
    )
    left.set_xlabel("Formations created at once (N)")
    left.set_ylabel("seconds until every child is in place")
    left.set_title("Convergence against the API server's own limit")
    left.legend()
    rss = [values[f"operator_rss_mib_n{n}"] * MB_PER_MIB for n in sizes]
    right.plot(sizes, rss, "o-", color="tab:green")
    right.set_xlabel("Formations present (N)")
    right.set_ylabel("operator RSS (MB)")
    right.set_title("The operator's memory")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(out: Path, values: dict[str, float], machine: str, sizes: list[int], target: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = entries(values, machine, sizes, target)
    (out / "results.json").write_text(json.dumps([asdict(e) for e in rows], indent=2) + "\n")
    (out / "RESULTS.md").write_text(markdown(rows))
    plot(values, sizes, out / "convergence.png")
