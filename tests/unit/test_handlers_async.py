"""Every kopf handler of the operator is a coroutine function.

kopf runs a sync handler in its thread pool. Ours touch the controller's cache and its asyncio
work queue, which belong to the event loop: from another thread a put on the queue does not
even wake the loop, so a scale could wait for an unrelated event (it did: the benchmark's
scale latency tail). This keeps a sync handler from coming back.
"""

from __future__ import annotations

import inspect

import kopf

import dynoform.operator.handlers
import dynoform.operator.webhooks  # registers the admission handlers


def test_every_registered_handler_runs_on_the_event_loop() -> None:
    registry = kopf.get_default_registry()
    # kopf exposes no public listing of its registries; these are its own per-kind registries.
    kinds = (registry._activities, registry._watching, registry._changing, registry._webhooks)
    handlers = [h for kind in kinds for h in kind.get_all_handlers()]
    names = {h.fn.__name__ for h in handlers}
    assert {"configure", "formation_event", "admit_formation"} <= names
    assert [h.fn.__name__ for h in handlers if not inspect.iscoroutinefunction(h.fn)] == []
    assert dynoform.operator.handlers.formation_event in [h.fn for h in handlers]
