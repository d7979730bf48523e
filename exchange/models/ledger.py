"""The double-entry ledger.

Every movement of cash or contracts is a PAIR of entries (same `journal_id` and `leg`,
amounts +x and -x of one asset), so the sum of every asset over all accounts is always
zero. Contra accounts make that literal: `external` goes negative by what was deposited,
`issuance:<ticker>` by the YES and NO sets outstanding. Balances and positions derive
from the entries; `ledger_balances` is their running sum, kept in the same transaction
(a cache the tests check against the entries).

Assets: "USD" (collateral base units), "YES:<ticker>", "NO:<ticker>" (contract base units).
"""
from __future__ import annotations

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import big

CASH = "USD"

# Account kinds.
USER = "user"  # a custodial user or a wallet account (users.kind says which); ref = users.id
FEES = "fees"  # the venue's fee income
BUILDER = "builder"  # ref = builder code
TREASURY = "treasury"
EXTERNAL = "external"  # contra account of deposits and withdrawals (the world outside the ledger)
COLLATERAL = "collateral"  # ref = ticker: collateral locked behind that market's outstanding sets
ISSUANCE = "issuance"  # ref = ticker: contra account of minted YES/NO (minus = outstanding)
SUSPENSE = "suspense"  # deposits whose reference names no user, until an operator assigns them

# Movement kinds (ledger_entries.kind).
DEPOSIT = "deposit"
WITHDRAWAL = "withdrawal"
TRANSFER = "transfer"  # contracts for cash between two holders
MINT = "mint"  # a new set: YES and NO out of issuance, their price into collateral
MERGE = "merge"  # a set retired: YES and NO back to issuance, $1 out of collateral
FEE = "fee"
REBATE = "rebate"
BUILDER_SHARE = "builder_share"
SETTLEMENT = "settlement"
REVERSAL = "reversal"  # compensating entries of a fill the chain refused for good


def yes_asset(ticker: str) -> str:
    return f"YES:{ticker}"


def no_asset(ticker: str) -> str:
    return f"NO:{ticker}"


class LedgerAccount(SQLModel, table=True):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_ledger_accounts_kind_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    ref: str = Field(default="", max_length=64)
    created_ms: int = Field(sa_column=big())


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_journal", "journal_id", "leg"),
        Index("ix_ledger_entries_account_asset", "account_id", "asset"),
    )

    id: int | None = Field(default=None, primary_key=True)
    journal_id: str = Field(max_length=40)  # one per command (DB transaction)
    leg: int  # the movement within the journal; its two entries share it
    account_id: int = Field(foreign_key="ledger_accounts.id")
    asset: str = Field(max_length=72)
    amount: int = Field(sa_column=big())  # signed
    kind: str = Field(max_length=16)
    ref: str = Field(default="", max_length=64)  # the trade, order, settlement, ... it belongs to
    created_ms: int = Field(sa_column=big())


class LedgerBalance(SQLModel, table=True):
    __tablename__ = "ledger_balances"

    account_id: int = Field(foreign_key="ledger_accounts.id", primary_key=True)
    asset: str = Field(primary_key=True, max_length=72)
    amount: int = Field(default=0, sa_column=big(default=0))


class PositionStats(SQLModel, table=True):
    """Kalshi's per-position bookkeeping (the position itself comes from the balances)."""

    __tablename__ = "position_stats"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    ticker: str = Field(primary_key=True, max_length=64)
    exposure: int = Field(default=0, sa_column=big(default=0))  # cost basis of what is held
    total_traded: int = Field(default=0, sa_column=big(default=0))
    realized_pnl: int = Field(default=0, sa_column=big(default=0))
    fees_paid: int = Field(default=0, sa_column=big(default=0))
    updated_ms: int = Field(default=0, sa_column=big(default=0))
