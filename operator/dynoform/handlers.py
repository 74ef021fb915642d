"""kopf registration and settings: thin adapters from kopf's events to the Controller.

Only low-level `on.event` handlers are used, on Formations: they persist nothing, so kopf writes
nothing on Formations (no finalizer, no last-handled-configuration annotation) and an operator
that is down never blocks a deletion. Children and DynoSizes are watched by the Controller's own
informers (dynoform.kube), which tell exactly when their initial listing has loaded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.controller import Controller
from dynoform.election import Election
from dynoform.kube import Kube
from dynoform.webhook_process import NotServing, WebhookProcess

# From the fork to the webhooks' answer: kopf's start, a CRD scan, the DynoSize listing.
WEBHOOKS_READY_TIMEOUT = 60.0


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.level = logging.WARNING
    settings.networking.request_timeout = 60
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60)
    settings.watching.chunk_size = 500
    # Our own names from day one: changing them later would re-handle every object.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    kube = Kube()
    election = None
    if memo.get("leader_elect"):
        election = Election(kube, memo["lease_namespace"], memo["lease_name"], memo["identity"])
    controller = Controller(
        kube,
        namespaces=memo.get("namespaces", []),
        resync_seconds=memo.get("resync_seconds", 300.0),
        election=election,
    )
    controller.start()
    memo["controller"] = controller
    webhooks: WebhookProcess | None = memo.get("webhook_process")
    if webhooks is not None:
        await _wait_for_webhooks(webhooks, memo)


async def _wait_for_webhooks(webhooks: WebhookProcess, memo: kopf.Memo) -> None:
    """Return once the webhook server's process answers: kopf serves the liveness probe only
    after the start-up handlers, so "alive" (the Pod Ready, a test's operator started) means
    that a Formation applied now meets the webhooks."""
    host, port = memo["webhook_dial"]
    try:
        await webhooks.ready(host, port, WEBHOOKS_READY_TIMEOUT)
    except NotServing as exc:
        raise kopf.PermanentError(f"No admission webhooks: {exc}") from exc


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    # Both at once: the webhook server stops while the controller releases its Lease.
    await asyncio.gather(_stop_controller(memo), _stop_webhooks(memo))
    stop_flag: asyncio.Event | None = memo.get("stop_flag")
    if stop_flag is not None:
        # Stopped by a signal, kopf leaves its waiter of the stop flag pending and then waits
        # 5 s for it as a hung task (kopf 1.45, running.stop_flag_checker): raised, it ends.
        stop_flag.set()


async def _stop_controller(memo: kopf.Memo) -> None:
    controller: Controller | None = memo.get("controller")
    if controller is not None:
        await controller.stop()
        await controller.kube.close()


async def _stop_webhooks(memo: kopf.Memo) -> None:
    webhooks: WebhookProcess | None = memo.get("webhook_process")
    if webhooks is not None:
        await webhooks.stop()


# Async on purpose: kopf runs a sync handler in a thread pool, and the cache and the asyncio
# work queue belong to the event loop (a put from another thread does not even wake the loop).
@kopf.on.event(GROUP, VERSION, "formations")
async def formation_event(
    event: kopf.RawEvent, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    memo["controller"].formation_event(type, event["object"])
