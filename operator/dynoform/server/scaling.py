"""A formation update: read the Formation as the caller, compute the change, write it only if
nobody wrote in between (the resourceVersion read), and on a conflict read and compute again, so
`+1` from ten clients at once adds ten. Refused changes write nothing.
"""

from __future__ import annotations

import asyncio
import random

from dynoform.api import edit
from dynoform.api.edit import ScaleChange
from dynoform.api.v1alpha1 import Formation
from dynoform.server.context import App, Caller, Sizes, parse_formation
from dynoform.server.errors import HerokuError, KubeError, from_kube, invalid
from dynoform.server.updates import not_a_type

CONFLICT_ATTEMPTS = 20


async def scale(caller: Caller, app: App, changes: list[ScaleChange], sizes: Sizes) -> Formation:
    """The Formation after `changes`, written in one patch."""
    current = app
    for attempt in range(CONFLICT_ATTEMPTS):
        after = await _attempt(caller, current, changes, sizes)
        if after is not None:
            return after
        await asyncio.sleep(random.uniform(0, min(0.5, 0.02 * 2**attempt)))  # full jitter
        current = await caller.app(app.name)
    raise HerokuError(409, f"{app.name} kept changing; nothing was changed. Try again.")


async def _attempt(
    caller: Caller, app: App, changes: list[ScaleChange], sizes: Sizes
) -> Formation | None:
    spec = app.formation.spec
    for c in changes:
        if c.ptype not in spec.processes:
            raise not_a_type(c.ptype)
    try:
        new = edit.scale(spec, changes, sizes.checks)
    except edit.Refused as exc:
        raise invalid(str(exc)) from exc
    patch = edit.processes_patch(spec, new)
    if not patch:
        return app.formation
    body = {**patch, "metadata": {"resourceVersion": app.raw["metadata"]["resourceVersion"]}}
    try:
        raw = await caller.kube.patch_formation(
            caller.token, app.namespace, app.formation.name, body
        )
    except KubeError as exc:
        if exc.status == 409:
            return None
        if exc.status == 403:
            raise HerokuError(403, f"You may not scale {app.name}: {exc.message}") from exc
        raise from_kube(exc, app.name) from exc
    return parse_formation(raw)
