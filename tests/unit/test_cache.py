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


def test_a_rollouts_progress_is_told_apart_from_a_change_of_spec() -> None:
    cache = Cache()
    first = {**child("10", ready=0)}
    first["metadata"] = {**first["metadata"], "generation": 1}
    assert not cache.same_generation(first)  # not cached yet: handled at once
    cache.set_child(first)
    progress = {**child("11", ready=1), "metadata": {**first["metadata"], "resourceVersion": "11"}}
    assert cache.same_generation(progress)  # status only: folded into the next window
    scaled = {**progress, "metadata": {**progress["metadata"], "generation": 2}}
    assert not cache.same_generation(scaled)  # kubectl scale: drift, handled at once
    service = {**child("12", ready=0), "kind": "Service"}  # no generation at all
    cache.set_child(service)
    assert not cache.same_generation(service)
