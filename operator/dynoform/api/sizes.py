"""The dyno size catalog: Heroku's built-in sizes, the admin's DynoSizes, and their rules.

Memory figures are Heroku's (Dev Center "Dyno Types"). Heroku gives CPU as a share ("1x", "2x")
or as dedicated compute; Kubernetes wants cores, so the mapping below is ours (documented in
the README): shared sizes request a quarter core per "x" and may burst to 4x, like Heroku's
1x-4x compute; performance sizes are dedicated, so requests equal limits (Guaranteed QoS).
Memory requests equal limits everywhere: a dyno over its memory is stopped, never swapped.
"""

from __future__ import annotations

from collections.abc import Mapping

from dynoform.api.conditions import CANNOT_SLEEP, INCOMPATIBLE_SIZES, SIZE_LIMIT, UNKNOWN_SIZE
from dynoform.api.dynosize import CatalogEntry
from dynoform.api.v1alpha1 import DynoSize, DynoSizeSpec, FormationSpec, Resources


def _size(
    display: str, tier: str, cpu: str, cpu_limit: str, memory: str, **rules: object
) -> DynoSizeSpec:
    return DynoSizeSpec.model_validate(
        {
            "displayName": display,
            "tier": tier,
            "requests": Resources(cpu=cpu, memory=memory),
            "limits": Resources(cpu=cpu_limit, memory=memory),
            **rules,
        }
    )


_ONE = {"maxQuantity": 1, "horizontalScaling": False}
_PERF = {"maxQuantity": 10}  # Heroku's default limit for performance dynos per process type.

BUILTIN: Mapping[str, DynoSizeSpec] = {
    "eco": _size("Eco", "eco", "250m", "1", "512Mi", **_ONE),
    "basic": _size("Basic", "basic", "250m", "1", "512Mi", **_ONE),
    "standard-1x": _size("Standard-1X", "standard", "250m", "1", "512Mi"),
    "standard-2x": _size("Standard-2X", "standard", "500m", "2", "1Gi"),
    "performance-m": _size("Performance-M", "performance", "2", "2", "2560Mi", **_PERF),
    "performance-l": _size("Performance-L", "performance", "8", "8", "14Gi", **_PERF),
    "performance-l-ram": _size("Performance-L-RAM", "performance", "4", "4", "30Gi", **_PERF),
    "performance-xl": _size("Performance-XL", "performance", "8", "8", "62Gi", **_PERF),
    "performance-2xl": _size("Performance-2XL", "performance", "16", "16", "126Gi", **_PERF),
}


class Catalog:
    """Built-in sizes overlaid with the cluster's DynoSizes (an admin's size wins)."""

    def __init__(self, custom: Mapping[str, DynoSizeSpec] | None = None) -> None:
        self._sizes = {**BUILTIN, **(custom or {})}

    @classmethod
    def from_objects(cls, objects: list[DynoSize]) -> Catalog:
        return cls({o.name: o.spec for o in objects})

    def get(self, name: str) -> DynoSizeSpec | None:
        return self._sizes.get(name.lower())

    def names(self) -> list[str]:
        return sorted(self._sizes, key=_catalog_order)

    def display(self, name: str) -> str:
        spec = self.get(name)
        return spec.display_name if spec and spec.display_name else name

    def index(self) -> list[CatalogEntry]:
        """Every size in catalog order: what the admission policy reads in each DynoSize's
        status to judge the rules that need the whole catalog (dynoform.api.admission)."""
        return [
            CatalogEntry(name=n, display_name=self.display(n), tier=self._sizes[n].tier)
            for n in self.names()
        ]


def _catalog_order(name: str) -> tuple[int, str]:
    known = list(BUILTIN)
    return (known.index(name), "") if name in known else (len(known), name)


class SizeError(ValueError):
    """A formation that the catalog refuses; `reason` is the condition reason to report."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check(spec: FormationSpec, catalog: Catalog) -> dict[str, DynoSizeSpec]:
    """Resolve every process type's size, or raise SizeError with Heroku-like wording."""
    resolved: dict[str, DynoSizeSpec] = {}
    for ptype in sorted(spec.processes):
        size_name = spec.size_of(ptype)
        size = catalog.get(size_name)
        if size is None:
            raise SizeError(
                UNKNOWN_SIZE,
                f"No such size as {size_name} (process type {ptype}). Available dyno sizes are "
                f"{_and_list(catalog.names())}.",
            )
        _check_quantity(ptype, size_name, spec.quantity_of(ptype), size, catalog)
        windows = spec.scale_windows or {}
        for window in sorted(windows):
            quantity = windows[window].quantities.get(ptype)
            if quantity is not None:
                where = f" in scale window {window}"
                _check_quantity(ptype, size_name, quantity, size, catalog, where)
        _check_autoscaling(ptype, spec, size, catalog)
        _check_sleep(ptype, spec, catalog)
        resolved[ptype] = size
    _check_tiers(spec, resolved, catalog)
    check_release(spec, catalog)
    check_jobs(spec, catalog)
    return resolved


def check_release(spec: FormationSpec, catalog: Catalog) -> DynoSizeSpec | None:
    """The release command's size, resolved (None without a release phase), or SizeError."""
    if spec.release is None:
        return None
    size = catalog.get(spec.release.size)
    if size is None:
        raise SizeError(
            UNKNOWN_SIZE,
            f"No such size as {spec.release.size} (release). Available dyno sizes are "
            f"{_and_list(catalog.names())}.",
        )
    return size


def check_jobs(spec: FormationSpec, catalog: Catalog) -> dict[str, DynoSizeSpec]:
    """Every scheduled job's size, resolved, or SizeError. A job is a one-off dyno, not part of
    the formation: no quantity, and the tiers rule (of the formation's types) leaves it alone."""
    resolved: dict[str, DynoSizeSpec] = {}
    for job in sorted(spec.jobs or {}):
        name = spec.job_size_of(job)
        size = catalog.get(name)
        if size is None:
            raise SizeError(
                UNKNOWN_SIZE,
                f"No such size as {name} (scheduled job {job}). Available dyno sizes are "
                f"{_and_list(catalog.names())}.",
            )
        resolved[job] = size
    return resolved


def _check_autoscaling(
    ptype: str, spec: FormationSpec, size: DynoSizeSpec, catalog: Catalog
) -> None:
    """A size that cannot run two dynos cannot be autoscaled, nor beyond its limit."""
    scaling = spec.autoscaling_of(ptype)
    if scaling is None:
        return
    display = catalog.display(spec.size_of(ptype))
    if not size.horizontal_scaling:
        raise SizeError(
            SIZE_LIMIT,
            f"Cannot autoscale {display} dynos ({ptype}): they do not scale horizontally. "
            "Upgrade to a larger dyno first.",
        )
    if size.max_quantity is not None and scaling.max > size.max_quantity:
        raise SizeError(
            SIZE_LIMIT,
            f"Cannot autoscale {ptype} to more than {size.max_quantity} {display} dynos "
            f"(autoscaling.max {scaling.max}).",
        )


def _check_sleep(ptype: str, spec: FormationSpec, catalog: Catalog) -> None:
    """Only eco dynos sleep: asking another size to is a mistake, said so."""
    size_name = spec.size_of(ptype)
    if spec.processes[ptype].sleep and size_name != "eco":
        raise SizeError(
            CANNOT_SLEEP,
            f"Only Eco dynos sleep: {ptype} runs {catalog.display(size_name)} dynos. "
            "Remove sleep, or use the eco size.",
        )


# Heroku: an app on Eco dynos uses only Eco dynos, one on Basic only Basic; the professional
# tiers (standard, performance, and an admin's own) mix freely.
EXCLUSIVE_TIERS = ("eco", "basic")


def _check_tiers(spec: FormationSpec, sizes: dict[str, DynoSizeSpec], catalog: Catalog) -> None:
    tiers = {size.tier for size in sizes.values()}
    if tiers & set(EXCLUSIVE_TIERS) and len(tiers) > 1:
        used = sorted({spec.size_of(t) for t in sizes}, key=_catalog_order)
        names = [catalog.display(n) for n in used]
        raise SizeError(
            INCOMPATIBLE_SIZES,
            f"Cannot use the following dyno types in the same app: {_and_list(names)}",
        )


def _check_quantity(
    ptype: str,
    size_name: str,
    quantity: int,
    size: DynoSizeSpec,
    catalog: Catalog,
    where: str = "",
) -> None:
    """`where`: which scale window asks for `quantity`, if one does (` in scale window night`)."""
    display = catalog.display(size_name)
    if not size.horizontal_scaling and quantity > 1:
        raise SizeError(
            SIZE_LIMIT,
            f"Cannot run more than 1 {display} dyno per process type ({ptype}={quantity}"
            f"{where}). Upgrade to a larger dyno first before adding more dynos.",
        )
    if size.max_quantity is not None and quantity > size.max_quantity:
        raise SizeError(
            SIZE_LIMIT,
            f"Cannot run more than {size.max_quantity} {display} dynos per process type "
            f"({ptype}={quantity}{where}).",
        )


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
