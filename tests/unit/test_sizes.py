"""The size catalog and its rules, with Heroku's wording."""

from __future__ import annotations

import pytest

from dynoform.api.sizes import BUILTIN, Catalog, SizeError, check
from dynoform.api.v1alpha1 import DynoSizeSpec
from tests.factories import make_formation


def test_herokus_sizes_are_built_in_with_herokus_memory() -> None:
    memory = {name: spec.limits.memory for name, spec in BUILTIN.items()}
    assert memory == {
        "eco": "512Mi",
        "basic": "512Mi",
        "standard-1x": "512Mi",
        "standard-2x": "1Gi",
        "performance-m": "2560Mi",
        "performance-l": "14Gi",
        "performance-l-ram": "30Gi",
        "performance-xl": "62Gi",
        "performance-2xl": "126Gi",
    }


def test_an_unknown_size_is_refused_with_the_available_sizes_listed() -> None:
    f = make_formation(processes={"web": {"command": "a", "size": "1x"}})
    with pytest.raises(
        SizeError, match=r"No such size as 1x .*Available dyno sizes are eco, "
    ) as e:
        check(f.spec, Catalog())
    assert e.value.reason == "UnknownSize"


@pytest.mark.parametrize("size", ["eco", "basic"])
def test_eco_and_basic_cannot_run_more_than_one_dyno_per_type(size: str) -> None:
    f = make_formation(processes={"worker": {"command": "a", "size": size, "quantity": 2}})
    with pytest.raises(SizeError, match=r"Cannot run more than 1 .* dyno per process type"):
        check(f.spec, Catalog())


def test_performance_sizes_stop_at_herokus_default_limit_of_ten() -> None:
    f = make_formation(processes={"web": {"command": "a", "size": "performance-l", "quantity": 11}})
    with pytest.raises(SizeError, match="Cannot run more than 10 Performance-L dynos"):
        check(f.spec, Catalog())


def test_an_admins_dyno_size_adds_a_size_and_overrides_a_built_in_one() -> None:
    gpu = DynoSizeSpec.model_validate(
        {
            "tier": "gpu",
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"cpu": "4", "memory": "16Gi"},
        }
    )
    roomy = BUILTIN["performance-l"].model_copy(update={"max_quantity": 50})
    catalog = Catalog({"gpu-1x": gpu, "performance-l": roomy})
    f = make_formation(
        processes={
            "train": {"command": "a", "size": "gpu-1x", "quantity": 1},
            "web": {"command": "b", "size": "performance-l", "quantity": 30},
        }
    )
    assert check(f.spec, catalog) == {"train": gpu, "web": roomy}
    assert catalog.names()[-1] == "gpu-1x"


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        (("eco", "standard-1x"), "Eco and Standard-1X"),
        (("basic", "performance-m"), "Basic and Performance-M"),
        (("eco", "basic"), "Eco and Basic"),
    ],
)
def test_eco_and_basic_do_not_mix_with_other_tiers_as_on_heroku(
    sizes: tuple[str, str], message: str
) -> None:
    f = make_formation(
        processes={
            "web": {"command": "a", "size": sizes[0]},
            "worker": {"command": "b", "size": sizes[1]},
        }
    )
    with pytest.raises(
        SizeError, match=f"Cannot use the following dyno types in the same app: {message}"
    ) as e:
        check(f.spec, Catalog())
    assert e.value.reason == "IncompatibleSizes"


def test_professional_tiers_mix_freely() -> None:
    f = make_formation(
        processes={
            "web": {"command": "a", "size": "performance-l"},
            "worker": {"command": "b", "size": "standard-1x"},
        }
    )
    assert set(check(f.spec, Catalog())) == {"web", "worker"}
