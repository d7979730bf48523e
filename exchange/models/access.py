"""How API keys reach the exchange: a builder bound to a key, a user's API usage tier."""
from __future__ import annotations

from sqlmodel import Field, SQLModel

from ._base import big


class ApiKeyBuilder(SQLModel, table=True):
    """Orders placed with `key_id` that name no builder_code are attributed to `builder_code`
    (for clients that cannot send the field). No foreign key to api_keys: a deleted key's
    binding is inert (the key no longer signs anything)."""

    __tablename__ = "api_key_builders"

    key_id: str = Field(primary_key=True, max_length=64)
    builder_code: str = Field(foreign_key="builders.code", max_length=64)
    created_ms: int = Field(sa_column=big())


class ApiUsageTier(SQLModel, table=True):
    """A user's Kalshi API usage tier (its read/write token budgets); users without a row
    have the venue's default tier."""

    __tablename__ = "api_usage_tiers"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    tier: str = Field(max_length=16)
    updated_ms: int = Field(sa_column=big())
