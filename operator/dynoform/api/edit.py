"""Formation changes of a scale (quantities and sizes), computed and checked before anything is
written (pure), shared by the CLI's ps:scale and ps:type and the Platform API's formation update.

A Formation and the requested changes in, the new spec out, or `Refused` naming what is wrong in
Heroku's words. The checks are the server's own rules, run first so the caller gets Heroku's
wording and nothing is written: the size catalog and its limits (`dynoform.api.sizes.check`, the
same code the operator runs), singletons, and the quantity bounds of the schema. The API server
checks again on write (a cluster may know sizes or rules a client does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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

Op = Literal["=", "+", "-"]


class Refused(ValueError):
    """A change the rules refuse; the message says why, in Heroku's words."""


@dataclass(frozen=True)
class ScaleChange:
    """One scale request: `web+2:standard-2x` is ("web", "+", 2, "standard-2x")."""

    ptype: str
    op: Op
    amount: int
    size: str | None = None

    def quantity_after(self, current: int) -> int:
        if self.op == "=":
            return self.amount
        return current + self.amount if self.op == "+" else current - self.amount

    def __str__(self) -> str:
        size = f":{self.size}" if self.size else ""
        return f"{self.ptype}{self.op}{self.amount}{size}"


def scale(
    spec: FormationSpec, changes: list[ScaleChange], catalog: Catalog | None
) -> FormationSpec:
    """The spec after `changes`, applied in order; the size is sticky when none is given."""
    processes = dict(spec.processes)
    for change in changes:
        current = process(processes, change.ptype)
        quantity = change.quantity_after(_quantity(spec, change.ptype, current))
        _check_bounds(change, quantity)
        processes[change.ptype] = with_(current, quantity=quantity, size=change.size)
    return checked(spec, processes, catalog)


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
    """The rules the server applies to a whole formation, as Refused."""
    for ptype in sorted(spec.processes):
        if spec.is_singleton(ptype) and spec.quantity_of(ptype) > 1:
            raise Refused(singleton_message(ptype))
    if catalog is not None:
        try:
            check(spec, catalog)
        except SizeError as exc:
            raise Refused(str(exc)) from exc


def process(processes: dict[str, ProcessType], ptype: str) -> ProcessType:
    if ptype not in processes:
        raise Refused(f"Couldn't find that process type ({ptype}).")
    return processes[ptype]


def _quantity(spec: FormationSpec, ptype: str, current: ProcessType) -> int:
    # `current` holds any earlier change of this command; unset means Heroku's default.
    return current.quantity if current.quantity is not None else spec.quantity_of(ptype)


def _check_bounds(change: ScaleChange, quantity: int) -> None:
    if quantity < 0:
        raise Refused(
            f"Cannot scale {change.ptype} below 0 dynos ({change} would make it {quantity})."
        )
    if quantity > MAX_QUANTITY:
        raise Refused(
            f"Cannot run more than {MAX_QUANTITY} dynos per process type "
            f"({change.ptype}={quantity})."
        )


def with_(proc: ProcessType, quantity: int | None = None, size: str | None = None) -> ProcessType:
    update: dict[str, Any] = {}
    if quantity is not None:
        update["quantity"] = quantity
    if size:
        update["size"] = size
    return proc.model_copy(update=update)


def checked(
    spec: FormationSpec, processes: dict[str, ProcessType], catalog: Catalog | None
) -> FormationSpec:
    new = spec.model_copy(update={"processes": processes})
    # The catalog first: an unknown size gets Heroku's "No such size" with the sizes available,
    # not a pattern error. model_copy skips validation, so a round trip then applies the schema.
    validate(new, catalog)
    try:
        return FormationSpec.model_validate(new.model_dump(by_alias=True, exclude_none=True))
    except ValidationError as exc:
        raise Refused(describe(exc)) from exc


def singleton_message(ptype: str, what: str = "runs at most 1 dyno") -> str:
    # The wording of the CRD's own CEL rules (dynoform.api.v1alpha1), so both sides agree.
    if ptype in SINGLETON_TYPES:
        return f"{ptype} is a singleton process type and {what} (set singleton: false to scale it)"
    return f"{ptype} is a singleton process type and {what}"
