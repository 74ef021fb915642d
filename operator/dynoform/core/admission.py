"""Admission decisions (pure): the catalog's rules, and who changed the formation.

The API server judges and stamps with the admission policies (dynoform.api.admission); the
optional webhook (dynoform.operator.webhooks), for clusters that serve no
MutatingAdmissionPolicy, does the same here in Python. The operator applies the same rules when
it reconciles, so a cluster without either still never half-applies a bad formation. The stamp
records the requesting user beside the shape of the formation it saw: the operator credits a
change only while the Formation still has that shape, so a change that no stamp vouches for is
never credited to the previous user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from dynoform.api.admission import shape
from dynoform.api.labels import CHANGED_BY, CHANGED_TO
from dynoform.api.sizes import Catalog, SizeError, check
from dynoform.api.v1alpha1 import Formation


def refusal(body: Mapping[str, Any], catalog: Catalog) -> str | None:
    """Why the size catalog refuses this Formation, or None.

    A body that does not parse is not judged here: the webhook is a mutating one, which the API
    server calls before its own schema, CEL rules and admission policy, and those refuse such
    a body afterwards in their own words (the words the docs and the tests promise). The
    operator refuses at reconcile whatever would still slip through.
    """
    refused = size_error(body, catalog)
    return None if refused is None else str(refused)


def size_error(body: Mapping[str, Any], catalog: Catalog) -> SizeError | None:
    """The catalog's refusal of this Formation, with its reason, or None (see `refusal`)."""
    try:
        # Strict, from JSON: as the schema types it (a quantity "3" is no integer there, though
        # lax validation would take it), so only what the schema accepts is judged here.
        formation = Formation.model_validate_json(json.dumps(dict(body)), strict=True)
    except ValidationError:
        return None
    try:
        check(formation.spec, catalog)
    except SizeError as exc:
        return exc
    return None


def stamp(
    new: Mapping[str, Any], old: Mapping[str, Any] | None, username: str
) -> dict[str, str] | None:
    """Annotations recording who changed quantities or sizes; None when neither changed."""
    after = _shape(new)
    if after is None or (old is not None and _shape(old) == after):
        return None
    return {CHANGED_BY: username, CHANGED_TO: after}


def changed_by(formation: Formation) -> str | None:
    """The user who made the formation what it is now, when the stamp says so."""
    annotations = formation.metadata.get("annotations") or {}
    if annotations.get(CHANGED_TO) != shape(formation.spec):
        return None
    by = annotations.get(CHANGED_BY)
    return str(by) if by else None


def _shape(body: Mapping[str, Any]) -> str | None:
    try:
        return shape(Formation.model_validate(body).spec)
    except ValidationError:
        return None  # Validation refuses it; nothing to record.
