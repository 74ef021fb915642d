"""ps:scale, ps:type and ps:autoscale:*: one optimistic update of the Formation, checked before
it is written."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import Formation
from dynoform.cli import edit, render
from dynoform.cli.commands.base import Context, action
from dynoform.cli.grammar import parse_scale, parse_type


def ps_scale(ctx: Context, args: list[str]) -> int:
    """`dyno ps:scale web=3:performance-l worker+1`, or the formation when no argument."""
    app = ctx.require_app()
    changes = parse_scale(args)  # a malformed argument stops here: nothing read, nothing written
    if not changes:
        ctx.out.write(render.formation_args(ctx.api.formation(app)) + "\n")
        return 0
    with action(ctx.err, "Scaling dynos") as act:
        catalog = ctx.api.catalog()

        def compute(formation: Formation) -> dict[str, Any]:
            new = edit.scale(formation.spec, changes, catalog)
            return edit.processes_patch(formation.spec, new)

        _, after = ctx.api.update_formation(app, compute)
        shown = render.now_running(after, edit.named_types(changes), catalog or Catalog())
        act.done(f"done, {shown}")
    for ptype in edit.named_types(changes):
        scaling = after.spec.autoscaling_of(ptype)
        if scaling is not None:
            ctx.note(
                f"{ptype} is autoscaled ({scaling.min}..{scaling.max}): its quantity is only where "
                f"it starts. To scale it by hand: dyno ps:autoscale:disable {ptype} -a {app}"
            )
    _window_note(ctx, after, edit.named_types(changes))
    return 0


def _window_note(ctx: Context, formation: Formation, named: Iterable[str]) -> None:
    """A scale window in force keeps the types it names at its quantities until it ends: the
    new quantities are in the spec, and apply then."""
    in_force = formation.status.scale_window if formation.status else None
    window = (formation.spec.scale_windows or {}).get(in_force.name) if in_force else None
    if in_force is None or window is None:
        return
    held = [t for t in named if t in window.quantities]
    if held:
        line = render.scale_window(formation)
        ctx.note(
            f"{line.replace(' in force', ' is in force') if line else in_force.name}. "
            f"{', '.join(held)} keep{'s' if len(held) == 1 else ''} the window's quantities "
            "until it ends; the new ones apply then."
        )


def ps_autoscale_enable(ctx: Context, ptype: str, request: edit.AutoscaleRequest) -> int:
    """`dyno ps:autoscale:enable [TYPE] --min N --max N [--p95 MS] [--cpu PERCENT]`."""
    app = ctx.require_app()
    with action(ctx.err, "Enabling dyno autoscaling") as act:
        catalog = ctx.api.catalog()

        def compute(formation: Formation) -> dict[str, Any]:
            new = edit.enable_autoscaling(formation.spec, ptype, request, catalog)
            return edit.processes_patch(formation.spec, new)

        _, after = ctx.api.update_formation(app, compute)
        scaling = after.spec.autoscaling_of(ptype)
        act.done(f"done, {ptype} autoscales {scaling.describe() if scaling else ''}")
    return 0


def ps_autoscale_disable(ctx: Context, ptype: str) -> int:
    """`dyno ps:autoscale:disable [TYPE]`: the type runs its quantity again."""
    app = ctx.require_app()
    with action(ctx.err, "Disabling dyno autoscaling") as act:

        def compute(formation: Formation) -> dict[str, Any]:
            new = edit.disable_autoscaling(formation.spec, ptype)
            return edit.processes_patch(formation.spec, new)

        _, after = ctx.api.update_formation(app, compute)
        act.done(f"done, {ptype} runs its quantity again: {after.spec.quantity_of(ptype)}")
    return 0


def ps_type(ctx: Context, args: list[str]) -> int:
    """`dyno ps:type`, `dyno ps:type SIZE` or `dyno ps:type TYPE=SIZE ...`, then the table."""
    app = ctx.require_app()
    request = parse_type(args)
    catalog = ctx.api.catalog()
    if request.every or request.per_type:
        with action(ctx.err, f"Scaling dynos on {render.app_name(app)}"):

            def compute(formation: Formation) -> dict[str, Any]:
                new = edit.resize(formation.spec, request, catalog)
                return edit.processes_patch(formation.spec, new)

            _, formation = ctx.api.update_formation(app, compute)
    else:
        formation = ctx.api.formation(app)
    ctx.out.write(render.process_types(formation, catalog or Catalog()))
    return 0
