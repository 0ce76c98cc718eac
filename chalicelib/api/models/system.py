"""Request and response models of health and API keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.access import Role


class Health(BaseModel):
    status: str


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = Field(description="admin, service or channel")
    channel: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"
    )


class ApiKeyCreated(BaseModel):
    key_id: str
    api_key: str = Field(description="shown once; only its hash is stored")
    role: Role
    channel: str | None = None
