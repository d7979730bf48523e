"""Read-only ledger queries for the indexer's reconciliation (DESIGN.md, Layering: the indexer
reads the ledger only through these).

Everything is aggregate SQL, so the cost is the database's scan, never a Python loop over
positions. Run them inside `snapshot(db)`, one consistent read: on PostgreSQL a REPEATABLE
READ transaction, on SQLite (WAL) a read transaction, which is a snapshot already. Positions,
cash and the outbox are written in one transaction by the exchange, so in one snapshot they
always agree with each other.

"Custodial" means ledger accounts of kind `user` whose user is `custodial` (not the wallet
accounts of the bridge, not fees, builders, suspense or contra accounts): exactly what
custody's token accounts back on chain.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, String, and_, case, cast, func, select

from exchange.db import Database
from exchange.models import Deposit, LedgerAccount, LedgerBalance, LedgerEntry, Market, OutboxEvent, OutboxStream, User
from exchange.models import ledger as L
from exchange.outbox import APPLIED, PENDING, REVERTED, OutboxRecord, decode

_accounts = LedgerAccount.__table__
_balances = LedgerBalance.__table__
_entries = LedgerEntry.__table__
_users = User.__table__
_markets = Market.__table__
_outbox = OutboxEvent.__table__
_streams = OutboxStream.__table__


@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """One consistent read of the ledger (never writes)."""
    with db.reader.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _custodial_accounts():
    return (
        select(_accounts.c.id)
        .join(_users, _accounts.c.ref == cast(_users.c.id, String))
        .where(_accounts.c.kind == L.USER, _users.c.kind == "custodial")
    )


@dataclass(frozen=True)
class Totals:
    """Sum per asset ("USD", "YES:<ticker>", "NO:<ticker>") over custodial accounts, and the
    newest ledger entry the sums include (for incremental updates with `custodial_deltas`)."""

    by_asset: dict[str, int]
    last_entry_id: int

    def yes(self, ticker: str) -> int:
        return self.by_asset.get(L.yes_asset(ticker), 0)

    def no(self, ticker: str) -> int:
        return self.by_asset.get(L.no_asset(ticker), 0)

    def cash(self) -> int:
        return self.by_asset.get(L.CASH, 0)

    def plus(self, other: "Totals") -> "Totals":
        merged = dict(self.by_asset)
        for asset, amount in other.by_asset.items():
            merged[asset] = merged.get(asset, 0) + amount
        return Totals(merged, max(self.last_entry_id, other.last_entry_id))


def last_entry_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(_entries.c.id), 0))).scalar_one()


def custodial_totals(conn: Connection) -> Totals:
    """Every custodial position and cash balance summed per asset (ledger_balances, one scan)."""
    last = last_entry_id(conn)
    rows = conn.execute(
        select(_balances.c.asset, func.sum(_balances.c.amount))
        .where(_balances.c.account_id.in_(_custodial_accounts()))
        .group_by(_balances.c.asset)
    ).all()
    return Totals({asset: int(total) for asset, total in rows}, last)


def custodial_deltas(conn: Connection, after_entry_id: int) -> Totals:
    """What custodial accounts gained per asset in ledger entries newer than `after_entry_id`.

    Driven from the new entries (primary key range), each joined to its account and user by
    primary key, so the cost follows the entries added, not the number of users."""
    last = last_entry_id(conn)
    if last <= after_entry_id:
        return Totals({}, after_entry_id)
    # a user account's ref is its user id; the CASE keeps other kinds' refs (tickers, codes) from being cast
    user_id = case((_accounts.c.kind == L.USER, cast(_accounts.c.ref, BigInteger)), else_=None)
    rows = conn.execute(
        select(_entries.c.asset, func.sum(_entries.c.amount))
        .join(_accounts, _accounts.c.id == _entries.c.account_id)
        .join(_users, _users.c.id == user_id)
        .where(_entries.c.id > after_entry_id, _entries.c.id <= last, _users.c.kind == "custodial")
        .group_by(_entries.c.asset)
    ).all()
    return Totals({asset: int(total) for asset, total in rows}, last)


def custodial_entries(conn: Connection, after_entry_id: int) -> list[tuple[int, str, int]]:
    """(id, asset, amount) of custodial accounts' ledger entries with id > `after_entry_id`, by id.

    For incremental sums that must not miss an entry committed late under a lower id (on
    PostgreSQL, concurrent writers commit out of id order): read back over a window of ids and
    count each id once."""
    user_id = case((_accounts.c.kind == L.USER, cast(_accounts.c.ref, BigInteger)), else_=None)
    rows = conn.execute(
        select(_entries.c.id, _entries.c.asset, _entries.c.amount)
        .join(_accounts, _accounts.c.id == _entries.c.account_id)
        .join(_users, _users.c.id == user_id)
        .where(_entries.c.id > after_entry_id, _users.c.kind == "custodial")
        .order_by(_entries.c.id)
    ).all()
    return [(int(i), a, int(v)) for i, a, v in rows]


def market_tickers(conn: Connection) -> list[str]:
    return list(conn.execute(select(_markets.c.ticker).order_by(_markets.c.ticker)).scalars())


def market_statuses(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(select(_markets.c.ticker, _markets.c.status)).all())


def outbox_seqs(conn: Connection) -> dict[str, int]:
    """Per stream, the last sequence number written."""
    return {s: int(q) for s, q in conn.execute(select(_streams.c.stream, _streams.c.last_seq)).all()}


@dataclass(frozen=True)
class StreamProgress:
    stream: str
    outbox_seq: int  # last seq written
    applied_seq: int  # highest seq with every seq <= it applied or reverted (the bridge's word)
    oldest_pending_ms: int | None  # created_ms of the lowest pending record


def stream_progress(conn: Connection) -> dict[str, StreamProgress]:
    """outbox seq, the bridge's applied seq and the oldest pending record, per stream (two
    aggregate queries on the (stream, status, seq) index)."""
    last = outbox_seqs(conn)
    lowest = (
        select(_outbox.c.stream, func.min(_outbox.c.seq).label("seq"))
        .where(_outbox.c.status == PENDING)
        .group_by(_outbox.c.stream)
        .subquery()
    )
    pending = {
        stream: (int(seq), int(created))
        for stream, seq, created in conn.execute(
            select(lowest.c.stream, lowest.c.seq, _outbox.c.created_ms).join(
                _outbox, and_(_outbox.c.stream == lowest.c.stream, _outbox.c.seq == lowest.c.seq)
            )
        ).all()
    }
    out = {}
    for stream, outbox_seq in last.items():
        low = pending.get(stream)
        out[stream] = StreamProgress(stream, outbox_seq, low[0] - 1 if low else outbox_seq, low[1] if low else None)
    return out


def _record(row) -> OutboxRecord:
    return OutboxRecord(
        stream=row.stream, seq=int(row.seq), group=row.group_id, created_ms=int(row.created_ms),
        record=decode(row.kind, row.payload), status=row.status, signature=row.signature,
        slot=None if row.slot is None else int(row.slot), finalized=bool(row.finalized),
    )


def records(conn: Connection, stream: str, *, from_seq: int = 1, to_seq: int | None = None, statuses: tuple[str, ...] | None = None) -> list[OutboxRecord]:
    """A stream's records with from_seq <= seq (<= to_seq), every status unless `statuses`, in seq order."""
    q = select(_outbox).where(_outbox.c.stream == stream, _outbox.c.seq >= from_seq)
    if to_seq is not None:
        q = q.where(_outbox.c.seq <= to_seq)
    if statuses is not None:
        q = q.where(_outbox.c.status.in_(statuses))
    return [_record(r) for r in conn.execute(q.order_by(_outbox.c.seq)).all()]


def not_applied(conn: Connection, stream: str, *, above: int = 0) -> list[OutboxRecord]:
    """A stream's records with seq > `above` that the bridge has not applied or reverted."""
    return records(conn, stream, from_seq=above + 1, statuses=(PENDING,))


__all__ = [
    "APPLIED", "PENDING", "REVERTED", "StreamProgress", "Totals", "custodial_balances", "custodial_deltas", "custodial_entries",
    "custodial_totals", "last_entry_id", "market_statuses", "market_tickers", "not_applied", "outbox_seqs", "records",
    "snapshot", "stream_progress", "unsettled_streams",
]


# -- for the proof of backing (indexer/epochs.py) ------------------------------------------------


def custodial_balances(conn: Connection) -> list[tuple[int, str, int]]:
    """(user_id, asset, amount) of every custodial account's non-zero balance ("USD", "YES:<t>", "NO:<t>")."""
    rows = conn.execute(
        select(cast(_accounts.c.ref, BigInteger), _balances.c.asset, _balances.c.amount)  # a user account's ref is its user id
        .join(_accounts, _accounts.c.id == _balances.c.account_id)
        .where(_balances.c.account_id.in_(_custodial_accounts()), _balances.c.amount != 0)
    ).all()
    return [(int(u), a, int(v)) for u, a, v in rows]


def unsettled_streams(conn: Connection, at_slot: int) -> set[str]:
    """Streams with a record the chain has not applied and finalized at or before `at_slot`
    (pending, applied but not finalized, or applied at a later slot)."""
    q = (
        select(_outbox.c.stream)
        .where(
            (_outbox.c.status == PENDING)
            | ((_outbox.c.status == APPLIED) & ((_outbox.c.finalized.is_(False)) | (_outbox.c.slot > at_slot)))
        )
        .distinct()
    )
    return set(conn.execute(q).scalars())


def recent_custodial_deposits(conn: Connection, since_ms: int) -> list[tuple[str, str, str | None, int]]:
    """Deposits credited to custodial users since `since_ms`: (signature, asset, ticker, amount).

    A deposit is credited once the chain has it finalized, so a reconciliation that read the
    chain at an earlier finalized slot must take back those credits the read does not include
    (custody lacks them at that slot, the ledger already has them)."""
    d, u = Deposit.__table__, _users
    rows = conn.execute(
        select(d.c.signature, d.c.asset, d.c.ticker, d.c.amount)
        .join(u, u.c.id == d.c.user_id)
        .where(d.c.created_ms >= since_ms, u.c.kind == "custodial")
    ).all()
    return [(r.signature, r.asset, r.ticker, r.amount) for r in rows]
