"""Formation changes of ps:scale, ps:type and ps:autoscale:*, computed and checked before
anything is written.

Pure: a Formation and the requested changes in, the new spec out (or a CliError naming what is
wrong). The scale itself and its checks are dynoform.api.edit's (the Platform API server makes
the same changes); here they are wrapped into the CLI's errors, beside the CLI's own commands.
The server checks again on write; the CLI relies on that too (a cluster may know sizes or rules
this client does not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from dynoform.api import edit as api_edit
from dynoform.api.autoscaling import Autoscaling
from dynoform.api.edit import merge_patch as merge_patch
from dynoform.api.edit import processes_patch as processes_patch
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import FormationSpec, ProcessType
from dynoform.cli.errors import CliError, UsageError
from dynoform.cli.grammar import ScaleChange, TypeRequest

T = TypeVar("T")


@contextmanager
def _refusals() -> Iterator[None]:
    """dynoform.api.edit's refusals, as the CLI reports them."""
    try:
        yield
    except api_edit.Refused as exc:
        raise CliError(str(exc)) from exc


def _cli(fn: Callable[..., T], *args: Any) -> T:
    with _refusals():
        return fn(*args)


def scale(
    spec: FormationSpec, changes: list[ScaleChange], catalog: Catalog | None
) -> FormationSpec:
    """The spec after `changes`, applied in order; the size is sticky when none is given."""
    return _cli(api_edit.scale, spec, changes, catalog)


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


def validate(spec: FormationSpec, catalog: Catalog | None) -> None:
    """The rules the server applies to a whole formation, as CliErrors."""
    _cli(api_edit.validate, spec, catalog)


def named_types(changes: Iterable[ScaleChange]) -> list[str]:
    """The process types a command named, first mention first, each once."""
    return list(dict.fromkeys(c.ptype for c in changes))


def _process(processes: dict[str, ProcessType], ptype: str) -> ProcessType:
    return _cli(api_edit.process, processes, ptype)


def _with(proc: ProcessType, quantity: int | None = None, size: str | None = None) -> ProcessType:
    return api_edit.with_(proc, quantity, size)


def _checked(
    spec: FormationSpec, processes: dict[str, ProcessType], catalog: Catalog | None
) -> FormationSpec:
    return _cli(api_edit.checked, spec, processes, catalog)


def _singleton_message(ptype: str, what: str = "runs at most 1 dyno") -> str:
    return api_edit.singleton_message(ptype, what)
