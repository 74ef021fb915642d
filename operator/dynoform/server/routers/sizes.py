"""Dyno size: list and info, from the catalog (Heroku's sizes and the admin's DynoSizes)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from dynoform.server import present, schemas
from dynoform.server.context import Sizes
from dynoform.server.errors import HerokuError
from dynoform.server.routers.common import RangeHeader, Who, paginate

router = APIRouter(tags=["Dyno Size"])


def _named(sizes: Sizes) -> list[tuple[str, schemas.DynoSize]]:
    """(catalog name, shown) of every size, smallest first."""
    catalog = sizes.catalog
    return [
        (n, present.dyno_size(n, spec, sizes.uids))
        for n in catalog.names()
        if (spec := catalog.get(n)) is not None
    ]


def _all(sizes: Sizes) -> list[schemas.DynoSize]:
    return [shown for _, shown in _named(sizes)]


@router.get("/dyno-sizes", response_model=list[schemas.DynoSize])
async def dyno_size_list(
    who: Who, response: Response, range_: RangeHeader = None
) -> list[schemas.DynoSize]:
    items = _all(await who.catalog())
    if range_ is None:  # the catalog's own order (smallest first), as Heroku lists them
        response.headers["Accept-Ranges"] = "name, id"
        return items
    return paginate(items, range_, ("name", "id"), response)


@router.get("/dyno-sizes/{size}", response_model=schemas.DynoSize)
async def dyno_size_info(size: str, who: Who) -> schemas.DynoSize:
    """A size by its id, its name (`performance-l`) or its display name (`Performance-L`)."""
    for name, item in _named(await who.catalog()):
        if size.lower() in (name, item.id, item.name.lower()):
            return item
    raise HerokuError(404, "Couldn't find that dyno size.")
