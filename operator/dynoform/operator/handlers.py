"""kopf registration and settings: thin adapters from kopf's events to the Controller.

Only low-level `on.event` handlers are used, on Formations: they persist nothing, so kopf writes
nothing on Formations (no finalizer, no last-handled-configuration annotation) and an operator
that is down never blocks a deletion. Children and DynoSizes are watched by the Controller's own
informers (dynoform.runtime.kube), which tell exactly when their initial listing has loaded.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import kopf

from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.operator.controller import Controller
from dynoform.runtime.election import Election
from dynoform.runtime.kube import Kube

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a pod, the service account at the API server's address that the kubelet puts in
    KUBERNETES_SERVICE_HOST/PORT, as client-go's InClusterConfig (and lightkube) log in. kopf's
    own service-account login dials https://kubernetes.default.svc, a name only cluster DNS
    resolves; a cluster without it (or a pod with its own DNS policy) would never connect.
    Elsewhere, the kubeconfig. Called again on a 401, so a rotated token is read afresh."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT")
    token = SERVICE_ACCOUNT / "token"
    if not (host and port and token.is_file()):
        return kopf.login_with_kubeconfig(**kwargs)
    namespace = SERVICE_ACCOUNT / "namespace"
    return kopf.ConnectionInfo(
        server=f"https://{f'[{host}]' if ':' in host else host}:{port}",
        ca_path=str(SERVICE_ACCOUNT / "ca.crt"),
        token=token.read_text().strip(),
        default_namespace=namespace.read_text().strip() if namespace.is_file() else None,
    )


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
    if memo.get("webhook_port") is not None:
        _serve_webhooks_locally(settings, memo)
    elif memo.get("webhook_listen"):
        _serve_webhooks_in_cluster(settings, memo)
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


def _serve_webhooks_in_cluster(settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    """In a cluster: the chart mounts the certificate and owns the webhook configurations,
    which reaches us through a Service at /formations."""
    addr, _, port = str(memo["webhook_listen"]).rpartition(":")
    tls_dir = Path(memo["webhook_tls_dir"])
    settings.admission.server = kopf.WebhookServer(
        addr=addr or None,
        port=int(port),
        certfile=str(tls_dir / "tls.crt"),
        pkeyfile=str(tls_dir / "tls.key"),
    )


def _serve_webhooks_locally(settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    """Local use: serve on 127.0.0.1 with a self-signed certificate; kopf keeps the
    MutatingWebhookConfiguration named dyno.dev pointing at us (and its
    Validating twin empty: the webhook that was there is now part of the mutating one)."""
    # Imported here: cryptography costs the operator about 7 MB of memory, and only this
    # optional, local webhook needs it (in a cluster the chart provides the certificate).
    from dynoform.operator import tls

    memo["webhook_dir"] = Path(tempfile.mkdtemp(prefix="dynoform-webhook-"))
    cert = tls.self_signed(memo["webhook_dir"])
    settings.admission.server = kopf.WebhookServer(
        addr="127.0.0.1",
        host="127.0.0.1",
        port=memo["webhook_port"] or None,  # 0: any free port
        certfile=str(cert.certfile),
        pkeyfile=str(cert.keyfile),
        cadata=cert.ca_pem,
    )
    settings.admission.managed = GROUP


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    controller: Controller | None = memo.get("controller")
    if controller is not None:
        await controller.stop()
        await controller.kube.close()
    if memo.get("webhook_dir"):
        shutil.rmtree(memo["webhook_dir"], ignore_errors=True)


# Async on purpose: kopf runs a sync handler in a thread pool, and the cache and the asyncio
# work queue belong to the event loop (a put from another thread does not even wake the loop).
@kopf.on.event(GROUP, VERSION, "formations")
async def formation_event(
    event: kopf.RawEvent, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    memo["controller"].formation_event(type, event["object"])
