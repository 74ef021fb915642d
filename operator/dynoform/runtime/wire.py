"""What goes on the wire, both ways: apply bodies the API server reads back as sent, and
objects trimmed of what the cache does not need (pure).

Objects are handled as plain dicts (lightkube's generic resources are dict subclasses), which
skips the typed-model parse and keeps the cache small; `managedFields`, often the largest part
of an object, is dropped on receipt, but for who manages `spec.replicas` (the hand-over to an
autoscaler needs it).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec  # lightkube 1.0's JSON encoder

# What JSON carries raw but YAML does not read back as it is: DEL and the C1 controls, U+FFFE
# and U+FFFF (refused), and the line breaks NEL, LS and PS (folded into a space).
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def apply_body(body: dict[str, Any]) -> msgspec.Raw:
    """The body of a server-side apply, which the API server reads as YAML
    (application/apply-patch+yaml): JSON, with the characters YAML would not read back escaped.
    Sent raw, a command or config var holding one fails every apply with "yaml: control
    characters are not allowed" (or loses a line break), though the API server stores them
    from JSON."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    escaped = _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return msgspec.Raw(escaped.encode())


def trim(obj: dict[str, Any]) -> dict[str, Any]:
    """A plain dict whose managedFields say only who manages spec.replicas, if anyone."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    owners = [_replicas_entry(f) for f in meta.pop("managedFields", None) or [] if _owns(f)]
    if owners:
        meta["managedFields"] = owners
    out["metadata"] = meta
    return out


def _owns(entry: dict[str, Any]) -> bool:
    return "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})


def _replicas_entry(entry: dict[str, Any]) -> dict[str, Any]:
    keep: dict[str, Any] = {
        k: entry[k] for k in ("manager", "operation", "subresource") if k in entry
    }
    return {**keep, "fieldsV1": {"f:spec": {"f:replicas": {}}}}
