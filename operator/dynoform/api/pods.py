"""What a Formation's dynos' pods get beyond their command and size (part of the v1alpha1 API):
pull secrets, config vars from Secrets and ConfigMaps, the spread across zones and the security
context. Each field is what Kubernetes accepts in a Deployment, so an accepted Formation can
always be applied.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from dynoform.api.base import Model
from dynoform.api.base import cel as _cel

# What Kubernetes accepts in a Deployment, so that an accepted Formation can always be applied
# (each found refused at apply time by tests/integration/test_fuzz.py): object names are DNS
# subdomains, an envFrom prefix is printable ASCII but '=', ids fit in 31 bits.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_PREFIX_PATTERN = r"^[ -<>-~]*$"
MAX_ID = 2**31 - 1


class LocalObjectReference(Model):
    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="Name of the object (a DNS subdomain).",
    )


class EnvFromSource(Model):
    """Config vars loaded from a whole Secret or ConfigMap, as Kubernetes' envFrom does."""

    secret_ref: LocalObjectReference | None = Field(
        default=None, description="A Secret whose keys become config vars."
    )
    config_map_ref: LocalObjectReference | None = Field(
        default=None, description="A ConfigMap whose keys become config vars."
    )
    prefix: str | None = Field(
        default=None,
        max_length=253,
        pattern=ENV_PREFIX_PATTERN,
        description="Prepended to every key loaded from the source (printable ASCII, no '=').",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "has(self.secretRef) != has(self.configMapRef)",
                    "each envFrom entry names exactly one of secretRef or configMapRef",
                )
            ]
        }
    )


class Spread(Model):
    """How dynos of each type are spread across zones and hosts."""

    when_unsatisfiable: Literal["ScheduleAnyway", "DoNotSchedule"] = Field(
        default="ScheduleAnyway",
        description="ScheduleAnyway (default) prefers an even spread (maxSkew 1) but still "
        "starts dynos when a zone is full; DoNotSchedule leaves dynos Pending rather than "
        "break the spread.",
    )


class PodSecurity(Model):
    """Overrides of the restricted security context every dyno gets by default."""

    run_as_user: int | None = Field(
        default=None,
        ge=0,
        le=MAX_ID,
        description="UID to run as (for images that default to root).",
    )
    run_as_group: int | None = Field(default=None, ge=0, le=MAX_ID, description="GID to run as.")
    fs_group: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="Group for mounted volumes."
    )
    run_as_non_root: bool = Field(
        default=True, description="Refuse to start a dyno whose image runs as root."
    )
    read_only_root_filesystem: bool = Field(
        default=False,
        description="Mount the image read-only (Heroku's filesystem is writable but "
        "ephemeral, so this is off by default).",
    )
