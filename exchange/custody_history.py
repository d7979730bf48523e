"""Deposit and withdrawal history of a custodial user (read-only; newest first, id cursors).

Two views of the same movements:
- Kalshi's `GET /portfolio/deposits` / `/portfolio/withdrawals` are cash only, in cents. They
  are read from the ledger (the user's `deposit` / `withdrawal` cash entries), so every way
  cash came in or went out is there: an on-chain deposit seen by the indexer (type "crypto"), a
  custodial withdrawal to a wallet (type "crypto", "pending" until its transaction is final),
  and an operator's off-chain funding or debit (type "wire": the venue's stand-in for a bank
  transfer). Amounts are floored to whole cents, as every Kalshi cents field here is.
- Custody's own `GET /v1/custody/deposits` / `/v1/custody/withdrawals` (DESIGN.md, Wallet and
  custody endpoints) list the on-chain movements of every asset (YES, NO, cash) with their
  signatures, exactly (base units on the wire as count strings).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, select

from exchange.models import CustodyWithdrawal, Deposit, LedgerAccount, LedgerEntry
from exchange.models import custody as C
from exchange.models import ledger as L
from exchange.paging import newest_first
from exchange.schemas import Page

_entries = LedgerEntry.__table__
_accounts = LedgerAccount.__table__
_deposits = Deposit.__table__
_withdrawals = CustodyWithdrawal.__table__


@dataclass
class CashMovement:
    """One cash deposit or withdrawal as Kalshi lists it."""

    id: str
    status: str  # pending | applied
    type: str  # crypto | wire
    amount: int  # base units, positive
    created_ms: int
    finalized_ms: int | None


def _user_cash_entries(user_id: int, kind: str):
    return (select(_entries.c.id, _entries.c.journal_id, _entries.c.amount, _entries.c.created_ms)
            .join(_accounts, and_(_accounts.c.id == _entries.c.account_id, _accounts.c.kind == L.USER,
                                  _accounts.c.ref == str(user_id)))
            .where(_entries.c.kind == kind, _entries.c.asset == L.CASH))


def cash_deposits(reader: Engine, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
    q = (_user_cash_entries(user_id, L.DEPOSIT).where(_entries.c.amount > 0)
         .add_columns(_deposits.c.id.label("chain_deposit"))
         .outerjoin(_deposits, and_(_deposits.c.journal_id == _entries.c.journal_id, _deposits.c.user_id == user_id)))

    def view(r) -> CashMovement:
        return CashMovement(r["journal_id"], "applied", "crypto" if r["chain_deposit"] is not None else "wire",
                            r["amount"], r["created_ms"], r["created_ms"])

    return newest_first(reader, q, _entries, _entries.c.created_ms, None, None, cursor, limit, view)


def cash_withdrawals(reader: Engine, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
    q = (_user_cash_entries(user_id, L.WITHDRAWAL).where(_entries.c.amount < 0)
         .add_columns(_withdrawals.c.withdrawal_id, _withdrawals.c.status, _withdrawals.c.updated_ms)
         .outerjoin(_withdrawals, and_(_withdrawals.c.journal_id == _entries.c.journal_id,
                                       _withdrawals.c.user_id == user_id)))

    def view(r) -> CashMovement:
        if r["withdrawal_id"] is None:  # an operator's debit: off chain, done when written
            return CashMovement(r["journal_id"], "applied", "wire", -r["amount"], r["created_ms"], r["created_ms"])
        final = r["status"] == C.FINALIZED
        return CashMovement(r["withdrawal_id"], "applied" if final else "pending", "crypto", -r["amount"],
                            r["created_ms"], r["updated_ms"] if final else None)

    return newest_first(reader, q, _entries, _entries.c.created_ms, None, None, cursor, limit, view)


def chain_deposits(reader: Engine, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """The user's `deposit_*` instructions credited from the chain, every asset."""
    q = select(_deposits).where(_deposits.c.user_id == user_id)
    return newest_first(reader, q, _deposits, _deposits.c.created_ms, None, None, cursor, limit, dict)


def chain_withdrawals(reader: Engine, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """The user's custodial withdrawals to wallets, every asset and status."""
    q = select(_withdrawals).where(_withdrawals.c.user_id == user_id)
    return newest_first(reader, q, _withdrawals, _withdrawals.c.created_ms, None, None, cursor, limit, dict)
