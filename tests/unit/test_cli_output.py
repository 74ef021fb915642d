"""What ps:scale and ps:type print: Heroku's exact strings, and our memory/CPU table."""

from __future__ import annotations

import pytest

from dynoform.api.sizes import Catalog
from dynoform.api.units import cpu_text, memory_text, parse_cpu, parse_memory
from dynoform.api.v1alpha1 import DynoSizeSpec
from dynoform.cli import render
from tests.factories import make_formation

CATALOG = Catalog()
SHOP = make_formation(
    processes={
        "worker": {"command": "b", "quantity": 2},
        "web": {"command": "a", "quantity": 3, "size": "performance-l"},
        "clock": {"command": "c"},
    }
)


def test_no_argument_prints_the_formation_sorted_in_a_form_ps_scale_takes_back() -> None:
    # Heroku: `web=1:Free worker=2:Free` (sorted, space-joined).
    assert (
        render.formation_args(SHOP)
        == "clock=0:standard-1x web=3:performance-l worker=2:standard-1x"
    )


def test_now_running_names_the_changed_types_with_herokus_size_casing() -> None:
    # Heroku: `Scaling dynos... done, now running web at 3:Performance-L, worker at 2:Standard-1X`
    assert render.now_running(SHOP, ["web", "worker"], CATALOG) == (
        "now running web at 3:Performance-L, worker at 2:Standard-1X"
    )


def test_a_cluster_sizes_display_name_is_used() -> None:
    gpu = DynoSizeSpec.model_validate(
        {
            "displayName": "GPU-1",
            "tier": "gpu",
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"cpu": "4", "memory": "16Gi"},
        }
    )
    f = make_formation(processes={"web": {"command": "a", "size": "gpu-1"}})
    assert render.now_running(f, ["web"], Catalog({"gpu-1": gpu})) == "now running web at 1:GPU-1"


def test_ps_type_prints_each_type_and_the_totals_per_size() -> None:
    assert render.process_types(SHOP, CATALOG) == (
        "=== Process Types\n"
        "\n"
        " type     size            qty   memory   cpu (request/limit)\n"
        " clock    Standard-1X     0     512Mi    250m/1\n"
        " web      Performance-L   3     14Gi     8/8\n"
        " worker   Standard-1X     2     512Mi    250m/1\n"
        "\n"
        "=== Dyno Totals\n"
        "\n"
        " size            total   memory   cpu requested\n"
        " Standard-1X     2       1Gi      500m\n"
        " Performance-L   3       42Gi     24\n"
        " all             5       43Gi     24.5\n"
    )


def test_the_table_pads_columns_three_spaces_apart_as_herokus() -> None:
    assert render.table(["type", "qty"], [["web", "1"], ["worker", "10"]]) == [
        " type     qty",
        " web      1",
        " worker   10",
    ]


@pytest.mark.parametrize(
    ("text", "size"),
    [("512Mi", 512 * 2**20), ("14Gi", 14 * 2**30), ("2560Mi", 2560 * 2**20), ("1G", 10**9)],
)
def test_memory_quantities_parse_to_bytes(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize(
    ("size", "text"),
    [(3 * 512 * 2**20, "1.5Gi"), (512 * 2**20, "512Mi"), (2560 * 2**20, "2.5Gi"), (0, "0")],
)
def test_memory_totals_print_in_the_largest_binary_unit(size: int, text: str) -> None:
    assert memory_text(size) == text


@pytest.mark.parametrize(("text", "milli"), [("250m", 250), ("2", 2000), ("0.5", 500)])
def test_cpu_quantities_parse_to_millicores(text: str, milli: int) -> None:
    assert parse_cpu(text) == milli


@pytest.mark.parametrize(("milli", "text"), [(750, "750m"), (2000, "2"), (3250, "3.25"), (0, "0")])
def test_cpu_totals_print_cores_from_one_core_up(milli: int, text: str) -> None:
    assert cpu_text(milli) == text
