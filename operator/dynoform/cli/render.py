"""What the dyno CLI prints (pure; the clock and the time zone are passed in).

Layouts follow Heroku's CLI (heroku/cli src/commands/ps/*.ts and their unit tests) without the
colours: `=== header`, a blank line, the rows, a blank line. Times are Heroku's
`%Y/%m/%d %H:%M:%S %z (~ 8h ago)`, in the local time zone as Heroku prints them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from dynoform.api.dynos import Dyno
from dynoform.api.sizes import Catalog
from dynoform.api.units import cpu_text, memory_text, parse_cpu, parse_memory
from dynoform.api.v1alpha1 import Formation
from dynoform.api.windows import parse_instant
from dynoform.cli.grammar import ONE_OFF

APP = "⬢"  # Heroku marks app names with a hexagon.


def app_name(name: str) -> str:
    return f"{APP} {name}"


def ago(when: datetime, now: datetime) -> str:
    """Heroku's `(~ 5m ago)`: seconds under a minute, minutes under an hour, hours under 25."""
    seconds = int((now - when).total_seconds())
    if seconds < 60:
        return f" (~ {max(seconds, 0)}s ago)"
    if seconds < 3600:
        return f" (~ {seconds // 60}m ago)"
    if seconds < 25 * 3600:
        return f" (~ {seconds // 3600}h ago)"
    return ""


def since(when: datetime, now: datetime, tz: tzinfo | None = None) -> str:
    """`2026/11/21 19:00:00 +0000 (~ 8h ago)`."""
    return when.astimezone(tz).strftime("%Y/%m/%d %H:%M:%S %z") + ago(when, now)


def formation_args(formation: Formation) -> str:
    """`web=3:performance-l worker=2:standard-1x`: ps:scale's no-argument form, sorted."""
    spec = formation.spec
    return " ".join(f"{t}={spec.quantity_of(t)}:{spec.size_of(t)}" for t in sorted(spec.processes))


def now_running(formation: Formation, types: Iterable[str], catalog: Catalog) -> str:
    """`now running web at 3:Performance-L, worker at 2:Standard-1X`."""
    spec = formation.spec
    parts = [f"{t} at {spec.quantity_of(t)}:{catalog.display(spec.size_of(t))}" for t in types]
    return "now running " + ", ".join(parts)


def ps(
    dynos: Sequence[Dyno], formation: Formation, catalog: Catalog, now: datetime, tz: tzinfo | None
) -> str:
    """`dyno ps`: one-off dynos first, then the scheduled ones, then one block a process type."""
    lines: list[str] = []
    one_offs = [d for d in dynos if d.type == ONE_OFF]
    if one_offs:
        lines += [f"=== run: one-off processes ({len(one_offs)})", ""]
        lines += [_one_off_line(d, catalog, now, tz) for d in one_offs] + [""]
    scheduled = [d for d in dynos if d.scheduled]
    if scheduled:
        lines += [f"=== scheduler: scheduled jobs ({len(scheduled)})", ""]
        lines += [f"{_one_off_line(d, catalog, now, tz)} ({d.scheduled})" for d in scheduled]
        lines += [""]
    formation_dynos = [d for d in dynos if d.type != ONE_OFF and not d.scheduled]
    for ptype in dict.fromkeys(d.type for d in formation_dynos):
        group = [d for d in formation_dynos if d.type == ptype]
        lines += [_header(ptype, group, formation, catalog), *_autoscaling(ptype, formation), ""]
        lines += [_dyno_line(d, now, tz) for d in group] + [""]
    return "\n".join(lines)


def _autoscaling(ptype: str, formation: Formation) -> list[str]:
    """`Autoscaling 2..10 on p95 500 ms: at 3 now`, from the spec and what status observed."""
    proc = formation.spec.processes.get(ptype)
    if proc is None or proc.autoscaling is None:
        return []
    status = formation.status
    observed = ((status.processes if status else None) or {}).get(ptype)
    line = f"Autoscaling {proc.autoscaling.describe()}"
    if observed is not None and observed.autoscaler is not None:
        return [f"{line}: at {observed.autoscaler.current} now"]
    why = next(
        (c for c in (status.conditions if status else None) or [] if c.type == "Autoscaling"), None
    )
    reason = f" ({why.message})" if why is not None and why.status == "False" else ""
    return [f"{line}: not in effect{reason}"]


def ps_json(dynos: Sequence[Dyno]) -> str:
    return json.dumps([d.json() for d in dynos], indent=2)


def _header(ptype: str, group: Sequence[Dyno], formation: Formation, catalog: Catalog) -> str:
    # The formation says what a type runs; a type already removed from it shows its pods'.
    proc = formation.spec.processes.get(ptype)
    size = formation.spec.size_of(ptype) if proc else group[0].size
    command = proc.command if proc else group[0].command
    return f"=== {ptype} ({catalog.display(size)}): {command} ({len(group)})"


def _dyno_line(d: Dyno, now: datetime, tz: tzinfo | None) -> str:
    return f"{d.name}: {d.state} {since(d.updated_at, now, tz)}{_where(d)}{_restarts(d)}"


def _restarts(d: Dyno) -> str:
    """Heroku restarts a crashed dyno in place too, but prints nothing of it; we say so."""
    if not d.restarts:
        return ""
    return f", {d.restarts} restart" + ("s" if d.restarts > 1 else "")


def _one_off_line(d: Dyno, catalog: Catalog, now: datetime, tz: tzinfo | None) -> str:
    size = catalog.display(d.size)
    return f"{d.name} ({size}): {d.state} {since(d.updated_at, now, tz)}{_where(d)}: {d.command}"


def _where(d: Dyno) -> str:
    zone = f" in {d.zone}" if d.zone else ""
    node = f" on {d.node}" if d.node else ""
    return zone + node


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Heroku's plain table: a leading space, columns three spaces apart."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        " " + "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def process_types(formation: Formation, catalog: Catalog) -> str:
    """ps:type's two tables: each type with its size, and the totals per size.

    Heroku shows cost; we show what a dyno gets on Kubernetes: its memory and its CPU (request
    and limit, in Kubernetes' units), and the totals the formation reserves.
    """
    spec = formation.spec
    rows: list[list[str]] = []
    totals: dict[str, int] = {}
    for t in sorted(spec.processes):
        size, qty = spec.size_of(t), spec.quantity_of(t)
        totals[size] = totals.get(size, 0) + qty
        rows.append([t, catalog.display(size), str(qty), *_per_dyno(size, catalog)])
    header = ["type", "size", "qty", "memory", "cpu (request/limit)"]
    lines = ["=== Process Types", "", *table(header, rows), "", "=== Dyno Totals", ""]
    return "\n".join(lines + _totals(totals, catalog)) + "\n"


def _per_dyno(size: str, catalog: Catalog) -> list[str]:
    spec = catalog.get(size)
    if spec is None:
        return ["?", "?"]
    return [spec.limits.memory, f"{spec.requests.cpu}/{spec.limits.cpu}"]


def _totals(totals: dict[str, int], catalog: Catalog) -> list[str]:
    rows: list[list[str]] = []
    all_memory, all_cpu = 0, 0
    order = {name: i for i, name in enumerate(catalog.names())}
    for size in sorted(totals, key=lambda s: (order.get(s, len(order)), s)):
        qty = totals[size]
        spec = catalog.get(size)
        memory = qty * parse_memory(spec.limits.memory) if spec else 0
        cpu = qty * parse_cpu(spec.requests.cpu) if spec else 0
        all_memory, all_cpu = all_memory + memory, all_cpu + cpu
        rows.append([catalog.display(size), str(qty), memory_text(memory), cpu_text(cpu)])
    rows.append(["all", str(sum(totals.values())), memory_text(all_memory), cpu_text(all_cpu)])
    return table(["size", "total", "memory", "cpu requested"], rows)


def scale_window(formation: Formation) -> str | None:
    """`Scale window night in force until 07:00 Europe/Berlin (06:00 UTC): web=1, worker=0`,
    from status (what the operator applies), or None outside every window."""
    in_force = formation.status.scale_window if formation.status else None
    windows = formation.spec.scale_windows or {}
    if in_force is None or in_force.name not in windows:
        return None
    window = windows[in_force.name]
    until = parse_instant(in_force.until)
    local = until.astimezone(ZoneInfo(window.time_zone))
    when = f"{local:%a %H:%M:%S} {window.time_zone}"
    if window.time_zone != "UTC":
        when += f" ({until:%H:%M:%S} UTC)"
    quantities = ", ".join(f"{t}={q}" for t, q in sorted(window.quantities.items()))
    return f"Scale window {in_force.name} in force until {when}: {quantities}"
