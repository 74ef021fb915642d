"""The generated CRDs: committed, structural, and carrying the CEL rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dynoform.api.crd import formation_crd, outputs, render
from dynoform.api.sizes import BUILTIN
from dynoform.api.v1alpha1 import DynoSize

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [n for v in node.values() for n in _walk(v)]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


def test_the_committed_crds_match_the_models() -> None:
    for name, text in render().items():
        path = CRDS / name
        assert path.exists(), f"{path} is missing: run `make crds`"
        assert path.read_text() == text, f"{path} drifted from the models: run `make crds`"


def test_the_schema_is_structural() -> None:
    schema = formation_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for node in _walk(schema):
        assert not {"$ref", "anyOf", "allOf", "oneOf", "title", "$defs"} & node.keys(), node
        assert node.get("additionalProperties") is not False


def test_every_spec_field_has_a_description() -> None:
    schema = formation_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    for node in _walk(spec):
        for name, prop in (node.get("properties") or {}).items():
            assert prop.get("description"), f"spec field {name} has no description"


def test_the_printer_columns_show_formation_ready_and_age() -> None:
    cols = formation_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in cols if not c.get("priority")] == ["Formation", "Ready", "Age"]


def test_the_generated_files_are_two_crds_and_two_validating_policies() -> None:
    kinds = sorted(
        d["kind"] for p in CRDS.glob("*.yaml") for d in yaml.safe_load_all(p.read_text())
    )
    assert kinds == [
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicyBinding",
    ]


def test_every_generated_file_is_committed_as_generated() -> None:
    for path, text in outputs().items():
        committed = ROOT / path
        assert committed.exists(), f"{path} is missing: run `make crds`"
        assert committed.read_text() == text, f"{path} drifted from the models: run `make crds`"


def test_the_built_in_sizes_are_shipped_as_dyno_size_objects() -> None:
    shipped = list(yaml.safe_load_all((ROOT / "deploy" / "dynosizes.yaml").read_text()))
    assert [d["metadata"]["name"] for d in shipped] == list(BUILTIN)
    for doc in shipped:
        assert DynoSize.model_validate(doc).spec == BUILTIN[doc["metadata"]["name"]]
