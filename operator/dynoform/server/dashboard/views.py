"""What the dashboard's pages show, computed from a Formation, its dynos and the catalog (pure).

The templates only lay these out: every figure, bound and sentence is decided here, so the unit
tests read the page's content without a browser. The words are the operator's and the API's:
conditions and history come from the Formation's status (dynoform.api.status), sizes from the
catalog (dynoform.api.sizes), dynos from dynoform.api.dynos as `dyno ps` names them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dynoform.api import conditions as c
from dynoform.api.dynos import ONE_OFF, Dyno
from dynoform.api.sizes import Catalog
from dynoform.api.units import parse_cpu, parse_memory
from dynoform.api.v1alpha1 import MAX_QUANTITY, Condition, Cost, Formation

NO_ZONE = "no zone"


@dataclass(frozen=True)
class State:
    """A condition as a badge: its words, and whether it is good (None: not known yet)."""

    label: str
    ok: bool | None
    reason: str = ""
    message: str = ""

    @property
    def css(self) -> str:
        return "unknown" if self.ok is None else "ok" if self.ok else "bad"


@dataclass(frozen=True)
class AppSummary:
    namespace: str
    name: str
    formation: str
    ready: State


@dataclass(frozen=True)
class SizeOption:
    name: str  # the catalog's name, what a change sends
    display: str  # Standard-2X
    memory: str  # 1 GiB
    cpu: str  # 0.5-2 CPU
    max_quantity: int
    selected: bool
    cost: str = ""  # $25.00/month, when the catalog gives one

    @property
    def label(self) -> str:
        price = f", {self.cost}" if self.cost else ""
        return f"{self.display} — {self.memory}, {self.cpu}{price}"


@dataclass(frozen=True)
class ProcessRow:
    """One process type in the formation form."""

    type: str
    command: str
    quantity: int
    max: int  # the slider's end: the size's limit, 1 for a singleton
    size: str
    sizes: list[SizeOption]
    singleton: bool
    autoscaling: str | None  # `2..10 on CPU 70%` when autoscaled (the slider is then disabled)
    autoscaler_current: int | None
    desired: int
    ready: int
    error: str | None = None  # a refusal of the change made on this row

    @property
    def fixed(self) -> bool:
        """The quantity cannot be moved here: an autoscaler moves it."""
        return self.autoscaling is not None


@dataclass(frozen=True)
class DynoRow:
    name: str
    type: str
    state: str
    size: str
    zone: str
    age: str
    restarts: int


@dataclass(frozen=True)
class ZoneCount:
    zone: str
    count: int


@dataclass(frozen=True)
class Spread:
    """Where the running dynos are, per type and in all."""

    by_type: dict[str, list[ZoneCount]]
    total: list[ZoneCount]
    redundancy: State | None  # the operator's ZoneRedundant verdict
    advice: str | None  # the redundancy advice, when there is any


@dataclass(frozen=True)
class Change:
    time: str
    text: str  # Scale to web=3:standard-1x by alice


@dataclass(frozen=True)
class ReleaseView:
    image: str
    released_image: str | None
    state: State | None  # the Released condition (only with a release phase)


@dataclass(frozen=True)
class AppPage:
    namespace: str
    name: str
    ready: State
    formation: str
    rows: list[ProcessRow]
    dynos: list[DynoRow]
    spread: Spread
    history: list[Change]
    release: ReleaseView
    autoscaling: State | None
    generation: int
    messages: list[str] = field(default_factory=list)


def condition_state(conditions: list[Condition] | None, ctype: str) -> State | None:
    found = c.find(conditions, ctype)
    if found is None:
        return None
    ok = None if found.status == "Unknown" else found.status == "True"
    return State(found.reason or found.status, ok, found.reason, found.message)


def ready_state(f: Formation) -> State:
    state = condition_state(f.status.conditions if f.status else None, c.READY)
    return state or State("Pending", None, "", "The operator has not reported on it yet.")


def summary(f: Formation) -> AppSummary:
    status = f.status.formation if f.status and f.status.formation else None
    return AppSummary(f.namespace, f.name, status or _formation_text(f), ready_state(f))


def memory_text(quantity: str) -> str:
    gib = parse_memory(quantity) / 2**30
    return f"{gib:g} GiB" if gib >= 1 else f"{parse_memory(quantity) / 2**20:g} MiB"


def cpu_text(request: str, limit: str) -> str:
    low, high = parse_cpu(request) / 1000, parse_cpu(limit) / 1000
    return f"{low:g} CPU" if low == high else f"{low:g} to {high:g} CPU"


def size_options(catalog: Catalog, current: str) -> list[SizeOption]:
    options = []
    for name in catalog.names():
        spec = catalog.get(name)
        if spec is None:
            continue
        options.append(
            SizeOption(
                name=name,
                display=catalog.display(name),
                memory=memory_text(spec.limits.memory),
                cpu=cpu_text(spec.requests.cpu, spec.limits.cpu),
                max_quantity=size_max(catalog, name),
                selected=name == current.lower(),
                cost=cost_text(spec.cost),
            )
        )
    if not any(o.selected for o in options):  # a size the catalog lacks still shows as it is
        options.insert(0, SizeOption(current, current, "?", "?", MAX_QUANTITY, True))
    return options


def cost_text(cost: Cost | None) -> str:
    """A size's cost as the Dashboard shows it: `$25.00/month`; "" when it has none."""
    if cost is None:
        return ""
    return f"${cost.cents // 100:,}.{cost.cents % 100:02d}/{cost.unit}"


def size_max(catalog: Catalog, size: str) -> int:
    """The most dynos of `size` one type may run."""
    spec = catalog.get(size)
    if spec is None:
        return MAX_QUANTITY
    if not spec.horizontal_scaling:
        return 1
    return min(spec.max_quantity or MAX_QUANTITY, MAX_QUANTITY)


def rows(f: Formation, catalog: Catalog, errors: dict[str, str] | None = None) -> list[ProcessRow]:
    spec, observed = f.spec, (f.status.processes if f.status else None) or {}
    out = []
    for ptype in sorted(spec.processes):
        size, seen = spec.size_of(ptype), observed.get(ptype)
        singleton = spec.is_singleton(ptype)
        scaling = spec.autoscaling_of(ptype)
        quantity = spec.quantity_of(ptype)
        limit = 1 if singleton else size_max(catalog, size)
        out.append(
            ProcessRow(
                type=ptype,
                command=spec.processes[ptype].command,
                quantity=quantity,
                max=max(limit, quantity),  # an over-limit quantity still shows as it is
                size=size,
                sizes=size_options(catalog, size),
                singleton=singleton,
                autoscaling=scaling.describe() if scaling else None,
                autoscaler_current=seen.autoscaler.current if seen and seen.autoscaler else None,
                desired=seen.desired if seen else spec.start_of(ptype),
                ready=seen.ready if seen else 0,
                error=(errors or {}).get(ptype),
            )
        )
    return out


def age(since: datetime, now: datetime) -> str:
    """`42s`, `5m`, `3h`, `2d`: how long ago, as kubectl shows ages."""
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def dyno_rows(
    dynos: list[Dyno], created: dict[str, datetime], catalog: Catalog, now: datetime
) -> list[DynoRow]:
    return [
        DynoRow(
            name=d.name,
            type=d.type,
            state=d.state,
            size=catalog.display(d.size) if d.size else "",
            zone=d.zone or NO_ZONE,
            age=age(created.get(d.pod, d.updated_at), now),
            restarts=d.restarts,
        )
        for d in dynos
    ]


def spread(f: Formation, dynos: list[Dyno]) -> Spread:
    running = [d for d in dynos if d.state in ("up", "starting") and d.type != ONE_OFF]
    by_type: dict[str, list[ZoneCount]] = {}
    for ptype in sorted({d.type for d in running}):
        by_type[ptype] = _counts(d.zone for d in running if d.type == ptype)
    conditions = f.status.conditions if f.status else None
    advice = c.find(conditions, c.REDUNDANCY_ADVICE)
    return Spread(
        by_type=by_type,
        total=_counts(d.zone for d in running),
        redundancy=condition_state(conditions, c.ZONE_REDUNDANT),
        advice=advice.message if advice is not None and advice.status == "False" else None,
    )


def _counts(zones: Any) -> list[ZoneCount]:
    counted = Counter(z or NO_ZONE for z in zones)
    return [ZoneCount(z, n) for z, n in sorted(counted.items())]


def history(f: Formation) -> list[Change]:
    """The changes, newest first, as Heroku's activity shows them: `Scale to web=3 by alice`."""
    entries = f.status.history if f.status and f.status.history else []
    return [
        Change(e.time, f"Scale to {e.formation}" + (f" by {e.by}" if e.by else ""))
        for e in reversed(entries)
    ]


def release(f: Formation) -> ReleaseView:
    status = f.status
    return ReleaseView(
        image=f.spec.image,
        released_image=status.released_image if status else None,
        state=condition_state(status.conditions if status else None, c.RELEASED),
    )


def page(
    f: Formation,
    catalog: Catalog,
    dynos: list[Dyno],
    created: dict[str, datetime],
    now: datetime,
    errors: dict[str, str] | None = None,
    messages: list[str] | None = None,
) -> AppPage:
    conditions = f.status.conditions if f.status else None
    return AppPage(
        namespace=f.namespace,
        name=f.name,
        ready=ready_state(f),
        formation=summary(f).formation,
        rows=rows(f, catalog, errors),
        dynos=dyno_rows(dynos, created, catalog, now),
        spread=spread(f, dynos),
        history=history(f),
        release=release(f),
        autoscaling=condition_state(conditions, c.AUTOSCALING),
        generation=f.generation,
        messages=list(messages or []),
    )


def _formation_text(f: Formation) -> str:
    spec = f.spec
    return " ".join(f"{t}={spec.quantity_of(t)}:{spec.size_of(t)}" for t in sorted(spec.processes))
