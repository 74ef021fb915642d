"""Dyno: list, info, create (a detached one-off), restart and stop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from dynoform.api import dynos as dy
from dynoform.api.oneoff import RunRequest, expand
from dynoform.server import dynos, present, schemas
from dynoform.server.context import App, Sizes
from dynoform.server.errors import invalid
from dynoform.server.routers.common import ACCEPTED, RangeHeader, Who, paginate

router = APIRouter(tags=["Dyno"])
DONE: dict[str, Any] = {}  # Heroku answers 202 with `{}` (heroku-go decodes it).


def _shown(app: App, d: dy.Dyno, pods: dict[str, dict[str, Any]], sizes: Sizes) -> schemas.Dyno:
    pod = pods[d.pod]
    uid = str(pod["metadata"].get("uid", d.pod))
    return present.dyno(d, app.formation, app.name, sizes.catalog, uid, dynos.created(pod))


@router.get("/apps/{app}/dynos", response_model=list[schemas.Dyno])
async def dyno_list(
    app: str, who: Who, response: Response, range_: RangeHeader = None
) -> list[schemas.Dyno]:
    found = await who.app(app)
    listed, pods = await dynos.listed(who, found)
    sizes = await who.catalog()
    items = [_shown(found, d, pods, sizes) for d in listed]
    return paginate(items, range_, ("name", "id"), response)


@router.get("/apps/{app}/dynos/{dyno}", response_model=schemas.Dyno)
async def dyno_info(app: str, dyno: str, who: Who) -> schemas.Dyno:
    found = await who.app(app)
    listed, pods = await dynos.listed(who, found)
    return _shown(found, dynos.find(listed, pods, dyno), pods, await who.catalog())


@router.post("/apps/{app}/dynos", status_code=201, response_model=schemas.Dyno)
async def dyno_create(app: str, body: schemas.DynoCreate, who: Who) -> schemas.Dyno:
    """A detached one-off dyno (`heroku run:detached`); attached runs are not served."""
    if body.attach:
        raise invalid("attach: only detached runs are served (heroku run:detached).")
    if body.type not in (None, "", dy.ONE_OFF):
        raise invalid(f"type: one-off dynos are of type run, not {body.type}.")
    found = await who.app(app)
    sizes = await who.catalog()
    request = RunRequest(
        command=expand(body.command, found.formation),
        # The app's tier unless told, as `dyno run` (eco apps run eco one-offs).
        size=(body.size or found.formation.spec.default_size()).lower(),
        env=dynos.parse_env(body.env),
        detached=True,
    )
    name = await dynos.run(who, found, request, body.time_to_live, sizes)
    listed, pods = await dynos.listed(who, found)
    made = [d for d in listed if d.name == name]
    if made:
        return _shown(found, made[0], pods, sizes)
    return present.pending_run(found.formation, found.name, name, request, sizes.catalog)


@router.delete("/apps/{app}/dynos", status_code=202, responses={202: ACCEPTED})
async def dyno_restart_all(app: str, who: Who) -> dict[str, Any]:
    await dynos.restart_all(who, await who.app(app))
    return DONE


@router.delete("/apps/{app}/dynos/{dyno}", status_code=202, responses={202: ACCEPTED})
async def dyno_restart(app: str, dyno: str, who: Who) -> dict[str, Any]:
    # One dyno restarts as Kubernetes restarts a pod: stopped, and replaced by its controller.
    return await dyno_stop(app, dyno, who)


@router.delete("/apps/{app}/formations/{ptype}", status_code=202, responses={202: ACCEPTED})
async def dyno_restart_type(app: str, ptype: str, who: Who) -> dict[str, Any]:
    found = await who.app(app)
    if ptype == dy.ONE_OFF:  # one-off dynos never restart: they end, as on Heroku
        listed, _ = await dynos.listed(who, found)
        await dynos.stop(who, found, dynos.of_type(found, listed, ptype))
    else:
        dynos.check_type(found, ptype)
        await dynos.restart_type(who, found, ptype)
    return DONE


@router.post("/apps/{app}/dynos/{dyno}/actions/stop", status_code=202, responses={202: ACCEPTED})
async def dyno_stop(app: str, dyno: str, who: Who) -> dict[str, Any]:
    found = await who.app(app)
    listed, pods = await dynos.listed(who, found)
    await dynos.stop(who, found, [dynos.find(listed, pods, dyno)])
    return DONE


@router.post(
    "/apps/{app}/formations/{ptype}/actions/stop", status_code=202, responses={202: ACCEPTED}
)
async def dyno_stop_type(app: str, ptype: str, who: Who) -> dict[str, Any]:
    found = await who.app(app)
    listed, _ = await dynos.listed(who, found)
    await dynos.stop(who, found, dynos.of_type(found, listed, ptype))
    return DONE
