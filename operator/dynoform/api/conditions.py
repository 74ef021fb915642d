"""Condition types, reasons and set_condition(): pure, clock injected.

As cert-manager does, `lastTransitionTime` moves only when a condition's status flips, so a
status rewritten with the same verdict is identical and needs no write.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dynoform.api.v1alpha1 import Condition

READY = "Ready"
RECONCILED = "Reconciled"
ZONE_REDUNDANT = "ZoneRedundant"
REDUNDANCY_ADVICE = "RedundancyAdvised"
RELEASED = "Released"  # only with a release phase
AUTOSCALING = "Autoscaling"  # only when a type is autoscaled
SLEEPING = "Sleeping"  # only with an eco web type that sleeps (docs/concepts/eco-sleep.md)

# Reasons (stable, CamelCase): part of the API, documented in the README.
AVAILABLE = "DynosAvailable"
PROGRESSING = "RollingOut"
SCALED_TO_ZERO = "ScaledToZero"
APPLIED = "Applied"
INVALID_SPEC = "InvalidSpec"
UNKNOWN_SIZE = "UnknownSize"
SIZE_LIMIT = "SizeLimitExceeded"
INCOMPATIBLE_SIZES = "IncompatibleSizes"
NAME_CONFLICT = "NameConflict"
API_ERROR = "ApiError"
SPREAD = "SpreadAcrossZones"
NOT_SPREAD = "NotSpreadAcrossZones"
ADVICE_FOLLOWED = "TwoOrMoreDynos"
SINGLE_DYNO = "SingleDyno"
RELEASE_SUCCEEDED = "ReleaseSucceeded"
RELEASE_RUNNING = "ReleaseRunning"
RELEASE_FAILED = "ReleaseFailed"
AUTOSCALERS_ACTIVE = "AutoscalersActive"
AUTOSCALER_INACTIVE = "AutoscalerInactive"
KEDA_NOT_INSTALLED = "KedaNotInstalled"
ASLEEP = "Sleeping"
AWAKE = "Awake"
HTTP_ADD_ON_NOT_INSTALLED = "HttpAddOnNotInstalled"
CANNOT_SLEEP = "CannotSleep"


def now_rfc3339(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Condition],
    new: Condition,
) -> list[Condition]:
    """Return the list with `new` in place of the condition of its type.

    The previous transition time is kept while the status stays the same.
    """
    old = next((c for c in conditions if c.type == new.type), None)
    if old is not None and old.status == new.status:
        new = new.model_copy(update={"last_transition_time": old.last_transition_time})
    if old is None:
        return [*conditions, new]
    # Keep each condition in its place, so an unchanged verdict gives an identical list.
    return [new if c.type == new.type else c for c in conditions]


def find(conditions: list[Condition] | None, ctype: str) -> Condition | None:
    return next((c for c in conditions or [] if c.type == ctype), None)


def remove_condition(conditions: list[Condition], ctype: str) -> list[Condition]:
    """The list without the condition of that type (one that no longer applies)."""
    return [c for c in conditions if c.type != ctype]
