"""Formation updates as Heroku's clients send them, made scale changes (pure).

A quantity is a number or a string: `2` and `"2"` set it, `"+1"` and `"-1"` move it (the
`heroku` CLI sends `ps:scale web+1` as `"+1"`). A size is a name in any case (`Standard-2X`);
the catalog's rules then apply as for `dyno ps:scale` (dynoform.api.edit), in the same words.
"""

from __future__ import annotations

import re

from dynoform.api.edit import Op, ScaleChange
from dynoform.server.errors import HerokuError, invalid
from dynoform.server.schemas import FormationUpdate

QUANTITY = re.compile(r"^\s*([+-]?)(\d{1,9})\s*$")


def change(ptype: str, update: FormationUpdate) -> ScaleChange:
    """One update as a ScaleChange; a malformed quantity or size is a 422 (nothing written)."""
    op, amount = _quantity(ptype, update.quantity)
    size = update.size.strip().lower() if update.size is not None else None
    if size == "":
        raise invalid(f"size of {ptype}: a dyno size name, e.g. standard-1x.")
    return ScaleChange(ptype, op, amount, size)


def _quantity(ptype: str, quantity: int | str | None) -> tuple[Op, int]:
    if quantity is None:
        return "+", 0
    if isinstance(quantity, bool):
        raise invalid(f"quantity of {ptype}: a number of dynos, not {str(quantity).lower()}.")
    if isinstance(quantity, int):
        if quantity < 0:
            raise invalid(f"quantity of {ptype}: at least 0 (got {quantity}).")
        return "=", quantity
    m = QUANTITY.match(quantity)
    if m is None:
        raise invalid(f'quantity of {ptype}: a number, or "+N"/"-N" to move it (got "{quantity}").')
    sign, digits = m.groups()
    op: Op = "+" if sign == "+" else "-" if sign == "-" else "="
    return op, int(digits)


def not_a_type(ptype: str) -> HerokuError:
    return HerokuError(404, f"Couldn't find that process type ({ptype}).")
