"""`dyno formation import`: a Procfile (and app.json's `formation`) -> a Formation manifest (pure).

The Procfile grammar is the classic one, `<type>: <command>` a line (Dev Center "The Procfile";
buildpacks-procfile SPEC.md), made strict: blank lines and `#` comments are skipped (as the CNB
spec allows), and every other line must parse, or the import fails naming the line. A type must
be a valid Formation process type (a lowercase DNS label); the CNB spec allows converting `_` and
capitals, but a silent rename would surprise, so the error suggests the converted name instead.
`release:` is Heroku's release phase, not a process type: it becomes `spec.release.command`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dynoform.api.sizes import BUILTIN
from dynoform.api.v1alpha1 import (
    API_VERSION,
    NAME_MAX,
    PROCESS_TYPE_MAX,
    RELEASE,
    Formation,
    is_valid_process_type,
)
from dynoform.cli.errors import CliError

LINE_RE = re.compile(r"^\s*([^\s:]+)\s*:\s*(.*?)\s*$")


@dataclass
class Imported:
    """The manifest, and what the user should hear about (printed to stderr)."""

    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def parse_procfile(text: str, source: str = "Procfile") -> tuple[dict[str, str], str | None]:
    """Process types in file order, and the release command if any; a bad line is a CliError
    with its number."""
    processes: dict[str, str] = {}
    lines_of: dict[str, int] = {}
    release: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ptype, command = _parse_line(line, number, source)
        if ptype in lines_of:
            raise CliError(
                f"{source}:{number}: process type {ptype} is declared twice "
                f"(first on line {lines_of[ptype]})."
            )
        lines_of[ptype] = number
        if ptype == RELEASE:
            release = command
        else:
            processes[ptype] = command
    if not processes:
        raise CliError(f"{source} declares no process types.")
    return processes, release


def _parse_line(line: str, number: int, source: str) -> tuple[str, str]:
    m = LINE_RE.match(line)
    if m is None or not m.group(2):
        raise CliError(
            f"{source}:{number}: cannot parse {line.strip()!r}: expected `<process type>: "
            "<command>`."
        )
    ptype = m.group(1)
    if not is_valid_process_type(ptype):
        raise CliError(f"{source}:{number}: {_bad_type(ptype)}")
    return ptype, m.group(2)


def _bad_type(ptype: str) -> str:
    message = (
        f"{ptype!r} is not a valid process type: lowercase letters, digits and '-', starting "
        f"with a letter, at most {PROCESS_TYPE_MAX} characters"
    )
    suggestion = re.sub(r"[^a-z0-9-]", "-", ptype.lower()).strip("-")
    if is_valid_process_type(suggestion):
        message += f" (try {suggestion!r})"
    return message + "."


def formation_of(app_json: dict[str, Any], types: dict[str, str]) -> dict[str, dict[str, Any]]:
    """app.json's `formation` as quantity and size per type (sizes lowercased)."""
    declared = app_json.get("formation") or {}
    if not isinstance(declared, dict):
        raise CliError("app.json: `formation` must be an object of process types.")
    out: dict[str, dict[str, Any]] = {}
    for ptype, entry in declared.items():
        if ptype not in types:
            raise CliError(
                f"app.json: formation names {ptype}, which the Procfile does not declare "
                f"(it declares {', '.join(types)})."
            )
        out[ptype] = _app_json_entry(ptype, entry)
    return out


def _app_json_entry(ptype: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise CliError(f"app.json: formation.{ptype} must be an object (quantity, size).")
    out: dict[str, Any] = {}
    if "quantity" in entry:
        quantity = entry["quantity"]
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise CliError(f"app.json: formation.{ptype}.quantity must be a whole number.")
        out["quantity"] = quantity
    if "size" in entry:
        out["size"] = str(entry["size"]).lower()
    return out


def build(
    name: str,
    image: str,
    procfile: str,
    app_json: dict[str, Any] | None = None,
    namespace: str | None = None,
    source: str = "Procfile",
) -> Imported:
    """The Formation manifest, checked against the API's models and rules."""
    types, release = parse_procfile(procfile, source)
    scaled = formation_of(app_json or {}, types)
    processes = {t: {"command": c, **scaled.get(t, {})} for t, c in types.items()}
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    spec: dict[str, Any] = {"image": image, "processes": processes}
    if release is not None:
        spec["release"] = {"command": release}
    manifest = {"apiVersion": API_VERSION, "kind": "Formation", "metadata": metadata, "spec": spec}
    _check(manifest)
    return Imported(manifest, _size_notes(processes))


def _check(manifest: dict[str, Any]) -> None:
    name = manifest["metadata"]["name"]
    if not is_valid_process_type(name) or len(name) > NAME_MAX:
        raise CliError(f"--name {name!r}: a Formation's name must be a DNS label.")
    try:
        formation = Formation.model_validate(manifest)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CliError(f"the manifest is invalid at {where}: {err['msg']}") from exc
    spec = formation.spec
    for ptype in spec.processes:
        if len(name) + len(ptype) >= NAME_MAX:
            raise CliError(f"{name}-{ptype} must fit in {NAME_MAX} characters.")
        if spec.is_singleton(ptype) and spec.quantity_of(ptype) > 1:
            raise CliError(f"{ptype} is a singleton process type and runs at most 1 dyno.")


def _size_notes(processes: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{t}: {p['size']} is not a built-in size; the cluster needs a DynoSize of that name."
        for t, p in processes.items()
        if "size" in p and p["size"] not in BUILTIN
    ]
