"""Formation: list, info, update and batch update (`/apps/{app}/formation`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from dynoform.server import present, scaling, schemas, updates
from dynoform.server.context import App, Sizes
from dynoform.server.errors import HerokuError
from dynoform.server.routers.common import RangeHeader, Who, paginate

router = APIRouter(tags=["Formation"])


def _all(app: App, sizes: Sizes) -> list[schemas.Formation]:
    f = app.formation
    return [
        present.formation(f, t, app.name, sizes.catalog, sizes.uids)
        for t in sorted(f.spec.processes)
    ]


def _one(app: App, sizes: Sizes, identity: str) -> schemas.Formation:
    for item in _all(app, sizes):
        if identity in (item.type, item.id):
            return item
    raise HerokuError(404, "Couldn't find that formation.")


@router.get("/apps/{app}/formation", response_model=list[schemas.Formation])
async def formation_list(
    app: str, who: Who, response: Response, range_: RangeHeader = None
) -> list[schemas.Formation]:
    found, sizes = await asyncio.gather(who.app(app), who.catalog())
    items = _all(found, sizes)
    return paginate(items, range_, ("id", "type"), response)


@router.get("/apps/{app}/formation/{formation}", response_model=schemas.Formation)
async def formation_info(app: str, formation: str, who: Who) -> schemas.Formation:
    found, sizes = await asyncio.gather(who.app(app), who.catalog())
    return _one(found, sizes, formation)


@router.patch("/apps/{app}/formation/{formation}", response_model=schemas.Formation)
async def formation_update(
    app: str, formation: str, body: schemas.FormationUpdate, who: Who
) -> schemas.Formation:
    found, sizes = await asyncio.gather(who.app(app), who.catalog())
    ptype = _one(found, sizes, formation).type
    after = await scaling.scale(who, found, [updates.change(ptype, body)], sizes)
    return present.formation(after, ptype, found.name, sizes.catalog, sizes.uids)


@router.patch("/apps/{app}/formation", response_model=list[schemas.Formation])
async def formation_batch_update(
    app: str, body: schemas.FormationBatch, who: Who
) -> list[schemas.Formation]:
    found, sizes = await asyncio.gather(who.app(app), who.catalog())
    changes = [updates.change(u.type, u) for u in body.updates]
    after = await scaling.scale(who, found, changes, sizes)
    types = list(dict.fromkeys(c.ptype for c in changes))
    return [present.formation(after, t, found.name, sizes.catalog, sizes.uids) for t in types]
