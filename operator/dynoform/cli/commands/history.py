"""`dyno ps:history`: the formation's recent changes and who made them, from status.history.

Events expire (an hour by default); the operator keeps the last changes in the Formation's
status, so this answers "who scaled?" long after. Lines read as Heroku's log of a scale.
"""

from __future__ import annotations

import json

from dynoform.api.v1alpha1 import FormationChange
from dynoform.cli.commands.base import Context


def log_line(change: FormationChange) -> str:
    """`2026-11-21T19:00:00Z dyno[api]: Scale to web=2:standard-1x, worker=1:standard-1x by
    alice@example.com` (sizes included: a resize is a change too)."""
    line = f"{change.time} dyno[api]: Scale to " + ", ".join(change.formation.split())
    return f"{line} by {change.by}" if change.by else line


def ps_history(ctx: Context, as_json: bool) -> int:
    formation = ctx.api.formation(ctx.require_app())
    history = (formation.status.history if formation.status else None) or []
    if as_json:
        ctx.out.write(json.dumps([h.wire() for h in history], indent=2) + "\n")
    elif not history:
        ctx.note(f"No recorded changes of {formation.name}'s formation yet.")
    else:
        ctx.out.writelines(log_line(h) + "\n" for h in history)
    return 0
