"""Request and response models of health and API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from chalicelib.domain.access import Role


def _from_epoch(value: Any) -> Any:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value


Stamp = Annotated[datetime, BeforeValidator(_from_epoch)]


class Health(BaseModel):
    status: str


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = Field(description="admin, service or channel")
    channel: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="the key stops working after this many days"
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="or: when it stops working (not with expires_in_days)"
    )


class ApiKeyCreated(BaseModel):
    key_id: str
    api_key: str = Field(description="shown once; only its hash is stored")
    role: Role
    channel: str | None = None
    created_at: Stamp
    expires_at: Stamp | None = None


class ApiKey(BaseModel):
    """A key as listed: never the key itself."""

    key_id: str
    role: Role
    channel: str | None = None
    created_at: Stamp
    expires_at: Stamp | None = Field(default=None, description="absent: never expires")
    last_used_at: Stamp | None = Field(
        default=None, description="absent: never used; recorded at most once a minute"
    )
    revoked: bool
    revoked_at: Stamp | None = None


class ApiKeyList(BaseModel):
    keys: list[ApiKey]
