"""Does an observed child already hold what we would apply? (pure)

Server-side apply of an identical body is usually not persisted, but not always, and it is a
request either way; "a reconcile with nothing to change makes no write" must come from us. A
child needs an apply when:
- it is missing;
- our desired body changed since the last apply: its hash (stamped as an annotation) differs,
  which also catches fields we stopped setting (SSA removes those only when we re-apply);
- or someone changed a field we set (drift): the desired body is not a subset of the observed
  one. Fields the API server defaults, or other managers own, do not count.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

HASH_ANNOTATION = "dyno.dev/applied-hash"

_SUFFIX = {
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}


def stamp(body: dict[str, Any]) -> dict[str, Any]:
    """The body with the hash of its content as an annotation."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]
    meta = body["metadata"]
    annotations = {**meta.get("annotations", {}), HASH_ANNOTATION: digest}
    return {**body, "metadata": {**meta, "annotations": annotations}}


def needs_apply(desired: dict[str, Any], observed: dict[str, Any] | None) -> bool:
    """`desired` is a stamped body; `observed` the child as last seen, or None."""
    if observed is None:
        return True
    want = desired["metadata"]["annotations"][HASH_ANNOTATION]
    have = (observed.get("metadata", {}).get("annotations") or {}).get(HASH_ANNOTATION)
    # Items of a list response carry no apiVersion/kind; they name the object, they are not
    # content, so they are left out of the comparison.
    content = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
    return want != have or not is_subset(content, observed)


def is_subset(want: Any, have: Any) -> bool:
    """Every field of `want` is in `have` with an equal value (quantities compared by value)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and is_subset(v, have[k]) for k, v in want.items()
        )
    if isinstance(want, list):
        return isinstance(have, list) and _list_subset(want, have)
    return want == have or _same_quantity(want, have)


def _list_subset(want: list[Any], have: list[Any]) -> bool:
    if all(isinstance(w, dict) and "name" in w for w in want):
        by_name = {h.get("name"): h for h in have if isinstance(h, dict)}
        return all(w["name"] in by_name and is_subset(w, by_name[w["name"]]) for w in want)
    return len(want) <= len(have) and all(is_subset(w, h) for w, h in zip(want, have, strict=False))


def _same_quantity(a: Any, b: Any) -> bool:
    qa, qb = parse_quantity(a), parse_quantity(b)
    return qa is not None and qa == qb


def parse_quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity as a number (`1000m` == `1`, `2.5Gi` == `2560Mi`), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str) or not value:
        return None
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if value.endswith(suffix):
            return _decimal(value[: -len(suffix)], _SUFFIX[suffix])
    return _decimal(value, Decimal(1))


def _decimal(number: str, factor: Decimal) -> Decimal | None:
    try:
        return Decimal(number) * factor
    except InvalidOperation:
        return None


def owns_replicas(observed: dict[str, Any], manager: str) -> bool:
    """Whether `manager` holds `spec.replicas` by an apply (kube.trim keeps those entries)."""
    return any(
        entry.get("manager") == manager and entry.get("operation") == "Apply"
        for entry in observed.get("metadata", {}).get("managedFields") or []
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    )
