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


def test_a_watch_event_is_told_apart_as_an_echo_progress_or_a_change() -> None:
    cache = Cache()
    first = {**child("10", ready=0)}
    first["metadata"] = {**first["metadata"], "generation": 1}
    assert cache.news(first) == "change"  # not cached yet: handled at once
    cache.set_child(first)  # our apply's response
    assert cache.news(first) == "known"  # its echo on the watch: nothing new
    progress = {**child("11", ready=1), "metadata": {**first["metadata"], "resourceVersion": "11"}}
    assert cache.news(progress) == "progress"  # status only: folded into the next window
    scaled = {**progress, "metadata": {**progress["metadata"], "generation": 2}}
    assert cache.news(scaled) == "change"  # kubectl scale: drift, handled at once
    service = {**child("12", ready=0), "kind": "Service"}  # no generation at all
    cache.set_child(service)
    edited = {**service, "metadata": {**service["metadata"], "resourceVersion": "13"}}
    assert cache.news(edited) == "change"
