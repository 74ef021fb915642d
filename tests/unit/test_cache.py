"""The cache of children: an apply's late response never sets a child back."""

from __future__ import annotations

from typing import Any

from dynoform.cache import Cache


def child(version: str, ready: int) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "shop-web",
            "namespace": "t",
            "resourceVersion": version,
            "labels": {"dyno.dev/formation": "shop"},
        },
        "status": {"readyReplicas": ready},
    }


def test_a_response_older_than_the_cached_watch_event_is_judged_older() -> None:
    cache = Cache()
    cache.set_child(child("120", ready=2))  # the watch event of the controller's status update
    assert cache.has_newer(child("118", ready=0))  # our apply's response, handled late
    assert not cache.has_newer(child("121", ready=2))
    assert not cache.has_newer(child("opaque", ready=0))  # not a number: not judged
    assert not Cache().has_newer(child("1", ready=0))
