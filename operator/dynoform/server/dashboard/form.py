"""The formation form: its fields read as one batch of the API's formation updates, and a
refusal placed on the row whose change caused it (pure).

Only the types whose quantity or size the user moved are sent, so Confirm on an untouched form
changes nothing and a type an autoscaler moves (its slider disabled, so not submitted) is never
written. The entries are the API's own (dynoform.server.schemas.FormationBatchEntry), read by the
API's own code (dynoform.server.updates), so the dashboard refuses what the API refuses, in the
same words.
"""

from __future__ import annotations

from collections.abc import Mapping

from dynoform.api import edit
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import FormationSpec
from dynoform.server.errors import HerokuError
from dynoform.server.schemas import FormationBatchEntry
from dynoform.server.updates import change

QUANTITY = "quantity."
SIZE = "size."


def entries(spec: FormationSpec, fields: Mapping[str, str]) -> list[FormationBatchEntry]:
    """The changes the form asks for, in type order; unchanged types are left out."""
    out = []
    for ptype in sorted(spec.processes):
        quantity = fields.get(QUANTITY + ptype)
        size = fields.get(SIZE + ptype)
        moved = quantity is not None and quantity.strip() != str(spec.quantity_of(ptype))
        resized = size is not None and size.strip().lower() != spec.size_of(ptype).lower()
        if moved or resized:
            out.append(
                FormationBatchEntry(
                    type=ptype,
                    quantity=quantity if moved else None,
                    size=size if resized else None,
                )
            )
    return out


def blame(
    spec: FormationSpec, batch: list[FormationBatchEntry], catalog: Catalog | None, message: str
) -> dict[str, str]:
    """Which rows a refusal of `batch` belongs on: the one changed row, else every row whose
    change alone is refused; empty when only the changes together are (the form's own
    message then)."""
    if len(batch) == 1:
        return {batch[0].type: message}
    rows = {}
    for entry in batch:
        try:
            edit.scale(spec, [change(entry.type, entry)], catalog)
        except edit.Refused as exc:
            rows[entry.type] = str(exc)
        except HerokuError as exc:
            rows[entry.type] = exc.message
    return rows


def describe(batch: list[FormationBatchEntry]) -> str:
    """`web=3 worker:standard-2x`: what was asked, for the confirmation message."""
    parts = []
    for e in batch:
        text = e.type + (f"={e.quantity}" if e.quantity is not None else "")
        parts.append(text + (f":{e.size.strip().lower()}" if e.size else ""))
    return " ".join(parts)
