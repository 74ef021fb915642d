"""DynoSize (part of the v1alpha1 API): a cluster-scoped dyno size, like a StorageClass.

An admin adds sizes, or overrides a built-in one of the same name (dynoform.api.sizes holds Heroku's
catalog); editing one rolls it out to every Formation that uses it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from dynoform.api.base import Model


class Resources(Model):
    """CPU and memory of one dyno, as Kubernetes quantities."""

    cpu: str = Field(pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="CPU, e.g. `250m` or `2`.")
    memory: str = Field(
        pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$",
        description="Memory, e.g. `512Mi` or `14Gi`.",
    )


class Toleration(Model):
    """A toleration for dedicated nodes, as core/v1 Toleration."""

    key: str | None = Field(default=None, description="The taint key.")
    operator: Literal["Exists", "Equal"] | None = Field(default=None, description="Operator.")
    value: str | None = Field(default=None, description="The taint value.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="The taint effect."
    )


class Cost(Model):
    """What one dyno of a size costs, as the Platform API's dyno-size `cost` says it: US cents
    per month or per hour. A cluster has no price list of its own: the built-in sizes carry
    none, an admin gives one (an internal charge-back, say)."""

    cents: int = Field(ge=0, le=100_000_000, description="US cents per `unit`, e.g. 2500.")
    unit: Literal["month", "hour"] = Field(default="month", description="month or hour.")


class DynoSizeSpec(Model):
    """A dyno size: what one dyno gets, and the scaling rules that come with it."""

    display_name: str | None = Field(
        default=None, max_length=63, description="Canonical casing for output, e.g. Performance-L."
    )
    tier: str = Field(
        pattern=r"^[a-z][-a-z0-9]*$",
        max_length=63,
        description="The tier (eco, basic, standard, performance, or the admin's own).",
    )
    requests: Resources = Field(description="Resources reserved for each dyno.")
    limits: Resources = Field(description="The most each dyno may use.")
    max_quantity: int | None = Field(
        default=None, ge=1, description="The most dynos of this size per process type."
    )
    horizontal_scaling: bool = Field(
        default=True, description="Whether a process type may run more than one dyno of it."
    )
    node_selector: dict[str, str] | None = Field(
        default=None, description="Nodes reserved for this size (dedicated sizes)."
    )
    tolerations: list[Toleration] | None = Field(
        default=None, description="Tolerations for the taints of dedicated nodes."
    )
    cost: Cost | None = Field(
        default=None, description="What one dyno costs, shown by the Dashboard and the API."
    )


class CatalogEntry(Model):
    """One size of the catalog, as the admission policy needs it to judge a whole formation."""

    name: str = Field(max_length=63, description="The size's name.")
    display_name: str = Field(max_length=63, description="Its canonical casing.")
    tier: str = Field(max_length=63, description="Its tier.")


class DynoSizeStatus(Model):
    """What the operator observed: the whole catalog, written on every DynoSize.

    A ValidatingAdmissionPolicy sees one DynoSize at a time (its params); the rules that need
    every size at once (an unknown size, tiers that do not mix) read this index.
    """

    catalog: list[CatalogEntry] | None = Field(
        default=None,
        max_length=1024,
        description="Every size of the catalog (built-in and the admin's), in catalog order.",
    )


class DynoSize(Model):
    """A cluster-scoped dyno size, like a StorageClass; overrides a built-in of the same name."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["dyno.dev/v1alpha1"] = "dyno.dev/v1alpha1"
    kind: Literal["DynoSize"] = Field(default="DynoSize")
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: DynoSizeSpec
    status: DynoSizeStatus | None = None

    @property
    def name(self) -> str:
        return str(self.metadata["name"])
