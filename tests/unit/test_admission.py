"""Admission decisions: refusals, the audit stamp, and who is credited with a change."""

from __future__ import annotations

from dynoform.api.admission import shape
from dynoform.api.labels import CHANGED_BY, CHANGED_TO
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation
from dynoform.core.admission import changed_by, refusal, stamp
from dynoform.core.status import Observed, Outcome, build_status
from tests.factories import formation_body, make_formation


def test_an_acceptable_formation_has_no_refusal() -> None:
    assert refusal(formation_body(), Catalog()) is None


def test_a_refusal_names_the_problem() -> None:
    body = formation_body(processes={"web": {"command": "a", "size": "eco", "quantity": 3}})
    assert refusal(body, Catalog()) == (
        "Cannot run more than 1 Eco dyno per process type (web=3). "
        "Upgrade to a larger dyno first before adding more dynos."
    )
    # Left to the API server's schema and CEL rules, which run after this mutating webhook.
    assert refusal(formation_body(processes={"Bad_1": {"command": "a"}}), Catalog()) is None
    # A quantity "3" is no integer to the schema, even on a size that allows only 1.
    basic = formation_body(processes={"web": {"command": "a", "size": "basic", "quantity": "3"}})
    assert refusal(basic, Catalog()) is None


def test_a_new_formation_is_stamped_with_its_creator() -> None:
    assert stamp(formation_body(), None, "alice") == {
        CHANGED_BY: "alice",
        CHANGED_TO: "clock=1: web=2: worker=1:",  # as written: no size given
    }


def test_only_changes_of_quantity_or_size_are_stamped() -> None:
    old = formation_body()
    new_image = formation_body(image="registry.example/shop:v2")
    assert stamp(new_image, old, "bob") is None
    resized = formation_body(
        processes={
            **old["spec"]["processes"],
            "worker": {"command": "b", "quantity": 1, "size": "standard-2x"},
        }
    )
    assert stamp(resized, old, "bob") is not None


def test_a_change_is_credited_only_when_the_stamp_matches_the_formation() -> None:
    f = make_formation()
    stamped = {**f.metadata, "annotations": stamp(formation_body(), None, "alice")}
    assert changed_by(f.model_copy(update={"metadata": stamped})) == "alice"
    # Scaled again while the webhook was down: the stamp describes an older formation.
    later = Formation.model_validate(
        {**formation_body(processes={"web": {"command": "a", "quantity": 5}}), "metadata": stamped}
    )
    assert changed_by(later) is None


def test_the_history_keeps_the_last_ten_changes_newest_last() -> None:
    status = None
    for n in range(1, 13):
        f = make_formation(processes={"web": {"command": "a", "quantity": n}})
        f = f.model_copy(update={"status": status})
        status = build_status(f, Observed(), Outcome((True, "Applied", ""), f"t{n}", by=f"user{n}"))
    assert status is not None
    assert status.history is not None
    assert [h.formation for h in status.history] == [f"web={n}:standard-1x" for n in range(3, 13)]
    assert (status.history[-1].by, status.history[-1].time) == ("user12", "t12")


def test_the_stamp_records_quantities_and_sizes_as_written_sorted_by_type() -> None:
    spec = make_formation(
        processes={
            "worker": {"command": "b", "size": "Standard-2X"},
            "web": {"command": "a", "quantity": 2, "autoscaling": {"min": 2, "max": 5, "cpu": 60}},
        }
    ).spec
    assert shape(spec) == "web=2..5: worker=:standard-2x"


def test_the_catalog_index_lists_every_size_in_catalog_order_with_its_tier() -> None:
    custom = DynoSizeSpec.model_validate(
        {
            "tier": "gpu",
            "displayName": "GPU-L",
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"cpu": "4", "memory": "16Gi"},
        }
    )
    index = Catalog({"gpu-l": custom}).index()
    assert [e.name for e in index][:3] == ["eco", "basic", "standard-1x"]
    assert (index[-1].name, index[-1].display_name, index[-1].tier) == ("gpu-l", "GPU-L", "gpu")
    assert index[0].display_name == "Eco"
