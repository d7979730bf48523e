"""Custodial users, wallet accounts and their Kalshi-style API keys."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel


class User(SQLModel, table=True):
    """A trading identity: a custodial user, or a Solana wallet trading through the bridge."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    kind: str = Field(default="custodial", max_length=16)  # custodial | wallet
    wallet: str | None = Field(default=None, unique=True, max_length=64)  # base58 pubkey
    # The 16-byte custodial account reference (32 hex) wallets put in `deposit_*`; made on first ask.
    deposit_reference: str | None = Field(default=None, unique=True, max_length=32)
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class ApiKey(SQLModel, table=True):
    """An RSA public key a user signs requests with (Kalshi's KALSHI-ACCESS-KEY is key_id)."""

    __tablename__ = "api_keys"

    key_id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(default="", max_length=200)
    public_key_pem: str = Field(sa_column=Column(Text, nullable=False))
    scopes: str = Field(default="read,write", max_length=64)
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    # None: the key acts for the user and any of its subaccounts; N: only for subaccount N
    # (0 is the primary account), as Kalshi's keys created with `subaccount`.
    subaccount: int | None = Field(default=None)
