"""The admission webhooks, registered with kopf only when the operator serves them.

- `catalog.dyno.dev` (validating): refuses what the size catalog forbids, with Heroku's wording.
- `audit.dyno.dev` (mutating): stamps who changed quantities or sizes.

Failure policy: Ignore, for both, and the configurations persist while the operator is down.
An operator outage must not block `kubectl apply` or an emergency `dyno ps:scale`; what the
webhook would have refused, the operator still refuses when it reconciles (a condition, the
running dynos untouched), and a change made while it was down is recorded without a user.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import kopf

from dynoform.admission import refusal, stamp
from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.controller import Controller
from dynoform.sizes import Catalog

# The DynoSize cache must be loaded to judge custom sizes; past this, answer with what we have.
SYNC_TIMEOUT = 5.0


@kopf.on.validate(
    GROUP,
    VERSION,
    "formations",
    id="catalog",
    operations=["CREATE", "UPDATE"],
    persistent=True,
    ignore_failures=True,
)
async def validate_formation(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    controller: Controller = memo["controller"]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(controller.wait_synced(), SYNC_TIMEOUT)
    reason = refusal(body, Catalog(controller.cache.sizes))
    if reason is not None:
        raise kopf.AdmissionError(reason, code=422)


@kopf.on.mutate(
    GROUP,
    VERSION,
    "formations",
    id="audit",
    operations=["CREATE", "UPDATE"],
    persistent=True,
    ignore_failures=True,
)
async def audit_formation(
    body: kopf.Body, userinfo: kopf.UserInfo, patch: kopf.Patch, **kwargs: Any
) -> None:
    # Async so kopf calls it on the loop, not through its thread pool (one hop less per request).
    # kopf passes the stored object as `old` on UPDATE (absent from its typed protocol).
    old: kopf.Body | None = kwargs.get("old")
    annotations = stamp(body, old, str(userinfo.get("username", "")))
    if annotations:
        patch.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
