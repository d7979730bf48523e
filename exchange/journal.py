"""Posting to the double-entry ledger: a Journal collects the movements of one command
(one DB transaction) and writes them in bulk; `post_match` turns one match into
movements with Kalshi netting.

A movement is two entries of one asset, +amount to the receiver and −amount from the
payer, sharing (journal_id, leg). `ledger_balances` is updated by the same statements'
net per (account, asset), in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from exchange import statements as Q
from exchange.fees import ONE
from exchange.models import LedgerAccount, LedgerBalance, LedgerEntry
from exchange.models import ledger as L

_entries = LedgerEntry.__table__
_balances = LedgerBalance.__table__
_accounts = LedgerAccount.__table__


class Accounts:
    """(kind, ref) → ledger account id, created on first use and cached (ids come from the DB)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}
        self._new: list[tuple[str, str]] = []  # created in the open transaction

    def get(self, conn: Connection, kind: str, ref: str | int = "") -> int:
        key = (kind, str(ref))
        account_id = self._ids.get(key)
        if account_id is not None:
            return account_id
        row = conn.execute(select(_accounts.c.id).where(_accounts.c.kind == key[0], _accounts.c.ref == key[1])).first()
        if row is None:
            from exchange.models._base import now_ms

            account_id = conn.execute(
                insert(_accounts).values(kind=key[0], ref=key[1], created_ms=now_ms()).returning(_accounts.c.id)
            ).scalar_one()
            self._new.append(key)
        else:
            account_id = row[0]
        self._ids[key] = account_id
        return account_id

    def forget(self) -> None:
        """Drop the cache (after a rolled-back transaction created accounts that no longer exist)."""
        self._ids.clear()
        self._new.clear()

    def drop_new(self) -> None:
        """The transaction rolled back: forget the accounts it created."""
        for key in self._new:
            self._ids.pop(key, None)
        self._new.clear()

    def keep_new(self) -> None:
        """The transaction committed: its accounts exist."""
        self._new.clear()

    def cached(self, kind: str, ref: str | int = "") -> int | None:
        return self._ids.get((kind, str(ref)))


class Journal:
    """The movements of one command. Nothing touches the DB until `flush`."""

    __slots__ = ("journal_id", "now_ms", "rows", "deltas", "_leg")

    def __init__(self, journal_id: str, now_ms: int) -> None:
        self.journal_id = journal_id
        self.now_ms = now_ms
        self.rows: list[dict] = []
        self.deltas: dict[tuple[int, str], int] = {}
        self._leg = 0

    def move(self, kind: str, ref: str, asset: str, payer: int, receiver: int, amount: int) -> None:
        """Move `amount` of `asset` from account `payer` to account `receiver` (two entries)."""
        if amount == 0:
            return
        if amount < 0:
            payer, receiver, amount = receiver, payer, -amount
        self._leg += 1
        base = {"journal_id": self.journal_id, "leg": self._leg, "asset": asset, "kind": kind, "ref": ref, "created_ms": self.now_ms}
        self.rows.append({**base, "account_id": payer, "amount": -amount})
        self.rows.append({**base, "account_id": receiver, "amount": amount})
        deltas = self.deltas
        deltas[(payer, asset)] = deltas.get((payer, asset), 0) - amount
        deltas[(receiver, asset)] = deltas.get((receiver, asset), 0) + amount

    def delta(self, account_id: int, asset: str) -> int:
        return self.deltas.get((account_id, asset), 0)

    def flush(self, conn: Connection) -> None:
        if not self.rows:
            return
        Q.INSERT_ENTRY.executemany(conn, self.rows)
        Q.ADD_BALANCE.executemany(conn, [{"account_id": a, "asset": s, "amount": d}
                                         for (a, s), d in self.deltas.items() if d != 0])


def cash_value(price: int, count: int) -> int:
    """Collateral base units for `count` contract base units at `price` per contract."""
    value, remainder = divmod(price * count, ONE)
    if remainder:
        raise ValueError(f"price {price} × count {count} is not a whole collateral base unit")
    return value


@dataclass(slots=True)
class MatchPosting:
    """What one match did: its two holders' positions after it, and the sets it created or retired
    (the cash moved is in the journal)."""

    bid_pos_after: int
    ask_pos_after: int
    minted: int
    merged: int


def post_match(
    journal: Journal,
    ticker: str,
    ref: str,
    price: int,
    count: int,
    bid_account: int,
    bid_pos: int,
    ask_account: int,
    ask_pos: int,
    collateral_account: int,
    issuance_account: int,
) -> MatchPosting:
    """Post a match of `count` at YES `price` between a bid and an ask with Kalshi netting.

    Positions use Kalshi's sign (+YES, −NO). The bid side first closes any NO it holds,
    then opens YES; the ask side first closes YES, then opens NO. The pieces pair up as
    merge (NO closer × YES closer: a set retired), mint (YES opener × NO opener: a set
    created), or a transfer of YES or of NO between the two holders.
    """
    yes, no = L.yes_asset(ticker), L.no_asset(ticker)
    bid_close = min(count, max(0, -bid_pos))
    ask_close = min(count, max(0, ask_pos))
    merged = min(bid_close, ask_close)
    minted = count - max(bid_close, ask_close)
    transfer_yes = ask_close - merged  # ask closes YES into the bid's new YES
    transfer_no = bid_close - merged  # bid closes NO into the ask's new NO
    move = journal.move
    if merged:
        move(L.MERGE, ref, no, bid_account, issuance_account, merged)
        move(L.MERGE, ref, yes, ask_account, issuance_account, merged)
        move(L.MERGE, ref, L.CASH, collateral_account, bid_account, cash_value(ONE - price, merged))
        move(L.MERGE, ref, L.CASH, collateral_account, ask_account, cash_value(price, merged))
    if minted:
        move(L.MINT, ref, yes, issuance_account, bid_account, minted)
        move(L.MINT, ref, no, issuance_account, ask_account, minted)
        move(L.MINT, ref, L.CASH, bid_account, collateral_account, cash_value(price, minted))
        move(L.MINT, ref, L.CASH, ask_account, collateral_account, cash_value(ONE - price, minted))
    if transfer_yes:
        move(L.TRANSFER, ref, yes, ask_account, bid_account, transfer_yes)
        move(L.TRANSFER, ref, L.CASH, bid_account, ask_account, cash_value(price, transfer_yes))
    if transfer_no:
        move(L.TRANSFER, ref, no, bid_account, ask_account, transfer_no)
        move(L.TRANSFER, ref, L.CASH, ask_account, bid_account, cash_value(ONE - price, transfer_no))
    return MatchPosting(bid_pos_after=bid_pos + count, ask_pos_after=ask_pos - count, minted=minted, merged=merged)
