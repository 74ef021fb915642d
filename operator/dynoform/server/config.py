"""Where the Kubernetes API server is: its URL, its CA and the namespace served by default.

Read from a kubeconfig (`dyno api`, on a developer's machine) or from the in-cluster files of a
pod (the chart). Only the cluster half of a kubeconfig is used: credentials come with each
request, never from the file.
"""

from __future__ import annotations

import base64
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(RuntimeError):
    """No usable cluster in the kubeconfig or the pod."""


@dataclass(frozen=True)
class Upstream:
    """The Kubernetes API server the Platform API talks to, and its default namespace."""

    server: str
    namespace: str = "default"
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        if self.ca_file is None and self.ca_data is None:
            return True
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.ca_data is not None:
            context.load_verify_locations(cadata=self.ca_data.decode())
        return context

    def with_namespace(self, namespace: str | None) -> Upstream:
        if not namespace:
            return self
        return Upstream(self.server, namespace, self.ca_file, self.ca_data, self.insecure)


def from_kubeconfig(path: str | None = None, context: str | None = None) -> Upstream:
    """The cluster and namespace of the kubeconfig's (current) context."""
    file = Path(path or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or _home_config())
    try:
        doc: dict[str, Any] = yaml.safe_load(file.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the kubeconfig {file}: {exc}") from exc
    name = context or doc.get("current-context")
    ctx = _named(doc, "contexts", name).get("context") or {}
    cluster = _named(doc, "clusters", ctx.get("cluster")).get("cluster") or {}
    if not cluster.get("server"):
        raise ConfigError(f"The kubeconfig {file} has no cluster for context {name!r}.")
    ca_file = cluster.get("certificate-authority")
    if ca_file and not Path(ca_file).is_absolute():
        ca_file = str(file.parent / ca_file)
    ca_data = cluster.get("certificate-authority-data")
    return Upstream(
        server=str(cluster["server"]).rstrip("/"),
        namespace=str(ctx.get("namespace") or "default"),
        ca_file=ca_file,
        ca_data=base64.b64decode(ca_data) if ca_data else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def in_cluster(root: Path = SERVICE_ACCOUNT) -> Upstream:
    """The API server of the pod this runs in, and the pod's namespace."""
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        raise ConfigError("Not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set.")
    host = f"[{host}]" if ":" in host else host
    namespace_file = root / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.exists() else "default"
    return Upstream(f"https://{host}:{port}", namespace, ca_file=str(root / "ca.crt"))


def _home_config() -> str:
    return str(Path.home() / ".kube" / "config")


def _named(doc: dict[str, Any], key: str, name: Any) -> dict[str, Any]:
    for entry in doc.get(key) or []:
        if entry.get("name") == name:
            return dict(entry)
    return {}
