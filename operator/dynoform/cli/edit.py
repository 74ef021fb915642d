"""Formation changes of ps:scale and ps:type, computed and checked before anything is written.

Pure: a Formation and the requested changes in, the new spec out (or a CliError naming what is
wrong). The checks are the server's own rules, run here first so the user gets Heroku's wording
and nothing is written: the size catalog and its limits (`dynoform.api.sizes.check`, the same code
the operator and its admission webhook run), singletons, and the quantity bounds of the schema.
The server checks again on write; the CLI relies on that too (a cluster may know sizes or rules
this client does not).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dynoform.api.autoscaling import Autoscaling
from dynoform.api.sizes import Catalog, SizeError, check
from dynoform.api.v1alpha1 import (
    MAX_QUANTITY,
    SINGLETON_TYPES,
    FormationSpec,
    ProcessType,
    describe,
)
from dynoform.cli.errors import CliError, UsageError
from dynoform.cli.grammar import ScaleChange, TypeRequest


def scale(
    spec: FormationSpec, changes: list[ScaleChange], catalog: Catalog | None
) -> FormationSpec:
    """The spec after `changes`, applied in order; the size is sticky when none is given."""
    processes = dict(spec.processes)
    for change in changes:
        current = _process(processes, change.ptype)
        quantity = change.quantity_after(_quantity(spec, change.ptype, current))
        _check_bounds(change, quantity)
        processes[change.ptype] = _with(current, quantity=quantity, size=change.size)
    return _checked(spec, processes, catalog)


def resize(spec: FormationSpec, request: TypeRequest, catalog: Catalog | None) -> FormationSpec:
    """The spec after ps:type: one size for every type, or TYPE=SIZE pairs."""
    pairs = request.per_type or tuple((t, request.every or "") for t in sorted(spec.processes))
    processes = dict(spec.processes)
    for ptype, size in pairs:
        if ptype not in processes:
            raise CliError(
                f"Type {ptype} not found in process formation.\n"
                f"Types: {', '.join(sorted(spec.processes))}"
            )
        processes[ptype] = _with(processes[ptype], size=size)
    return _checked(spec, processes, catalog)


# Heroku's p95 target when `ps:autoscale:enable` creates a monitor without --p95 (ms).
HEROKU_P95 = 1000


@dataclass(frozen=True)
class AutoscaleRequest:
    """What `ps:autoscale:enable` was asked for; targets not given are kept."""

    minimum: int
    maximum: int
    p95: int | None = None
    cpu: int | None = None
    metric: str | None = None


def enable_autoscaling(
    spec: FormationSpec, ptype: str, request: AutoscaleRequest, catalog: Catalog | None
) -> FormationSpec:
    """The spec with the type autoscaled: new bounds, the targets given, the others kept; with
    no target at all, a type that listens gets Heroku's p95 of 1000 ms."""
    processes = dict(spec.processes)
    proc = _process(processes, ptype)
    if spec.is_singleton(ptype):
        raise CliError(_singleton_message(ptype, "cannot be autoscaled"))
    fields = proc.autoscaling.wire() if proc.autoscaling else {}
    fields.update(min=request.minimum, max=request.maximum)
    if request.cpu is not None:
        fields["cpu"] = request.cpu
    if request.p95 is not None or request.metric is not None:
        timing = {**fields.get("responseTime", {"p95": HEROKU_P95})}
        timing.update({k: v for k, v in (("p95", request.p95), ("metric", request.metric)) if v})
        fields["responseTime"] = timing
    listens = spec.port_of(ptype) is not None
    if "responseTime" in fields and not listens:
        raise CliError(f"{ptype} does not listen on a port: --p95 needs a type that does.")
    if not {"cpu", "responseTime", "queue"} & fields.keys():
        if not listens:
            raise UsageError(f"Name a target for {ptype}: --cpu PERCENT.")
        fields["responseTime"] = {"p95": HEROKU_P95}
    try:
        scaling = Autoscaling.model_validate(fields)
    except ValidationError as exc:
        raise CliError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc
    processes[ptype] = proc.model_copy(update={"autoscaling": scaling})
    return _checked(spec, processes, catalog)


def disable_autoscaling(spec: FormationSpec, ptype: str) -> FormationSpec:
    """The spec without the type's autoscaler: it runs its quantity again."""
    processes = dict(spec.processes)
    proc = _process(processes, ptype)
    if proc.autoscaling is None:
        raise CliError(f"{ptype} does not have autoscaling enabled.")
    processes[ptype] = proc.model_copy(update={"autoscaling": None})
    return _checked(spec, processes, None)


def processes_patch(old: FormationSpec, new: FormationSpec) -> dict[str, Any]:
    """A merge patch of `spec.processes` holding only the quantities, sizes and autoscaling
    that changed."""
    patch: dict[str, Any] = {}
    for ptype, proc in new.processes.items():
        before = old.processes[ptype]
        fields = {
            k: getattr(proc, k)
            for k in ("quantity", "size")
            if getattr(proc, k) != getattr(before, k)
        }
        if proc.autoscaling != before.autoscaling:
            fields["autoscaling"] = merge_patch(_wire(before.autoscaling), _wire(proc.autoscaling))
        if fields:
            patch[ptype] = fields
    return {"spec": {"processes": patch}} if patch else {}


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`: removed keys become null."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch = {k: merge_patch(old.get(k), v) for k, v in new.items() if old.get(k) != v}
    return {**patch, **{k: None for k in old if k not in new}}


def _wire(scaling: Autoscaling | None) -> dict[str, Any] | None:
    return scaling.wire() if scaling is not None else None


def validate(spec: FormationSpec, catalog: Catalog | None) -> None:
    """The rules the server applies to a whole formation, as CliErrors."""
    for ptype in sorted(spec.processes):
        if spec.is_singleton(ptype) and spec.quantity_of(ptype) > 1:
            raise CliError(_singleton_message(ptype))
    if catalog is not None:
        try:
            check(spec, catalog)
        except SizeError as exc:
            raise CliError(str(exc)) from exc


def named_types(changes: Iterable[ScaleChange]) -> list[str]:
    """The process types a command named, first mention first, each once."""
    return list(dict.fromkeys(c.ptype for c in changes))


def _process(processes: dict[str, ProcessType], ptype: str) -> ProcessType:
    if ptype not in processes:
        raise CliError(f"Couldn't find that process type ({ptype}).")
    return processes[ptype]


def _quantity(spec: FormationSpec, ptype: str, current: ProcessType) -> int:
    # `current` holds any earlier change of this command; unset means Heroku's default.
    return current.quantity if current.quantity is not None else spec.quantity_of(ptype)


def _check_bounds(change: ScaleChange, quantity: int) -> None:
    if quantity < 0:
        raise CliError(
            f"Cannot scale {change.ptype} below 0 dynos ({change} would make it {quantity})."
        )
    if quantity > MAX_QUANTITY:
        raise CliError(
            f"Cannot run more than {MAX_QUANTITY} dynos per process type "
            f"({change.ptype}={quantity})."
        )


def _with(proc: ProcessType, quantity: int | None = None, size: str | None = None) -> ProcessType:
    update: dict[str, Any] = {}
    if quantity is not None:
        update["quantity"] = quantity
    if size:
        update["size"] = size
    return proc.model_copy(update=update)


def _checked(
    spec: FormationSpec, processes: dict[str, ProcessType], catalog: Catalog | None
) -> FormationSpec:
    new = spec.model_copy(update={"processes": processes})
    # The catalog first: an unknown size gets Heroku's "No such size" with the sizes available,
    # not a pattern error. model_copy skips validation, so a round trip then applies the schema.
    validate(new, catalog)
    try:
        return FormationSpec.model_validate(new.model_dump(by_alias=True, exclude_none=True))
    except ValidationError as exc:
        raise CliError(describe(exc)) from exc


def _singleton_message(ptype: str, what: str = "runs at most 1 dyno") -> str:
    # The wording of the CRD's own CEL rules (dynoform.api.v1alpha1), so both sides agree.
    if ptype in SINGLETON_TYPES:
        return f"{ptype} is a singleton process type and {what} (set singleton: false to scale it)"
    return f"{ptype} is a singleton process type and {what}"
