"""ps, ps:restart and ps:stop: the app's dynos, as Heroku shows and handles them.

A type restarts as `kubectl rollout restart` does (a new pod-template annotation, so the
Deployment rolls with its surge-first strategy and never drops below the quantity); one dyno
restarts by deleting its pod, which its ReplicaSet replaces. Stop deletes pods too: as on
Heroku, dynos of a scaled type come back, and the output says how to stop them for good.
A sleeping eco web type has no pod: `ps` shows it as `web.1: sleeping`, from the Formation's
status.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dynoform.api import dynos as dy
from dynoform.api.labels import SCHEDULER, child_name
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import Formation
from dynoform.cli import render
from dynoform.cli.commands.base import Context, action
from dynoform.cli.errors import CliError, UsageError
from dynoform.cli.grammar import ONE_OFF, DynoRef

if TYPE_CHECKING:
    from dynoform.cli.client import Api


def app_dynos(api: Api, app: str) -> list[dy.Dyno]:
    pods = api.pods(app)
    return dy.from_pods(pods, api.zones(dy.unzoned_nodes(pods)))


def ps(ctx: Context, types: list[str], as_json: bool) -> int:
    """`dyno ps [TYPE ...] [--json]`."""
    app = ctx.require_app()
    formation = ctx.api.formation(app)
    dynos = with_sleeping(app_dynos(ctx.api, app), formation)
    if types:
        dynos = [d for d in dynos if d.type in types]
        for t in types:
            if not any(d.type == t for d in dynos):
                raise CliError(f"No {t} dynos on {render.app_name(app)}")
    if as_json:
        ctx.out.write(render.ps_json(dynos) + "\n")
        return 0
    if not dynos:
        ctx.out.write(f"No dynos on {render.app_name(app)}\n")
    else:
        catalog = ctx.api.catalog() or Catalog()
        ctx.out.write(render.ps(dynos, formation, catalog, ctx.clock(), ctx.tz))
        if not types:
            ctx.out.write(redundancy_verdict(formation) + "\n")
    window = render.scale_window(formation)
    if window is not None:
        ctx.out.write(window + "\n")
    return 0


def with_sleeping(dynos: list[dy.Dyno], formation: Formation) -> list[dy.Dyno]:
    """The dynos, and `web.1: sleeping` for an eco web type the operator saw asleep (it has no
    pod then), since it fell asleep (the Sleeping condition's transition)."""
    status = formation.status
    if status is None:
        return dynos
    cond = next((c for c in status.conditions or [] if c.type == "Sleeping"), None)
    asleep = [
        dy.Dyno(
            name=f"{ptype}.1",
            type=ptype,
            number=1,
            state="sleeping",
            updated_at=datetime.fromisoformat(cond.last_transition_time.replace("Z", "+00:00")),
            command=formation.spec.processes[ptype].command,
            size=formation.spec.size_of(ptype),
            pod="",
        )
        for ptype, seen in sorted((status.processes or {}).items())
        if seen.sleep == "Sleeping"
        and cond is not None
        and cond.status == "True"
        and ptype in formation.spec.processes
        and not any(d.type == ptype for d in dynos)
    ]
    return sorted([*dynos, *asleep], key=lambda d: (d.type != dy.ONE_OFF, d.type, d.number))


def redundancy_verdict(formation: Formation) -> str:
    """One line from the operator's verified spread and Heroku's advice (its conditions)."""
    conditions = {
        c.type: c for c in (formation.status.conditions if formation.status else None) or []
    }
    spread, advice = conditions.get("ZoneRedundant"), conditions.get("RedundancyAdvised")
    if spread is None:
        return "Redundancy: not verified yet (the operator has not observed the dynos)."
    line = (
        f"Redundancy: {spread.message}"
        if spread.status == "True"
        else (f"Redundancy: NOT spread across zones: {spread.message}")
    )
    if advice is not None and advice.status == "False":
        line += f" {advice.message}"
    return line


def ps_restart(ctx: Context, ref: DynoRef | None) -> int:
    """`dyno ps:restart [TYPE | TYPE.N]`."""
    app = ctx.require_app()
    formation = ctx.api.formation(app)
    where = render.app_name(app)
    when = ctx.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    if ref is None:
        with action(ctx.err, f"Restarting all dynos on {where}"):
            for deployment in ctx.api.deployments(app):
                ctx.api.restart(deployment["metadata"]["name"], when)
    elif ref.number is None and not ref.one_off:
        _check_type(formation, ref)
        with action(ctx.err, f"Restarting all {ref.ptype} dynos on {where}"):
            ctx.api.restart(child_name(formation, ref.ptype), when)
    else:
        chosen = _chosen(ctx.api, app, ref)
        with action(ctx.err, f"Restarting {_label(ref)} on {where}"):
            for dyno in chosen:
                _stop(ctx.api, dyno)
        if ref.one_off:  # Heroku's restart of a one-off dyno ends it too.
            ctx.note("One-off dynos never restart: stopped, not started again.")
    return 0


def ps_stop(ctx: Context, ref: DynoRef | None) -> int:
    """`dyno ps:stop TYPE | TYPE.N`."""
    if ref is None:
        raise UsageError(
            "Please specify a process type or dyno name to stop.\nSee more help with --help"
        )
    app = ctx.require_app()
    formation = ctx.api.formation(app)
    scheduled = _scheduled(formation, ref)
    if not ref.one_off and not scheduled:
        _check_type(formation, ref)
    chosen = _chosen(ctx.api, app, ref)
    with action(ctx.err, f"Stopping {_label(ref)} on {render.app_name(app)}"):
        for dyno in chosen:
            _stop(ctx.api, dyno)
    if scheduled:  # Its pod is deleted: the run is recorded as failed, the next one still runs.
        ctx.note("Scheduled dynos are not started again; the job's next run comes on schedule.")
    elif not ref.one_off and formation.spec.quantity_of(ref.ptype) > 0:
        q = formation.spec.quantity_of(ref.ptype)
        ctx.note(
            f"{ref.ptype} is scaled to {q} in the formation, so its dynos are started again. "
            f"To stop them for good, scale to 0: dyno ps:scale {ref.ptype}=0 -a {app}"
        )
    return 0


def _scheduled(formation: Formation, ref: DynoRef) -> bool:
    """`scheduler` or `scheduler.N` names scheduled dynos (unless a process type is so named)."""
    return (
        ref.ptype == SCHEDULER
        and SCHEDULER not in formation.spec.processes
        and bool(formation.spec.jobs)
    )


def _check_type(formation: Formation, ref: DynoRef) -> None:
    if ref.ptype not in formation.spec.processes:
        raise CliError(f"Couldn't find that process type ({ref.ptype}).")


def _chosen(api: Api, app: str, ref: DynoRef) -> list[dy.Dyno]:
    chosen = dy.find(app_dynos(api, app), ref)
    if ref.number is not None and not chosen:
        raise CliError(f"Couldn't find that dyno ({ref}).")
    return chosen


def _label(ref: DynoRef) -> str:
    return f"dyno {ref}" if ref.number is not None else f"all {ref.ptype} dynos"


def _stop(api: Api, dyno: dy.Dyno) -> None:
    # A detached one-off is its Job: deleting the pod alone would leave a failed Job behind.
    if dyno.type == ONE_OFF and dyno.job:
        api.delete("Job", dyno.job)
    else:
        api.delete("Pod", dyno.pod)
