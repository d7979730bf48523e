"""Custody's ways in and out of the ledger: deposits seen on chain, withdrawals to wallets."""
from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import big

# Withdrawal statuses (DESIGN.md, Wallet and custody endpoints).
PENDING, SENT, FINALIZED = "pending", "sent", "finalized"


class Deposit(SQLModel, table=True):
    """A `deposit_*` instruction seen finalized on chain, credited once per (signature, ix_index).

    `user_id` is the custodial account its 16-byte reference names, or None: credited to the
    suspense account because no user has that reference."""

    __tablename__ = "deposits"
    __table_args__ = (UniqueConstraint("signature", "ix_index", name="uq_deposits_signature_ix"),)

    id: int | None = Field(default=None, primary_key=True)
    signature: str = Field(max_length=100)
    ix_index: int
    reference: str = Field(max_length=32)  # hex
    asset: str = Field(max_length=4)  # yes | no | cash
    ticker: str | None = Field(default=None, max_length=64)
    amount: int = Field(sa_column=big())
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    journal_id: str = Field(max_length=40)
    created_ms: int = Field(sa_column=big())


class CustodyWithdrawal(SQLModel, table=True):
    """A custodial position or cash on its way to a wallet: pending (in the outbox) -> sent
    (the bridge's transaction applied it) -> finalized (that transaction is final)."""

    __tablename__ = "custody_withdrawals"

    id: int | None = Field(default=None, primary_key=True)
    withdrawal_id: str = Field(unique=True, max_length=40)
    user_id: int = Field(foreign_key="users.id", index=True)
    ticker: str | None = Field(default=None, max_length=64)
    asset: str = Field(max_length=4)  # yes | no | cash
    amount: int = Field(sa_column=big())
    wallet: str = Field(max_length=64)
    status: str = Field(default=PENDING, max_length=10)
    stream: str = Field(max_length=64)
    seq: int = Field(sa_column=big())
    signature: str | None = Field(default=None, max_length=100)
    journal_id: str = Field(max_length=40)
    created_ms: int = Field(sa_column=big())
    updated_ms: int = Field(sa_column=big())
