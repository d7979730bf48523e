"""How accounts reach the exchange: a builder bound to an API key, a user's API usage tier,
subaccounts and the transfers between them."""
from __future__ import annotations

from sqlalchemy import UniqueConstraint
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


class Subaccount(SQLModel, table=True):
    """Kalshi's numbered subaccount (1-63) of a user: its own custodial user row (`user_id`,
    with its own ledger account, orders and positions), reached only through its parent."""

    __tablename__ = "subaccounts"
    __table_args__ = (UniqueConstraint("parent_user_id", "number", name="uq_subaccounts_parent_number"),)

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    parent_user_id: int = Field(foreign_key="users.id", index=True)
    number: int
    created_ms: int = Field(sa_column=big())


class SubaccountTransfer(SQLModel, table=True):
    """Cash moved between two subaccounts of one user (0 is the primary); once per
    (parent, client_transfer_id)."""

    __tablename__ = "subaccount_transfers"
    __table_args__ = (UniqueConstraint("parent_user_id", "client_transfer_id", name="uq_subaccount_transfers_client"),)

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: str = Field(unique=True, max_length=40)
    client_transfer_id: str = Field(max_length=64)
    parent_user_id: int = Field(foreign_key="users.id", index=True)
    from_number: int
    to_number: int
    amount: int = Field(sa_column=big())
    journal_id: str = Field(max_length=40)
    created_ms: int = Field(sa_column=big())
