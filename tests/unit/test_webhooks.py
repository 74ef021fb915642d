"""The webhook server's view of the size catalog: what its DynoSize informer lists and says."""

from __future__ import annotations

from typing import Any

from dynoform.webhooks import Sizes


def dyno_size(name: str, max_quantity: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "DynoSize",
        "metadata": {"name": name},
        "spec": {
            "tier": "gpu",
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"cpu": "4", "memory": "16Gi"},
            "maxQuantity": max_quantity,
        },
    }


def test_the_catalog_is_synced_by_the_first_listing_and_follows_the_events() -> None:
    sizes = Sizes()
    assert not sizes.synced.is_set()
    assert sizes.catalog().get("gpu-1") is None  # the built-in sizes only
    sizes.replace("DynoSize", [dyno_size("gpu-1")])
    assert sizes.synced.is_set()
    assert sizes.catalog().get("gpu-1") is not None
    assert sizes.catalog().get("standard-1x") is not None  # built-ins stay
    sizes.event("MODIFIED", dyno_size("gpu-1", max_quantity=5))
    spec = sizes.catalog().get("gpu-1")
    assert spec is not None
    assert spec.max_quantity == 5
    sizes.event("DELETED", dyno_size("gpu-1"))
    assert sizes.catalog().get("gpu-1") is None


def test_a_new_listing_replaces_the_catalog_and_a_bad_object_is_ignored() -> None:
    sizes = Sizes()
    sizes.replace("DynoSize", [dyno_size("gpu-1"), dyno_size("gpu-2")])
    bad = dyno_size("bad")
    bad["spec"] = {"tier": 42}
    sizes.replace("DynoSize", [dyno_size("gpu-2"), bad])
    assert sizes.catalog().get("gpu-1") is None  # deleted while the watch was down
    assert sizes.catalog().get("gpu-2") is not None
    assert sizes.catalog().get("bad") is None
