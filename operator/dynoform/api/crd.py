"""Generates the CRDs (Formation, DynoSize) from the pydantic models.

Pydantic's JSON Schema is not a Kubernetes structural schema as it is, so it is rewritten:
`$ref`s inlined, `title` dropped, optional `anyOf [X, null]` folded to X, `additionalProperties:
false` dropped (the API server prunes unknown fields and kubectl's strict validation names them),
string `maxLength`/`minLength` on maps renamed to properties counts. The CEL rules travel
through unchanged as `x-kubernetes-validations`.

Run `python -m dynoform.api.crd` (`make crds`) to write them into crds/, with the admission
policies of dynoform.api.admission, the built-in sizes and the stamp policy into deploy/, and
the Helm chart's copies into charts/dynoform/files/; unit tests fail when any drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from dynoform.api.admission import builtin_sizes, catalog_policy, names_policy, stamp_policy
from dynoform.api.v1alpha1 import (
    FORMATION_ROOT_RULES,
    GROUP,
    VERSION,
    DynoSizeSpec,
    DynoSizeStatus,
    FormationSpec,
    FormationStatus,
)

Schema = dict[str, Any]


def structural(model: type[Any]) -> Schema:
    """The model's JSON Schema, rewritten into a Kubernetes structural schema."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    out: Schema = _rewrite(raw, defs)
    return out


def _rewrite(node: Any, defs: dict[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_rewrite(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].split("/")[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _rewrite(merged, defs)
    if "anyOf" in node:
        return _fold_optional(node, defs)
    if "patternProperties" in node:
        # A map with constrained keys: structural schemas only know additionalProperties; the
        # key pattern is checked elsewhere (see ProcessTypeName).
        (values,) = node["patternProperties"].values()
        node = {k: v for k, v in node.items() if k != "patternProperties"}
        node["additionalProperties"] = values
    out: Schema = {}
    for key, value in node.items():
        if key in ("title", "propertyNames") or (key == "additionalProperties" and value is False):
            continue
        out[key] = _rewrite(value, defs)
    if out.get("type") == "object" and "additionalProperties" in out:
        # pydantic puts dict length bounds under min/maxLength only for strings; map them.
        for a, b in (("minLength", "minProperties"), ("maxLength", "maxProperties")):
            if a in out:
                out[b] = out.pop(a)
    if out.get("type") == "array":
        for a, b in (("minLength", "minItems"), ("maxLength", "maxItems")):
            if a in out:
                out[b] = out.pop(a)
    if "default" in out and out["default"] is None:
        del out["default"]
    return out


def _fold_optional(node: Schema, defs: dict[str, Schema]) -> Schema:
    variants = [v for v in node["anyOf"] if v.get("type") != "null"]
    if len(variants) != 1:
        raise ValueError(f"cannot express a union in a structural schema: {node}")
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    result: Schema = _rewrite({**variants[0], **rest}, defs)
    return result


def _crd(kind: str, plural: str, scope: str, version: Schema, short: list[str]) -> Schema:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
                "categories": ["dyno"],
            },
            "versions": [version],
        },
    }


def _root(spec: Schema, status: Schema | None, rules: list[Any]) -> Schema:
    props: Schema = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": spec,
    }
    if status is not None:
        props["status"] = status
    root: Schema = {"type": "object", "required": ["spec"], "properties": props}
    if rules:
        root["x-kubernetes-validations"] = rules
    return root


def formation_crd() -> Schema:
    ready = '.status.conditions[?(@.type=="Ready")]'
    version = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": [
            {"name": "Formation", "type": "string", "jsonPath": ".status.formation"},
            {"name": "Ready", "type": "string", "jsonPath": f"{ready}.status"},
            {"name": "Reason", "type": "string", "jsonPath": f"{ready}.reason", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        "schema": {
            "openAPIV3Schema": _root(
                structural(FormationSpec), structural(FormationStatus), FORMATION_ROOT_RULES
            )
        },
    }
    return _crd("Formation", "formations", "Namespaced", version, ["fm"])


def dynosize_crd() -> Schema:
    version = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "additionalPrinterColumns": [
            {"name": "Tier", "type": "string", "jsonPath": ".spec.tier"},
            {"name": "CPU", "type": "string", "jsonPath": ".spec.limits.cpu"},
            {"name": "Memory", "type": "string", "jsonPath": ".spec.limits.memory"},
            {"name": "Max", "type": "integer", "jsonPath": ".spec.maxQuantity"},
        ],
        "subresources": {"status": {}},
        "schema": {
            "openAPIV3Schema": _root(structural(DynoSizeSpec), structural(DynoSizeStatus), [])
        },
    }
    return _crd("DynoSize", "dynosizes", "Cluster", version, ["ds"])


HEADER = "# Generated by `python -m dynoform.api.crd` from dynoform.api; do not edit.\n"
CHART_FILES = Path("charts/dynoform/files")


def _yaml(*docs: Schema) -> str:
    return HEADER + yaml.safe_dump_all(docs, sort_keys=False, width=100)


def render() -> dict[str, str]:
    """File name in crds/ -> YAML text of every CRD and of the validating admission policies
    (served by every supported Kubernetes: admissionregistration.k8s.io/v1)."""
    files = {
        f"{crd['metadata']['name']}.yaml": _yaml(crd) for crd in (formation_crd(), dynosize_crd())
    }
    files[f"formations.{GROUP}.policy.yaml"] = _yaml(*names_policy(), *catalog_policy())
    return files


def render_deploy() -> dict[str, str]:
    """File name in deploy/ -> YAML text of what installs after the CRDs: the built-in sizes
    (DynoSize objects) and the stamp's MutatingAdmissionPolicy (Kubernetes 1.34+, where
    admissionregistration.k8s.io/v1beta1 is served)."""
    return {"dynosizes.yaml": _yaml(*builtin_sizes()), "stamp-policy.yaml": _yaml(*stamp_policy())}


def outputs() -> dict[Path, str]:
    """Every generated file, by its path in the repository (the chart keeps byte copies)."""
    out = {}
    for name, text in render().items():
        out[Path("crds") / name] = text
        out[CHART_FILES / "crds" / name] = text
    for name, text in render_deploy().items():
        out[Path("deploy") / name] = text
        out[CHART_FILES / name] = text
    return out


def main(argv: list[str]) -> int:
    """Write every generated file under the repository root given (default: the current
    directory); `make crds` runs this."""
    root = Path(argv[1]) if len(argv) > 1 else Path()
    for path, text in outputs().items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
