"""What a scale window in force does to a Formation (pure): the formation as applied, what
status says of the window, and whom the history credits when a window starts or ends.

Which window is in force, and when the next one starts or ends, is the API's arithmetic
(dynoform.api.windows); the spec is never changed: the window's quantities replace the spec's
in a copy that the builders and the status are given.
"""

from __future__ import annotations

from dynoform.api.conditions import now_rfc3339
from dynoform.api.v1alpha1 import Formation, ScaleWindowStatus
from dynoform.api.windows import InForce


def applied(formation: Formation, window: InForce | None) -> Formation:
    """The formation as the operator applies it: the spec's, with the window's quantities."""
    if window is None:
        return formation
    spec = formation.spec
    processes = {
        t: proc.model_copy(update={"quantity": window.quantities[t]})
        if t in window.quantities
        else proc
        for t, proc in spec.processes.items()
    }
    running = spec.model_copy(update={"processes": processes})
    return formation.model_copy(update={"spec": running})


def window_status(window: InForce | None) -> ScaleWindowStatus | None:
    if window is None:
        return None
    return ScaleWindowStatus(name=window.name, until=now_rfc3339(window.until))


def credit(before: ScaleWindowStatus | None, window: InForce | None, by: str | None) -> str | None:
    """Who made the formation what it is: the schedule when a window started or ended since
    status was last written (`schedule night`, `end of schedule night`), else `by` (the user
    the admission stamp vouches for)."""
    was = before.name if before is not None else None
    now = window.name if window is not None else None
    if was == now:
        return by
    return f"schedule {now}" if now is not None else f"end of schedule {was}"
