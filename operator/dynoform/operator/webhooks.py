"""The admission webhook, registered with kopf only when the operator serves it.

One mutating webhook, `formations.dyno.dev`, does both admission jobs in one call:

- it refuses what the size catalog forbids, with Heroku's wording;
- it stamps who changed quantities or sizes (the audit of who scaled).

One call, not a validating and a mutating webhook: every webhook call costs a `dyno ps:scale`
15-20 ms inside the API server (measured on the benchmark's settled N = 1000: the PATCH's p50
54 ms with two webhooks, 41 with one, 18 with none). A mutating webhook sees the object before
the mutations that may follow it, so the chart registers it with `reinvocationPolicy: IfNeeded`:
if a later mutating webhook changes the Formation, this one is called again and judges the
final object. It also runs before the CRD's schema and CEL rules: a body that does not parse
is left to them (dynoform.core.admission.refusal). What still slips past (a webhook down: failure
policy Ignore) the operator refuses when it reconciles, as before.

Failure policy: Ignore, and the configuration persists while the operator is down. An operator
outage must not block `kubectl apply` or an emergency `dyno ps:scale`; what the webhook would
have refused, the operator still refuses when it reconciles (a condition, the running dynos
untouched), and a change made while it was down is recorded without a user.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import kopf

from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.core.admission import size_error, stamp
from dynoform.operator import metrics
from dynoform.operator.controller import Controller

# The DynoSize cache must be loaded to judge custom sizes; past this, answer with what we have.
SYNC_TIMEOUT = 5.0


@kopf.on.mutate(
    GROUP,
    VERSION,
    "formations",
    id="formations",
    operations=["CREATE", "UPDATE"],
    persistent=True,
    ignore_failures=True,
)
async def admit_formation(
    body: kopf.Body,
    userinfo: kopf.UserInfo,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    # Async so kopf calls it on the loop, not through its thread pool (one hop less per request).
    controller: Controller = memo["controller"]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(controller.wait_synced(), SYNC_TIMEOUT)
    refused = size_error(body, Catalog(controller.cache.sizes))
    if refused is not None:
        metrics.ADMISSION_REFUSALS.labels(refused.reason).inc()
        raise kopf.AdmissionError(str(refused), code=422)
    # kopf passes the stored object as `old` on UPDATE (absent from its typed protocol).
    old: kopf.Body | None = kwargs.get("old")
    annotations = stamp(body, old, str(userinfo.get("username", "")))
    if annotations:
        patch.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
