"""The admission webhooks, registered with kopf in their own process (dynoform.webhook_process).

- `catalog.dyno.dev` (validating): refuses what the size catalog forbids, with Heroku's wording.
- `audit.dyno.dev` (mutating): stamps who changed quantities or sizes.

The process runs its own kopf with these handlers only, and an informer of DynoSizes: all that
the webhooks read. Nothing else runs on its loop, so a call is answered at once rather than
after the operator's watches, reconciles and garbage-collection pauses.

Failure policy: Ignore, for both, and the configurations persist while the operator is down.
An operator outage must not block `kubectl apply` or an emergency `dyno ps:scale`; what the
webhook would have refused, the operator still refuses when it reconciles (a condition, the
running dynos untouched), and a change made while it was down is recorded without a user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import kopf

from dynoform import tls, webhook_process
from dynoform.admission import refusal, stamp
from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.cache import Cache, Obj
from dynoform.kube import Kube, trim
from dynoform.sizes import Catalog

# The DynoSize cache must be loaded to judge custom sizes; past this, answer with what we have.
SYNC_TIMEOUT = 5.0


class Sizes:
    """The DynoSize catalog as an informer keeps it; `synced` once the first listing is in."""

    def __init__(self) -> None:
        self._cache = Cache()  # its DynoSize bookkeeping only (the schema check included)
        self.synced = asyncio.Event()

    def replace(self, _: str, objs: list[Obj]) -> None:
        self._cache.set_sizes(objs)
        self.synced.set()

    def event(self, etype: str, obj: Obj) -> None:
        if etype == "DELETED":
            self._cache.drop_size(obj)
        else:
            self._cache.set_size(obj)

    def catalog(self) -> Catalog:
        return Catalog(self._cache.sizes)


@kopf.on.startup()
async def serve(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Set up the webhook server; watch the DynoSizes, and tell the operator once listed."""
    settings.posting.level = logging.WARNING
    settings.networking.request_timeout = 60
    if memo.get("webhook_port") is not None:
        _serve_webhooks_locally(settings, memo)
    else:
        _serve_webhooks_in_cluster(settings, memo)
    kube, sizes = Kube(), Sizes()
    memo["kube"], memo["sizes"] = kube, sizes
    memo["tasks"] = [
        asyncio.create_task(kube.inform("DynoSize", {}, sizes.replace, sizes.event, None, trim)),
        asyncio.create_task(_report_synced(sizes, memo["ready_fd"])),
        asyncio.create_task(webhook_process.watch_parent(memo["parent_pid"])),
    ]


async def _report_synced(sizes: Sizes, ready_fd: int) -> None:
    await sizes.synced.wait()
    webhook_process.report_synced(ready_fd)


def _serve_webhooks_in_cluster(settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    """In a cluster: the chart mounts the certificate and owns the webhook configurations,
    which reach us through a Service at /catalog and /audit."""
    addr, port = webhook_process.split_listen(str(memo["webhook_listen"]))
    tls_dir = Path(memo["webhook_tls_dir"])
    settings.admission.server = kopf.WebhookServer(
        addr=addr or None,
        port=port,
        certfile=str(tls_dir / "tls.crt"),
        pkeyfile=str(tls_dir / "tls.key"),
    )


def _serve_webhooks_locally(settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    """Local use: serve on 127.0.0.1 (the port the operator chose) with a self-signed
    certificate; kopf keeps the Validating/MutatingWebhookConfiguration named dyno.dev pointing
    at us."""
    memo["webhook_dir"] = Path(tempfile.mkdtemp(prefix="dynoform-webhook-"))
    cert = tls.self_signed(memo["webhook_dir"])
    settings.admission.server = kopf.WebhookServer(
        addr="127.0.0.1",
        host="127.0.0.1",
        port=memo["webhook_port"],
        certfile=str(cert.certfile),
        pkeyfile=str(cert.keyfile),
        cadata=cert.ca_pem,
    )
    settings.admission.managed = GROUP


@kopf.on.cleanup()
async def stop_serving(memo: kopf.Memo, **_: Any) -> None:
    tasks: list[asyncio.Task[None]] = memo.get("tasks", [])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if memo.get("kube") is not None:
        await memo["kube"].close()
    if memo.get("webhook_dir"):
        shutil.rmtree(memo["webhook_dir"], ignore_errors=True)


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
    sizes: Sizes = memo["sizes"]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sizes.synced.wait(), SYNC_TIMEOUT)
    reason = refusal(body, sizes.catalog())
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
