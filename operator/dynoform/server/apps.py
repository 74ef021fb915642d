"""How Heroku's app names map to Formations (pure).

An app is a Formation. `shop` is the Formation `shop` in the namespace the server serves by
default (`dyno api -n`, the kubeconfig's namespace, or the chart's release namespace);
`shop.team-a` is the Formation `shop` in the namespace `team-a`, as a Service `shop` of `team-a`
is `shop.team-a` in cluster DNS. An app's id is its Formation's uid; an id is looked up among the
Formations of the default namespace. Names are checked here, before any request is made, so no
caller text ever reaches a Kubernetes URL unchecked.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from dynoform.server.errors import not_found

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class AppRef:
    """A Formation named by an app name, or an app id still to look up (`name` None)."""

    namespace: str
    name: str | None = None
    uid: str | None = None

    def display(self, default_namespace: str) -> str:
        name = self.name or ""
        return name if self.namespace == default_namespace else f"{name}.{self.namespace}"


def parse(identity: str, default_namespace: str) -> AppRef:
    """`shop`, `shop.team-a` or a uid; anything else is Heroku's 404 for an unknown app."""
    if _is_uuid(identity):
        return AppRef(default_namespace, uid=identity.lower())
    name, _, namespace = identity.partition(".")
    namespace = namespace or default_namespace
    if not DNS_LABEL.match(name) or not DNS_LABEL.match(namespace) or name[0].isdigit():
        raise not_found("app")
    return AppRef(namespace, name)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False
