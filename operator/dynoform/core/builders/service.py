"""Formation + process type -> Service, for process types that listen on a port (pure)."""

from __future__ import annotations

from dynoform.api.v1alpha1 import Formation
from dynoform.core.builders.meta import Manifest, metadata, selector


def build_service(formation: Formation, ptype: str) -> Manifest | None:
    """A ClusterIP Service on port 80 in front of the type's dynos, or None if it has no port."""
    if formation.spec.port_of(ptype) is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(formation, ptype),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(formation, ptype),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
