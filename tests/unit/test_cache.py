"""The cache of children: an apply's late response never sets a child back."""

from __future__ import annotations

from typing import Any

from dynoform.operator.cache import Cache
from dynoform.operator.dynos import slim_pod


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


def formation(generation: int) -> dict[str, Any]:
    return {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "Formation",
        "metadata": {
            "name": "shop",
            "namespace": "t",
            "generation": generation,
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"image": "shop:v1", "processes": {"web": {"quantity": 2, "size": "tiny"}}},
    }


def test_a_formation_is_handed_out_as_a_fresh_copy_without_managed_fields() -> None:
    cache = Cache()
    cache.set_formation(formation(1))
    got = cache.formation(("t", "shop"))
    assert got is not None
    assert "managedFields" not in got["metadata"]
    assert got["spec"]["processes"]["web"]["quantity"] == 2
    got["spec"]["image"] = "changed by the caller"
    assert cache.formation(("t", "shop"))["spec"]["image"] == "shop:v1"  # type: ignore[index]
    assert cache.formation(("t", "other")) is None
    assert cache.users_of_size("tiny") == [("t", "shop")]
    assert cache.users_of_size("big") == []


def test_our_status_write_is_cached_before_its_watch_event() -> None:
    cache = Cache()
    cache.set_formation(formation(1))
    cache.set_formation_status(("t", "shop"), {"observedGeneration": 1})
    assert cache.formation(("t", "shop"))["status"] == {"observedGeneration": 1}  # type: ignore[index]
    cache.set_formation_status(("t", "gone"), {"observedGeneration": 1})  # deleted meanwhile
    assert ("t", "gone") not in cache.formations


def pod(name: str, node: str, phase: str, terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "t",
        "labels": {"dyno.dev/formation": "shop", "dyno.dev/process-type": "web"},
    }
    if terminating:
        meta["deletionTimestamp"] = "2026-11-22T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node}, "status": {"phase": phase}}


def test_only_running_dynos_that_stay_count_for_the_spread() -> None:
    cache = Cache()
    cache.dynos.zones = {"n1": "a", "n2": "b", "n3": None}
    for p in (
        pod("p1", "n1", "Running"),
        pod("p2", "n2", "Running"),
        pod("p3", "n2", "Pending"),
        pod("p4", "n1", "Running", terminating=True),
        pod("p5", "n3", "Running"),  # a node without a zone
    ):
        assert cache.dynos.set_pod(p) == ("t", "shop")
    assert cache.dynos.zones_by_type(("t", "shop")) == {"web": ["a", "b"]}
    cache.dynos.drop_pod(pod("p2", "n2", "Running"))
    assert cache.dynos.zones_by_type(("t", "shop")) == {"web": ["a"]}


def named(kind: str, name: str, labels: dict[str, str], owner_uid: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "t", "labels": labels}
    if owner_uid:
        meta["ownerReferences"] = [{"uid": owner_uid, "controller": True}]
    return {"kind": kind, "metadata": meta}


def test_who_holds_a_name_is_known_without_a_read() -> None:
    cache = Cache()
    ours = named("Deployment", "a-b-c", {"dyno.dev/formation": "a-b"}, "uid-ab")
    cache.set_child(ours)
    assert cache.holders[("Deployment", "t", "a-b-c")] == ("t", "a-b")  # not formation "a"
    cache.drop_child(ours)
    assert ("Deployment", "t", "a-b-c") not in cache.holders
    # Objects without our label come from a metadata-only watch: their controller's uid.
    squatter = named("Service", "shop-web", {}, "uid-other")
    cache.set_foreign(squatter)
    cache.set_foreign(named("Service", "plain", {}))
    assert cache.foreign == {
        ("Service", "t", "shop-web"): "uid-other",
        ("Service", "t", "plain"): "",
    }
    cache.drop_foreign(squatter)
    assert ("Service", "t", "shop-web") not in cache.foreign
    # A listing replaces what was known of that kind in that namespace, and only that.
    cache.set_foreign({**named("Job", "migrate", {}), "metadata": {"name": "m", "namespace": "u"}})
    cache.replace_foreign("Service", "t", [named("Service", "new", {})])
    assert set(cache.foreign) == {("Service", "t", "new"), ("Job", "u", "m")}
    # Our label without a Formation's: not ours to take either.
    cache.set_child(named("Deployment", "odd", {"app.kubernetes.io/managed-by": "dynoform"}))
    assert ("Deployment", "t", "odd") in cache.foreign


def test_a_claimed_name_is_held_until_its_formation_lets_go() -> None:
    cache = Cache()
    want = ("Deployment", "t", "a-b-web")
    cache.reserve(("t", "a"), {want})  # Formation a claims it and starts applying
    assert cache.holders[want] == ("t", "a")  # a-b's reconcile now meets it
    cache.reserve(("t", "a-b"), {want})  # (a-b would be refused before; it takes nothing)
    assert cache.holders[want] == ("t", "a")
    cache.set_child(named("Deployment", "a-b-web", {"dyno.dev/formation": "a"}, "uid-a"))
    cache.reserve(("t", "a"), set())  # a no longer wants it, but its child still exists
    assert cache.holders[want] == ("t", "a")
    cache.drop_child(named("Deployment", "a-b-web", {"dyno.dev/formation": "a"}, "uid-a"))
    assert want not in cache.holders
    cache.reserve(("t", "a"), {want})  # claimed, never created, then the Formation is deleted
    cache.drop_formation(("t", "a"))
    assert want not in cache.holders
    assert ("t", "a") not in cache.reserved


def ready_pod(name: str, ptype: str, ready: bool, phase: str = "Running") -> dict[str, Any]:
    p = pod(name, "n1", phase)
    p["metadata"]["labels"]["dyno.dev/process-type"] = ptype
    p["status"]["conditions"] = [{"type": "Ready", "status": str(ready)}]
    return p


def test_running_dynos_that_fail_their_readiness_probe_are_counted_per_type() -> None:
    cache = Cache()
    for p in (
        ready_pod("w1", "web", ready=False),
        ready_pod("w2", "web", ready=True),
        ready_pod("w3", "web", ready=False, phase="Pending"),  # not started: not judged yet
        ready_pod("k1", "worker", ready=False),
    ):
        cache.dynos.set_pod(p)
    assert cache.dynos.not_answering(("t", "shop")) == {"web": 1, "worker": 1}


def test_a_failed_pods_termination_message_is_kept_and_found_by_its_job() -> None:
    failed = pod("shop-release-abc-x1y2z", "n1", "Failed")
    failed["metadata"]["labels"] = {"dyno.dev/formation": "shop"}
    failed["status"]["containerStatuses"] = [
        {"state": {"terminated": {"exitCode": 1, "message": "boom\n"}}}
    ]
    cache = Cache()
    cache.dynos.set_pod(slim_pod(failed))  # what the watch hands the cache
    assert cache.dynos.failure_of(("t", "shop"), "shop-release-abc") == "exit 1: boom"
    assert cache.dynos.failure_of(("t", "shop"), "shop-release-def") == ""


def test_a_size_a_scheduled_job_runs_on_makes_its_formation_a_user_of_it() -> None:
    cache = Cache()
    body = formation(1)
    body["spec"]["jobs"] = {
        "nightly": {"command": "rake", "schedule": "@daily", "size": "Big"},
        "sweep": {"command": "rake", "schedule": "@hourly"},  # the types' default size
    }
    cache.set_formation(body)
    assert cache.users_of_size("big") == [("t", "shop")]
    assert cache.users_of_size("tiny") == [("t", "shop")]
    # sweep takes the default size: standard-1x, as tiny is no one-size tier.
    assert cache.users_of_size("standard-1x") == [("t", "shop")]
    assert cache.users_of_size("huge") == []
