"""ps:scale and ps:type changes: the new spec, the patch that writes it, and every refusal."""

from __future__ import annotations

import pytest

from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import DynoSizeSpec
from dynoform.cli.edit import named_types, processes_patch, resize, scale
from dynoform.cli.errors import FAILED, CliError
from dynoform.cli.grammar import parse_scale, parse_type
from tests.factories import make_formation

CATALOG = Catalog()


def spec_of(**processes: dict[str, object]):  # type: ignore[no-untyped-def]
    return make_formation(processes=processes).spec


SHOP = spec_of(
    web={"command": "puma", "quantity": 2},
    worker={"command": "sidekiq", "quantity": 1},
    clock={"command": "clockwork", "quantity": 1},
)


def scaled(*args: str, spec=SHOP, catalog: Catalog | None = CATALOG):  # type: ignore[no-untyped-def]
    return scale(spec, parse_scale(list(args)), catalog)


def formation_of(spec) -> dict[str, tuple[int, str]]:  # type: ignore[no-untyped-def]
    return {t: (spec.quantity_of(t), spec.size_of(t)) for t in spec.processes}


def test_absolute_relative_and_sized_changes_apply_together() -> None:
    new = scaled("web=3:Performance-L", "worker+2")
    assert formation_of(new) == {
        "web": (3, "performance-l"),
        "worker": (3, "standard-1x"),
        "clock": (1, "standard-1x"),
    }


def test_the_size_is_sticky_when_a_later_change_gives_only_a_count() -> None:
    # Dev Center: `web=2:standard-2x` then `web=1` -> 1:standard-2x.
    first = scaled("web=2:standard-2x")
    assert formation_of(scaled("web=1", spec=first))["web"] == (1, "standard-2x")


def test_changes_to_one_type_in_one_command_apply_in_order() -> None:
    assert formation_of(scaled("web+1", "web+1", "web-3"))["web"] == (1, "standard-1x")


def test_a_type_with_no_quantity_starts_from_herokus_default() -> None:
    spec = spec_of(web={"command": "a"}, worker={"command": "b"})
    assert formation_of(scaled("web+1", "worker+1", spec=spec)) == {
        "web": (2, "standard-1x"),
        "worker": (1, "standard-1x"),
    }


def test_the_patch_holds_only_the_quantities_and_sizes_that_change() -> None:
    new = scaled("web=2:standard-2x", "worker+1", "clock=1")
    assert processes_patch(SHOP, new) == {
        "spec": {"processes": {"web": {"size": "standard-2x"}, "worker": {"quantity": 2}}}
    }
    assert processes_patch(SHOP, scaled("web=2")) == {}


def test_the_output_names_the_types_in_the_order_of_the_command() -> None:
    assert named_types(parse_scale(["worker=1", "web+1", "worker+1"])) == ["worker", "web"]


REFUSALS = [
    (("foo=1",), "Couldn't find that process type (foo)."),
    (("web=1", "foo+1"), "Couldn't find that process type (foo)."),
    (("worker-2",), "Cannot scale worker below 0 dynos (worker-2 would make it -1)."),
    (("web=1001",), "Cannot run more than 1000 dynos per process type (web=1001)."),
    (
        ("clock=2",),
        "clock is a singleton process type and runs at most 1 dyno (set singleton: false "
        "to scale it)",
    ),
    (("web=11:performance-l",), "Cannot run more than 10 Performance-L dynos per process type"),
    (("web=2:eco",), "Cannot run more than 1 Eco dyno per process type (web=2)."),
    (("web=1:tiny",), "No such size as tiny (process type web). Available dyno sizes are eco, "),
    (("web=1:Foo_Bar",), "No such size as foo_bar"),
    (
        ("web=1:basic", "worker=1:standard-2x"),
        "Cannot use the following dyno types in the same app: Basic, Standard-1X and Standard-2X",
    ),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS, ids=[" ".join(r[0]) for r in REFUSALS])
def test_a_change_the_server_would_refuse_is_refused_with_its_reason(
    args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CliError) as e:
        scaled(*args)
    assert message in str(e.value)
    assert e.value.code == FAILED


def test_an_explicit_singleton_is_held_to_one_dyno_too() -> None:
    spec = spec_of(cron={"command": "a", "quantity": 1, "singleton": True})
    with pytest.raises(CliError, match=r"^cron is a singleton process type and runs at most 1"):
        scaled("cron+1", spec=spec)


def test_a_singleton_turned_off_scales_freely() -> None:
    spec = spec_of(clock={"command": "a", "quantity": 1, "singleton": False})
    assert formation_of(scaled("clock=3", spec=spec))["clock"] == (3, "standard-1x")


def test_sizes_the_cluster_defines_are_known_with_their_own_limits() -> None:
    gpu = DynoSizeSpec.model_validate(
        {
            "displayName": "GPU-1",
            "tier": "gpu",
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"cpu": "4", "memory": "16Gi"},
            "maxQuantity": 2,
        }
    )
    catalog = Catalog({"gpu-1": gpu})
    assert formation_of(scaled("worker=2:GPU-1", catalog=catalog))["worker"] == (2, "gpu-1")
    with pytest.raises(CliError, match=r"Cannot run more than 2 GPU-1 dynos"):
        scaled("worker=3:gpu-1", catalog=catalog)


def test_without_the_clusters_catalog_sizes_are_left_to_the_server_but_the_schema_holds() -> None:
    # A user who may not list DynoSizes: an unknown name goes to the server, which decides.
    assert formation_of(scaled("web=1:my-size", catalog=None))["web"] == (1, "my-size")
    with pytest.raises(CliError, match=r"spec is invalid at processes\.web\.size"):
        scaled("web=1:bad_size", catalog=None)
    with pytest.raises(CliError, match=r"singleton"):
        scaled("clock=2", catalog=None)


def test_ps_type_with_one_size_resizes_every_type_and_keeps_quantities() -> None:
    new = resize(SHOP, parse_type(["Standard-2X"]), CATALOG)
    assert formation_of(new) == {
        "web": (2, "standard-2x"),
        "worker": (1, "standard-2x"),
        "clock": (1, "standard-2x"),
    }


def test_ps_type_pairs_resize_only_the_named_types() -> None:
    new = resize(SHOP, parse_type(["web=performance-m", "worker=standard-2x"]), CATALOG)
    assert formation_of(new)["clock"] == (1, "standard-1x")
    assert processes_patch(SHOP, new) == {
        "spec": {"processes": {"web": {"size": "performance-m"}, "worker": {"size": "standard-2x"}}}
    }


def test_ps_type_names_the_formations_types_when_a_type_is_unknown() -> None:
    # Heroku's wording: "Type foo not found in process formation.\nTypes: web, worker".
    with pytest.raises(CliError) as e:
        resize(SHOP, parse_type(["foo=eco"]), CATALOG)
    assert str(e.value) == "Type foo not found in process formation.\nTypes: clock, web, worker"


def test_ps_type_refuses_a_size_that_breaks_a_limit() -> None:
    with pytest.raises(CliError, match=r"Cannot run more than 1 Eco dyno per process type"):
        resize(SHOP, parse_type(["eco"]), CATALOG)
