"""The server's one door to Kubernetes: an async HTTP client that makes each call with the
caller's own bearer token.

One connection pool to the API server serves every caller; what differs per call is only the
Authorization header. Nothing here holds or falls back to credentials of its own. Failures leave
as KubeError (an answer) or as HerokuError 503 (no answer). Formation writes are optimistic merge
patches carrying the resourceVersion read, as the CLI's (dynoform.cli.client explains why).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx2

from dynoform.api.labels import CHILD_LABELS, LABEL_FORMATION
from dynoform.api.v1alpha1 import GROUP, VERSION
from dynoform.server.config import Upstream
from dynoform.server.errors import HerokuError, KubeError

log = logging.getLogger("dynoform.server")

FIELD_MANAGER = "dyno-platform-api"
TIMEOUT = 30.0
DYNO_API = f"/apis/{GROUP}/{VERSION}"
MERGE = "application/merge-patch+json"
WATCH_SECONDS = 240  # the API server ends a watch after this; the caller watches again


class Kube:
    """Requests to the Kubernetes API server, each made as the caller (`token`)."""

    def __init__(
        self, upstream: Upstream, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.upstream = upstream
        self.http = httpx2.AsyncClient(
            base_url=upstream.server,
            verify=upstream.ssl_context(),
            timeout=TIMEOUT,
            limits=httpx2.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        token: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            response = await self.http.request(
                method, path, json=body, params=params, headers=headers
            )
        except httpx2.HTTPError as exc:
            log.warning("Kubernetes API unreachable: %s", exc)
            raise HerokuError(503, "The Kubernetes API cannot be reached.") from exc
        if response.status_code >= 400:
            raise _error(response)
        return dict(response.json())

    # -- Formations and sizes -----------------------------------------------------------------

    async def formation(self, token: str, namespace: str, name: str) -> dict[str, Any]:
        return await self.call(token, "GET", _formations(namespace, name))

    async def formations(self, token: str, namespace: str) -> list[dict[str, Any]]:
        return _items(await self.call(token, "GET", _formations(namespace)))

    async def all_formations(self, token: str) -> list[dict[str, Any]]:
        """The Formations of every namespace (a cluster-wide list: RBAC often refuses it)."""
        return _items(await self.call(token, "GET", f"{DYNO_API}/formations"))

    async def patch_formation(
        self, token: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.call(
            token,
            "PATCH",
            _formations(namespace, name),
            body=patch,
            params={"fieldManager": FIELD_MANAGER},
            content_type=MERGE,
        )

    async def dyno_sizes(self, token: str) -> list[dict[str, Any]]:
        return _items(await self.call(token, "GET", f"{DYNO_API}/dynosizes"))

    # -- Dynos --------------------------------------------------------------------------------

    async def pods(self, token: str, namespace: str, app: str) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{namespace}/pods"
        return _items(await self.call(token, "GET", path, params=_selector({LABEL_FORMATION: app})))

    async def jobs(self, token: str, namespace: str, app: str) -> list[dict[str, Any]]:
        path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        return _items(await self.call(token, "GET", path, params=_selector({LABEL_FORMATION: app})))

    async def deployments(self, token: str, namespace: str, app: str) -> list[dict[str, Any]]:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        labels = {LABEL_FORMATION: app, **CHILD_LABELS}
        return _items(await self.call(token, "GET", path, params=_selector(labels)))

    async def patch_deployment(
        self, token: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> None:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{quote(name)}"
        params = {"fieldManager": FIELD_MANAGER}
        await self.call(token, "PATCH", path, body=patch, params=params, content_type=MERGE)

    async def create_job(self, token: str, namespace: str, job: dict[str, Any]) -> dict[str, Any]:
        path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        return await self.call(
            token, "POST", path, body=job, params={"fieldManager": FIELD_MANAGER}
        )

    async def delete(self, token: str, namespace: str, kind: str, name: str) -> None:
        """Delete a Pod or a Job (in the background, so a Job's pods go too); gone is fine."""
        base = "/api/v1" if kind == "Pod" else "/apis/batch/v1"
        path = f"{base}/namespaces/{namespace}/{kind.lower()}s/{quote(name)}"
        try:
            await self.call(token, "DELETE", path, body={"propagationPolicy": "Background"})
        except KubeError as exc:
            if exc.status != 404:
                raise

    # -- Watches ------------------------------------------------------------------------------

    async def watch(
        self, token: str, path: str, params: dict[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch of `path` (its list URL) as the caller, until the API server
        ends it (after WATCH_SECONDS); a refusal leaves as KubeError before any event."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        query = {**params, "watch": "1", "timeoutSeconds": str(WATCH_SECONDS)}
        timeout = httpx2.Timeout(TIMEOUT, read=WATCH_SECONDS + TIMEOUT)
        try:
            async with self.http.stream(
                "GET", path, params=query, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield dict(json.loads(line))
        except httpx2.HTTPError as exc:
            log.warning("Kubernetes API watch ended: %s", exc)
            raise HerokuError(503, "The Kubernetes API cannot be reached.") from exc

    # -- Who is calling -----------------------------------------------------------------------

    async def whoami(self, token: str) -> dict[str, Any]:
        """The caller as the API server authenticates them (a SelfSubjectReview)."""
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
        answer = await self.call(token, "POST", path, body=review)
        return dict((answer.get("status") or {}).get("userInfo") or {})


def formation_watch(namespace: str, name: str) -> tuple[str, dict[str, str]]:
    """What watches one Formation: its list URL and a field selector on its name."""
    return _formations(namespace), {"fieldSelector": f"metadata.name={name}"}


def pod_watch(namespace: str, app: str) -> tuple[str, dict[str, str]]:
    """What watches the pods of a Formation (the selector of `Kube.pods`)."""
    return f"/api/v1/namespaces/{namespace}/pods", _selector({LABEL_FORMATION: app})


def _formations(namespace: str, name: str | None = None) -> str:
    path = f"{DYNO_API}/namespaces/{namespace}/formations"
    return f"{path}/{quote(name)}" if name else path


def _selector(labels: dict[str, str]) -> dict[str, str]:
    return {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))}


def _items(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(i) for i in answer.get("items") or []]


def _error(response: httpx2.Response) -> KubeError:
    try:
        status = response.json()
    except ValueError:
        status = {}
    return KubeError(
        response.status_code,
        str(status.get("reason") or response.reason_phrase),
        str(status.get("message") or response.text[:200]),
    )
