"""Formations, dynos and sizes as Heroku's Platform API shows them (pure).

A Formation's process type is Heroku's formation; a pod is a dyno, named and stated by
dynoform.api.dynos exactly as the CLI's `ps` shows it; a size is shown by its display name
(`Standard-2X`), as Heroku's API answers, whatever case it was asked in.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dynoform.api.dynos import ONE_OFF, Dyno
from dynoform.api.oneoff import RunRequest
from dynoform.api.sizes import Catalog
from dynoform.api.units import parse_cpu, parse_memory
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation
from dynoform.server import schemas
from dynoform.server.ids import at, derived, timestamp

STACK = schemas.Ref(id=derived("stack", "container"), name="container")
REGION = schemas.Ref(id=derived("region", "kubernetes"), name="kubernetes")
PROCESS_TIERS = {"eco": "eco", "basic": "basic"}  # every other tier is Heroku's "production"


def app_ref(formation: Formation, name: str) -> schemas.Ref:
    return schemas.Ref(id=app_id(formation), name=name)


def app_id(formation: Formation) -> str:
    return str(formation.metadata.get("uid") or derived("app", formation.namespace, formation.name))


def formation_id(formation: Formation, ptype: str) -> str:
    return derived("formation", app_id(formation), ptype)


def size_id(name: str, catalog_uids: dict[str, str]) -> str:
    return catalog_uids.get(name.lower()) or derived("dyno-size", name.lower())


def updated_at(formation: Formation) -> str:
    """When the formation last changed: its newest history entry, else its creation."""
    history = formation.status.history if formation.status and formation.status.history else []
    if history:
        return timestamp(history[-1].time)
    return created_at(formation)


def created_at(formation: Formation) -> str:
    return timestamp(formation.metadata.get("creationTimestamp"))


def formation(
    f: Formation, ptype: str, name: str, catalog: Catalog, uids: dict[str, str]
) -> schemas.Formation:
    proc, size = f.spec.processes[ptype], f.spec.size_of(ptype)
    display = catalog.display(size)
    return schemas.Formation(
        id=formation_id(f, ptype),
        type=ptype,
        quantity=f.spec.quantity_of(ptype),
        size=display,
        dyno_size=schemas.Ref(id=size_id(size, uids), name=display),
        command=proc.command,
        app=app_ref(f, name),
        created_at=created_at(f),
        updated_at=updated_at(f),
    )


def dyno(
    d: Dyno, f: Formation, name: str, catalog: Catalog, uid: str, created: str
) -> schemas.Dyno:
    return schemas.Dyno(
        id=uid,
        name=d.name,
        type=d.type,
        state=d.state,
        size=catalog.display(d.size) if d.size else "",
        command=d.command,
        release=_release(f),
        app=app_ref(f, name),
        created_at=created,
        updated_at=at(d.updated_at),
    )


def dyno_size(name: str, spec: DynoSizeSpec, uids: dict[str, str]) -> schemas.DynoSize:
    return schemas.DynoSize(
        id=size_id(name, uids),
        name=spec.display_name or name,
        compute=parse_cpu(spec.limits.cpu) / 1000,
        memory=round(parse_memory(spec.limits.memory) / 2**30, 2),
        dedicated=spec.tier == "performance" or spec.requests.cpu == spec.limits.cpu,
        cost=schemas.Cost(cents=spec.cost.cents, unit=spec.cost.unit) if spec.cost else None,
    )


def process_tier(f: Formation, catalog: Catalog) -> str:
    """Heroku's tier of the app: eco or basic when every type runs that tier, else production."""
    sizes = [catalog.get(f.spec.size_of(t)) for t in f.spec.processes]
    tiers = {s.tier for s in sizes if s is not None}
    if len(tiers) == 1 and (tier := tiers.pop()) in PROCESS_TIERS:
        return PROCESS_TIERS[tier]
    return "production"


def app(f: Formation, name: str, catalog: Catalog) -> schemas.App:
    owner = schemas.Owner(id=derived("namespace", f.namespace), email=f.namespace)
    return schemas.App(
        id=app_id(f),
        name=name,
        owner=owner,
        region=REGION,
        stack=STACK,
        build_stack=STACK,
        process_tier=process_tier(f, catalog),
        web_url=None,
        created_at=created_at(f),
        updated_at=updated_at(f),
        released_at=updated_at(f),
    )


def pending_run(
    f: Formation, name: str, dyno_name: str, request: RunRequest, catalog: Catalog
) -> schemas.Dyno:
    """A run just created whose pod the Job controller has not made yet: starting."""
    now = at(datetime.now(UTC))
    return schemas.Dyno(
        id=derived("dyno", app_id(f), dyno_name, now),
        name=dyno_name,
        type=ONE_OFF,
        state="starting",
        size=catalog.display(request.size),
        command=request.command,
        release=_release(f),
        app=app_ref(f, name),
        created_at=now,
        updated_at=now,
    )


def _release(f: Formation) -> schemas.Release:
    return schemas.Release(
        id=derived("release", app_id(f), str(f.generation)), version=f.generation
    )
