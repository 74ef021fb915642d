"""Generates the CRDs (Formation, DynoSize) from the pydantic models.

Pydantic's JSON Schema is not a Kubernetes structural schema as it is, so it is rewritten:
`$ref`s inlined, `title` dropped, optional `anyOf [X, null]` folded to X, `additionalProperties:
false` dropped (the API server prunes unknown fields and kubectl's strict validation names them),
string `maxLength`/`minLength` on maps renamed to properties counts. The CEL rules travel
through unchanged as `x-kubernetes-validations`.

Run `python -m dynoform.api.crd crds/` to write them (`make crds` also writes the Helm chart's
copy in charts/dynoform/files/crds/); unit tests fail when either drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from dynoform.api.v1alpha1 import (
    FORMATION_ROOT_RULES,
    GROUP,
    PROCESS_TYPE_PATTERN,
    VERSION,
    DynoSizeSpec,
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
        "schema": {"openAPIV3Schema": _root(structural(DynoSizeSpec), None, [])},
    }
    return _crd("DynoSize", "dynosizes", "Cluster", version, ["ds"])


def formation_policy() -> list[Schema]:
    """A ValidatingAdmissionPolicy (built-in admission, no webhook) for what CRD CEL can't afford.

    The CRD's cost estimator sees map keys as unbounded strings, so a regex over process type
    names exceeds its budget; an admission policy is only limited at run time, where the keys
    are short. It denies with the offending names listed.
    """
    name = f"formations.{GROUP}"
    valid = f"t.matches('{PROCESS_TYPE_PATTERN}')"
    rule = {
        "apiGroups": [GROUP],
        "apiVersions": ["*"],
        "operations": ["CREATE", "UPDATE"],
        "resources": ["formations"],
    }
    check = {
        "expression": f"object.spec.processes.all(t, {valid})",
        "messageExpression": "'spec.processes: invalid process type names: ' + "
        f"object.spec.processes.filter(t, !{valid}).join(', ') + ' (lowercase letters, "
        "digits and -, starting with a letter and ending with a letter or digit)'",
        "reason": "Invalid",
    }
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [rule]},
            "validations": [check],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, binding]


HEADER = "# Generated by `python -m dynoform.api.crd crds/` from dynoform.api; do not edit.\n"


def render() -> dict[str, str]:
    """File name -> YAML text of every CRD and of the admission policy."""
    files = {
        f"{crd['metadata']['name']}.yaml": HEADER + yaml.safe_dump(crd, sort_keys=False, width=100)
        for crd in (formation_crd(), dynosize_crd())
    }
    policy = yaml.safe_dump_all(formation_policy(), sort_keys=False, width=100)
    files[f"formations.{GROUP}.policy.yaml"] = HEADER + policy
    return files


def main(argv: list[str]) -> int:
    """Write the files into each directory given (default crds/); `make crds` also names the
    chart's copy, charts/dynoform/files/crds/, which the chart installs and upgrades."""
    for out in [Path(d) for d in argv[1:]] or [Path("crds")]:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in render().items():
            (out / name).write_text(text)
            print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
