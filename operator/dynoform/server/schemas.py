"""The Platform API's bodies, as pydantic models: what requests carry and answers hold.

Field names and shapes are Heroku's (heroku/heroku-go v6 schema.json), so Heroku's clients
decode them; fields Heroku has that mean nothing here are present and null (or a fixed value the
docs name), since some clients read them unconditionally. The OpenAPI description is generated
from these models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

# A quantity as Heroku's clients send it: a number, or a string ("2", "+1", "-1").
Quantity = StrictInt | StrictStr


class Request(BaseModel):
    # Unknown fields are ignored, as Heroku ignores them (clients send extras: force_no_tty).
    model_config = ConfigDict(extra="ignore")


class FormationUpdate(Request):
    quantity: Quantity | None = Field(
        default=None, description='Dynos to run: 2, "2", or "+1"/"-1" relative to now.'
    )
    size: str | None = Field(default=None, description="Dyno size name, any case.")


class FormationBatchEntry(FormationUpdate):
    type: str = Field(description="The process type, e.g. web.")


class FormationBatch(Request):
    updates: list[FormationBatchEntry] = Field(
        min_length=1, max_length=64, description="Changes, applied in order in one write."
    )


class DynoCreate(Request):
    command: str = Field(min_length=1, max_length=32768, description="The command to run.")
    attach: bool | None = Field(default=None, description="Only false (detached) is served.")
    env: dict[str, str] | None = Field(default=None, description="Config vars for this run.")
    size: str | None = Field(default=None, description="Dyno size name (default standard-1x).")
    type: str | None = Field(default=None, description="Process type; only `run` is served.")
    time_to_live: int | None = Field(
        default=None, ge=1, description="Seconds the dyno may run before it is stopped."
    )


class Ref(BaseModel):
    id: str
    name: str


class Release(BaseModel):
    id: str
    version: int


class Formation(BaseModel):
    id: str
    type: str
    quantity: int
    size: str
    dyno_size: Ref
    command: str
    app: Ref
    created_at: str
    updated_at: str


class Dyno(BaseModel):
    id: str
    name: str
    type: str
    state: str
    size: str
    command: str
    attach_url: str | None = None
    release: Release
    app: Ref
    created_at: str
    updated_at: str


class Cost(BaseModel):
    cents: int = Field(description="US cents per unit.")
    unit: str = Field(description="month or hour.")


class DynoSize(BaseModel):
    id: str
    name: str
    compute: float = Field(description="CPU cores each dyno may use (its limit).")
    memory: float = Field(description="Memory of each dyno, GB.")
    dedicated: bool
    cost: Cost | None = Field(default=None, description="Set when the DynoSize says it.")
    dyno_units: int = 1
    precise_dyno_units: float = 1.0
    private_space_only: bool = False
    generation: Ref | None = None


class Owner(BaseModel):
    id: str
    email: str


class App(BaseModel):
    id: str
    name: str
    owner: Owner
    region: Ref
    stack: Ref
    build_stack: Ref
    process_tier: str
    web_url: str | None
    git_url: str | None = None
    repo_size: int = 0
    slug_size: int = 0
    maintenance: bool = False
    acm: bool = False
    space: Any = None
    team: Any = None
    organization: Any = None
    internal_routing: Any = None
    buildpack_provided_description: str | None = None
    database_size: int | None = None
    archived_at: str | None = None
    created_at: str
    updated_at: str
    released_at: str | None


class Account(BaseModel):
    id: str
    email: str
    name: str
    allow_tracking: bool = False
    beta: bool = False
    federated: bool = True
    verified: bool = True
    two_factor_authentication: bool = False
    suspended_at: str | None = None
    delinquent_at: str | None = None
    last_login: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    default_organization: Any = None
    default_team: Any = None
    sms_number: str | None = None


class Error(BaseModel):
    id: str = Field(description="unauthorized, forbidden, not_found, invalid_params, ...")
    message: str
