"""Labels, metadata and owner references of every child of a Formation (the names are the
API's: dynoform.api.labels)."""

from __future__ import annotations

from typing import Any

from dynoform.api.labels import (
    LABEL_FORMATION,
    LABEL_MANAGED_BY,
    LABEL_TYPE,
    MANAGED_BY,
    child_name,
)
from dynoform.api.v1alpha1 import API_VERSION, Formation

Manifest = dict[str, Any]


def selector(formation: Formation, ptype: str) -> dict[str, str]:
    """Pod selector of a process type; immutable on a Deployment, so never change it."""
    return {LABEL_FORMATION: formation.name, LABEL_TYPE: ptype}


def labels(formation: Formation, ptype: str) -> dict[str, str]:
    """Kubernetes' recommended labels plus our selector labels."""
    return {
        "app.kubernetes.io/name": formation.name,
        "app.kubernetes.io/instance": formation.name,
        "app.kubernetes.io/component": ptype,
        LABEL_MANAGED_BY: MANAGED_BY,
        **selector(formation, ptype),
    }


def owner_reference(formation: Formation) -> dict[str, Any]:
    """Garbage collection deletes the children with the Formation, with no finalizer."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Formation",
        "name": formation.name,
        "uid": formation.metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(formation: Formation, ptype: str) -> dict[str, Any]:
    return {
        "name": child_name(formation, ptype),
        "namespace": formation.namespace,
        "labels": labels(formation, ptype),
        "ownerReferences": [owner_reference(formation)],
    }
