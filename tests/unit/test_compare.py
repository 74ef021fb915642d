"""When a child needs an apply: missing, changed by us, or drifted; never for server defaults."""

from __future__ import annotations

import copy
from typing import Any

from dynoform.core.compare import HASH_ANNOTATION, needs_apply, parse_quantity, stamp


def desired() -> dict[str, Any]:
    return stamp(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "shop-web", "namespace": "default", "labels": {"a": "b"}},
            "spec": {
                "replicas": 2,
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "web", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}
                        ]
                    }
                },
            },
        }
    )


def as_stored(body: dict[str, Any]) -> dict[str, Any]:
    """What the API server returns: our fields plus defaults and server-set metadata."""
    obj = copy.deepcopy(body)
    obj["metadata"].update(uid="u", resourceVersion="7", generation=1)
    obj["spec"]["progressDeadlineSeconds"] = 600
    c = obj["spec"]["template"]["spec"]["containers"][0]
    c["imagePullPolicy"] = "IfNotPresent"
    c["resources"]["limits"]["cpu"] = "1000m"
    obj["status"] = {"replicas": 2}
    return obj


def test_a_missing_child_needs_an_apply() -> None:
    assert needs_apply(desired(), None)


def test_a_child_as_the_server_stores_it_needs_no_apply() -> None:
    assert not needs_apply(desired(), as_stored(desired()))


def test_a_child_from_a_list_response_without_apiversion_and_kind_needs_no_apply() -> None:
    obj = as_stored(desired())
    del obj["apiVersion"], obj["kind"]
    assert not needs_apply(desired(), obj)


def test_a_child_scaled_by_hand_needs_an_apply() -> None:
    obj = as_stored(desired())
    obj["spec"]["replicas"] = 5
    assert needs_apply(desired(), obj)


def test_a_new_desired_body_needs_an_apply_even_when_it_only_removes_fields() -> None:
    obj = as_stored(desired())
    smaller = desired()
    del smaller["metadata"]["annotations"]
    del smaller["metadata"]["labels"]
    smaller = stamp(smaller)
    assert (
        smaller["metadata"]["annotations"][HASH_ANNOTATION]
        != obj["metadata"]["annotations"][HASH_ANNOTATION]
    )
    assert needs_apply(smaller, obj)


def test_quantities_compare_by_value() -> None:
    assert parse_quantity("1000m") == parse_quantity("1")
    assert parse_quantity("2.5Gi") == parse_quantity("2560Mi")
    assert parse_quantity("web") is None
