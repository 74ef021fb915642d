"""Kubernetes quantities (pure), for the CLI's ps:type totals and the Platform API's dyno
sizes: `512Mi` x 3 = `1.5Gi`, `250m` x 3 = `750m`.

Only the forms the size models allow (dynoform.api.v1alpha1.Resources): CPU as cores or
millicores, memory with a binary or decimal suffix.
"""

from __future__ import annotations

import re
from decimal import Decimal

_MEMORY = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MEMORY |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_BINARY = (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def parse_memory(text: str) -> int:
    """Bytes in `512Mi`, `14Gi`, `1G`."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", text)
    if m is None:
        raise ValueError(f"not a memory quantity: {text}")
    return int(Decimal(m.group(1)) * _MEMORY[m.group(2) or ""])


def parse_cpu(text: str) -> int:
    """Millicores in `250m` or `2`."""
    if text.endswith("m"):
        return int(Decimal(text[:-1]))
    return int(Decimal(text) * 1000)


def memory_text(size: int) -> str:
    """The largest binary unit that shows `size` in at most two decimals: `1.5Gi`, `512Mi`."""
    for suffix, unit in _BINARY:
        if size >= unit:
            return _number(Decimal(size) / unit) + suffix
    return str(size)


def cpu_text(millicores: int) -> str:
    """Cores when whole or above one (`2`, `1.5`), millicores below (`750m`)."""
    if millicores >= 1000 or millicores == 0:
        return _number(Decimal(millicores) / 1000)
    return f"{millicores}m"


def _number(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return text or "0"
