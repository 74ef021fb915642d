"""What every request works with: the caller's token, the Formation it names, the catalog.

The API key arrives as Heroku's clients send it: `Authorization: Bearer KEY` (the `heroku` CLI,
heroku-client) or HTTP Basic with the key as the password (netrc-style clients). It is the
caller's Kubernetes bearer token and is only ever passed on to the Kubernetes API.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import DynoSize, Formation
from dynoform.server import apps
from dynoform.server.errors import UNAUTHORIZED, HerokuError, KubeError, from_kube
from dynoform.server.kube import Kube


@dataclass(frozen=True)
class Caller:
    """One request's caller, and the Kubernetes API reached as them."""

    token: str
    kube: Kube
    namespace: str  # the namespace whose Formations unqualified app names name

    async def app(self, identity: str) -> App:
        """The app the path names, read as the caller (403/404 as Heroku answers)."""
        ref = apps.parse(identity, self.namespace)
        if ref.uid is not None:
            return await self._app_by_id(ref)
        assert ref.name is not None
        try:
            raw = await self.kube.formation(self.token, ref.namespace, ref.name)
        except KubeError as exc:
            raise from_kube(exc, identity) from exc
        return App(ref, parse_formation(raw), ref.display(self.namespace), raw)

    async def _app_by_id(self, ref: apps.AppRef) -> App:
        try:
            items = await self.kube.formations(self.token, ref.namespace)
        except KubeError as exc:
            raise from_kube(exc, ref.uid) from exc
        for raw in items:
            if raw.get("metadata", {}).get("uid") == ref.uid:
                named = apps.AppRef(ref.namespace, raw["metadata"]["name"])
                return App(named, parse_formation(raw), named.display(self.namespace), raw)
        raise HerokuError(404, "Couldn't find that app.")

    async def catalog(self) -> Sizes:
        """The cluster's sizes as the caller may read them; built-ins alone when DynoSizes
        are unreadable (then only the API server's admission checks a size)."""
        try:
            objects = await self.kube.dyno_sizes(self.token)
        except KubeError as exc:
            if exc.status == 401:
                raise from_kube(exc) from exc
            return Sizes(Catalog(), {}, readable=False)
        sizes, uids = [], {}
        for obj in objects:
            try:
                sizes.append(DynoSize.model_validate(obj))
            except ValidationError:
                continue  # The operator reports a bad DynoSize; the rest still count.
            uids[sizes[-1].name] = str(obj.get("metadata", {}).get("uid", ""))
        return Sizes(Catalog.from_objects(sizes), uids, readable=True)


@dataclass(frozen=True)
class App:
    """A Formation as an app: where it is, what it holds, and the name shown."""

    ref: apps.AppRef
    formation: Formation
    name: str
    raw: dict[str, Any]

    @property
    def namespace(self) -> str:
        return self.ref.namespace


@dataclass(frozen=True)
class Sizes:
    catalog: Catalog
    uids: dict[str, str]
    readable: bool

    @property
    def checks(self) -> Catalog | None:
        """The catalog to check changes against; None when it is not the cluster's."""
        return self.catalog if self.readable else None


def parse_formation(raw: dict[str, Any]) -> Formation:
    try:
        return Formation.model_validate(raw)
    except ValidationError as exc:
        raise HerokuError(503, "This Formation cannot be read by this server version.") from exc


def token_of(request: Request) -> str:
    """The API key of the request, or Heroku's 401."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = value.strip()
    if scheme.lower() == "basic":
        token = _basic_password(token)
    elif scheme.lower() != "bearer":
        token = ""
    if not token or any(c.isspace() for c in token):
        raise HerokuError(401, UNAUTHORIZED)
    return token


def _basic_password(value: str) -> str:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


def caller(request: Request) -> Caller:
    """The FastAPI dependency every route takes."""
    state = request.app.state
    return Caller(token_of(request), state.kube, state.namespace)
