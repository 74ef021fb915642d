"""Admission decisions (pure): the catalog's rules at apply time, and who changed the formation.

Served by the operator's webhook (dynoform.operator.webhooks); the operator applies the same rules
when it reconciles, so a cluster whose webhook is down or absent still never half-applies a bad
formation. The audit stamp records the requesting user beside the formation it saw: the operator
attributes a change only when the stamp matches what it reconciles, so a change made while the
webhook was unreachable is never credited to the previous user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from dynoform.api.sizes import Catalog, SizeError, check
from dynoform.api.v1alpha1 import Formation
from dynoform.core.status import summary

CHANGED_BY = "dyno.dev/changed-by"
CHANGED_TO = "dyno.dev/changed-to"


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
    after = _summary(new)
    if after is None or (old is not None and _summary(old) == after):
        return None
    return {CHANGED_BY: username, CHANGED_TO: after}


def changed_by(formation: Formation) -> str | None:
    """The user who made the formation what it is now, when the stamp says so."""
    annotations = formation.metadata.get("annotations") or {}
    if annotations.get(CHANGED_TO) != summary(formation):
        return None
    by = annotations.get(CHANGED_BY)
    return str(by) if by else None


def _summary(body: Mapping[str, Any]) -> str | None:
    try:
        return summary(Formation.model_validate(body))
    except ValidationError:
        return None  # Validation refuses it; nothing to record.
