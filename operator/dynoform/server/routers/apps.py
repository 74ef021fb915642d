"""App (a Formation) list and info, its add-ons (none), and the account (the caller)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from dynoform.server import apps, present, schemas
from dynoform.server.context import parse_formation
from dynoform.server.errors import KubeError, from_kube
from dynoform.server.ids import derived
from dynoform.server.routers.common import RangeHeader, Who, paginate

router = APIRouter(tags=["App", "Account"])


@router.get("/apps", response_model=list[schemas.App])
async def app_list(who: Who, response: Response, range_: RangeHeader = None) -> list[schemas.App]:
    """The Formations of the default namespace."""
    try:
        items = await who.kube.formations(who.token, who.namespace)
    except KubeError as exc:
        raise from_kube(exc) from exc
    catalog = (await who.catalog()).catalog
    shown = []
    for raw in items:
        f = parse_formation(raw)
        shown.append(
            present.app(f, apps.AppRef(f.namespace, f.name).display(who.namespace), catalog)
        )
    return paginate(shown, range_, ("id", "name"), response)


@router.get("/apps/{app}", response_model=schemas.App)
async def app_info(app: str, who: Who) -> schemas.App:
    found = await who.app(app)
    return present.app(found.formation, found.name, (await who.catalog()).catalog)


@router.get("/apps/{app}/addons")
async def addon_list(app: str, who: Who) -> list[Any]:
    """No add-ons: dynoform runs dynos only (apps:info reads this list)."""
    await who.app(app)
    return []


@router.get("/account", response_model=schemas.Account)
async def account_info(who: Who) -> schemas.Account:
    """The caller, as the Kubernetes API server authenticates their token."""
    try:
        user = await who.kube.whoami(who.token)
    except KubeError as exc:
        raise from_kube(exc) from exc
    name = str(user.get("username") or "")
    return schemas.Account(id=str(user.get("uid") or derived("user", name)), email=name, name=name)
