"""What every API model shares: camelCase on the wire, unknown fields refused, CEL rules."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

MAX_QUANTITY = 1000  # dynos per process type


def cel(rule: str, message: str, **extra: str) -> JsonDict:
    """A CEL rule (`x-kubernetes-validations` entry) with the message users see."""
    return {"rule": rule, "message": message, **extra}


class Model(BaseModel):
    """Base for API models: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def wire(self) -> dict[str, Any]:
        """The object as Kubernetes stores it: camelCase, no nulls."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
