"""The docs' generated parts are never stale: the reference pages and the Grafana dashboard are
regenerated here from the code and compared with what is committed. `make docs` and
`python hack/dashboard.py --json-only` write them; `make lint` builds the site with
`mkdocs build --strict`, which fails on a broken link."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dashboard
import docgen

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"


@pytest.mark.parametrize("page", sorted(docgen.PAGES))
def test_the_committed_reference_page_is_what_the_code_generates(page: str, tmp_path: Path):
    docgen.generate(tmp_path)
    committed = (REFERENCE / page).read_text()
    assert committed == (tmp_path / page).read_text(), f"docs/reference/{page} is stale: make docs"


def test_every_formation_field_is_in_the_reference():
    from dynoform.api.v1alpha1 import FormationSpec, ProcessType

    page = (REFERENCE / "formation.md").read_text()
    for model in (FormationSpec, ProcessType):
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in page, name


def test_every_cli_command_is_in_the_reference():
    from dynoform.cli.main import build_parser

    page = (REFERENCE / "cli.md").read_text()
    for name, _, _, _ in docgen._commands(build_parser()):
        assert f"### dyno {name}\n" in page, name


def test_the_committed_grafana_dashboard_is_what_the_panels_make():
    committed = json.loads(dashboard.DASHBOARD_JSON.read_text())
    assert committed == dashboard.grafana_json(), "stale: python hack/dashboard.py --json-only"


def test_every_metric_the_dashboard_and_the_alerts_query_exists():
    known = set(
        re.findall(r"`(dynoform_\w+?)(?:_bucket)?[,`]", (REFERENCE / "metrics.md").read_text())
    )
    known |= {f"{m}_bucket" for m in known} | {"process_resident_memory_bytes"}
    rules = (ROOT / "charts" / "dynoform" / "templates" / "metrics.yaml").read_text()
    exprs = [t["expr"] for p in dashboard.grafana_json()["panels"] for t in p["targets"]]
    for text in [*exprs, rules]:
        for name in re.findall(r"\b(dynoform_\w+|process_\w+)\b", text):
            if name.endswith("_count") or name.endswith("_sum"):
                name = name.rsplit("_", 1)[0] + "_bucket"
            assert name in known, name
