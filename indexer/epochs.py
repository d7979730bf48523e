"""Proof-of-backing epochs: every `epoch_slots` finalized slots, one Merkle-sum tree per market and
asset (YES, NO) and one for cash over the custodial balances, stored with the custody account
each is held against and its balance at the epoch's slot (DESIGN.md, "Proof of backing").

Which slot the ledger's balances are "at": the ledger runs ahead of the chain while the bridge
has records in flight, so an epoch is only taken from a ledger snapshot in which every outbox
record is applied AND finalized at a slot <= S, where S is a finalized slot read BEFORE the
snapshot. Then custody at S reflects exactly the ledger records in the snapshot (anything the
exchange writes after the snapshot lands after S), up to deposits and plain transfers into
custody, which only make custody larger. While the bridge is busy the due epoch waits for the
next quiet finalized slot: correctness over punctuality.

Stored (tables below, indexer/migrations 0002 and 0003): the epoch, each tree's root, one blob
of every user's salt (one per user and epoch, as DESIGN.md has it) and one blob per tree of its
leaves (user id, commit, balance), so a proof is rebuilt from its tree's leaves on request (a few
seconds for a million leaves, then cached) instead of storing log2(n) siblings per user.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
import os
import struct
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, MetaData, String, Table, delete, inspect, select
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

from exchange import ledger_queries as LQ
from exchange.db import Database
from indexer.proof import HASH_LEN, SALT_LEN, Proof, Tree, leaf_commits, make_proof, tree_of_commits
from indexer.verify import custody_account_for, read_custody

log = logging.getLogger("tandem.indexer.proof")

CASH_TICKER = ""  # cash's ticker in the tables (a primary key column cannot be NULL everywhere)
MAX_STORED = (1 << 63) - 1  # BIGINT is signed: larger balances or sums are refused, not truncated

# The proof tables (created by indexer/migrations 0002, the indexer's Alembic history), described
# here on their own metadata so the API can read them without importing the rest of the indexer.
metadata = MetaData()

proof_epochs = Table(
    "proof_epochs",
    metadata,
    Column("epoch", BigInteger, primary_key=True, autoincrement=False),
    Column("slot", BigInteger, nullable=False),  # the finalized slot the trees are held at
    Column("time_ms", BigInteger, nullable=False),
)

proof_roots = Table(
    "proof_roots",
    metadata,
    Column("epoch", BigInteger, primary_key=True, autoincrement=False),
    Column("ticker", String(64), primary_key=True),  # "" for cash
    Column("asset", String(4), primary_key=True),  # yes | no | cash
    Column("root_hash", String(64), nullable=False),  # hex
    Column("root_sum", BigInteger, nullable=False),
    Column("leaves", Integer, nullable=False),  # real (non-padding) leaves
    Column("custody_account", String(48), nullable=False),
    Column("custody_balance", BigInteger, nullable=False),
    Column("custody_historical", Boolean, nullable=False),  # False: the RPC could not serve history; current balance
)

proof_trees = Table(
    "proof_trees",
    metadata,
    Column("epoch", BigInteger, primary_key=True, autoincrement=False),
    Column("ticker", String(64), primary_key=True),
    Column("asset", String(4), primary_key=True),
    Column("leaves", LargeBinary, nullable=False),  # LEAF_ROW records, sorted by user_id
)

proof_salts = Table(
    "proof_salts",
    metadata,
    Column("epoch", BigInteger, primary_key=True, autoincrement=False),
    Column("salts", LargeBinary, nullable=False),  # SALT_ROW records, sorted by user_id; each given only to its user
)

LEAF_ROW = 8 + HASH_LEN + 8  # user_id || commit || balance
SALT_ROW = 8 + SALT_LEN  # user_id || salt


def _pack(fmt: str, count: int, fields) -> bytes:
    return struct.Struct(">" + fmt * count).pack(*chain.from_iterable(fields))


def _row_of(blob: bytes, width: int, user_id: int) -> int | None:
    """Offset of `user_id`'s record in a blob of `width`-byte records sorted by their leading 8-byte user id."""
    key = user_id.to_bytes(8, "big")
    count = len(blob) // width
    i = bisect.bisect_left(range(count), key, key=lambda k: blob[k * width : k * width + 8])
    return i * width if i < count and blob[i * width : i * width + 8] == key else None


@dataclass(frozen=True)
class TreeRoot:
    ticker: str | None  # None for cash
    asset: str
    hash: bytes
    sum: int
    leaves: int
    custody_account: str
    custody_balance: int
    custody_historical: bool

    @property
    def backed(self) -> bool:
        return self.sum <= self.custody_balance

    def body(self) -> dict[str, Any]:
        return {"ticker": self.ticker, "asset": self.asset, "hash": self.hash.hex(), "sum": self.sum, "leaves": self.leaves,
                "custody_account": self.custody_account, "custody_balance": self.custody_balance,
                "custody_balance_historical": self.custody_historical}


@dataclass(frozen=True)
class EpochSummary:
    epoch: int
    slot: int
    time_ms: int
    roots: tuple[TreeRoot, ...]

    def body(self) -> dict[str, Any]:
        """What `GET /v1/proof/latest` answers (and the dashboard shows)."""
        return {"epoch": self.epoch, "slot": self.slot, "time_ms": self.time_ms, "roots": [r.body() for r in self.roots]}


def _asset_key(asset: str) -> tuple[str, str] | None:
    """Ledger asset -> (ticker, asset) of its tree; None for assets no tree covers."""
    if asset == "USD":
        return CASH_TICKER, "cash"
    kind, _, ticker = asset.partition(":")
    if ticker and kind in ("YES", "NO"):
        return ticker, kind.lower()
    return None


def _latest_stored(db: Database) -> tuple[int, int] | None:
    """(epoch, slot) of the newest stored epoch."""
    with db.reader.connect() as conn:
        row = conn.execute(select(proof_epochs.c.epoch, proof_epochs.c.slot).order_by(proof_epochs.c.epoch.desc()).limit(1)).first()
    return None if row is None else (int(row.epoch), int(row.slot))


_waiting: dict[str, int] = {}  # database url -> the epoch last logged as waiting


def _snapshot_if_due(db: Database, slot: int, epoch_slots: int):
    """(epoch number, the ledger's custodial balances, tickers) if an epoch is due at finalized `slot`
    (the first, or `slot` is in a later window of `epoch_slots` than the last one's) and the chain
    has caught up with the ledger by `slot`; else None."""
    latest = _latest_stored(db)
    if latest is not None and slot // epoch_slots <= latest[1] // epoch_slots:
        return None
    epoch = 1 if latest is None else latest[0] + 1  # numbered in order: a changed epoch_slots never goes back
    with LQ.snapshot(db) as conn:
        unsettled = LQ.unsettled_streams(conn, slot)
        if unsettled:
            if _waiting.get(db.url) != epoch:  # said once per epoch, not every slot it waits
                _waiting[db.url] = epoch
                log.info("proof epoch %d waits: the bridge has records not applied and finalized by slot %d in %s", epoch,
                         slot, ", ".join(sorted(unsettled)[:5]))
            return None
        return epoch, LQ.custodial_balances(conn), LQ.market_tickers(conn)


def _build(epoch: int, balances: list[tuple[int, str, int]], tickers: list[str]):
    """Salts for every user holding anything, and one tree per (ticker, asset)."""
    groups: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for ticker in tickers:
        groups[(ticker, "yes")], groups[(ticker, "no")] = {}, {}
    groups[(CASH_TICKER, "cash")] = {}
    for user_id, asset, amount in balances:
        key = _asset_key(asset)
        if key is None or amount == 0:
            continue
        if not 0 < amount <= MAX_STORED:
            raise ValueError(f"custodial balance {amount} of user {user_id} in {asset} cannot be in a tree")
        groups[key][user_id] = amount
    users = sorted({u for holders in groups.values() for u in holders})
    randomness = os.urandom(SALT_LEN * len(users))
    salts = {u: randomness[i * SALT_LEN : (i + 1) * SALT_LEN] for i, u in enumerate(users)}
    trees = {}
    for key, holders in sorted(groups.items()):
        ids = sorted(holders)
        amounts = [holders[u] for u in ids]
        commits = leaf_commits(epoch, ids, [salts[u] for u in ids])
        tree = tree_of_commits(epoch, commits, amounts)
        if tree.root_sum > MAX_STORED:
            raise ValueError(f"the {key[1]} tree of {key[0] or 'cash'} sums beyond 63 bits")
        # Only the root is kept: proofs are rebuilt from the stored leaves, and the levels of every
        # market's tree held at once would be ~120 MB per million leaves.
        trees[key] = (ids, commits, amounts, Tree(epoch, tree.count, b"", (), tree.root_hash, tree.root_sum))
    return salts, trees


def _store(db: Database, summary: EpochSummary, salts: dict[int, bytes], trees: dict, keep_epochs: int) -> None:
    with db.writer.begin() as conn:
        conn.execute(proof_epochs.insert(), [{"epoch": summary.epoch, "slot": summary.slot, "time_ms": summary.time_ms}])
        conn.execute(proof_roots.insert(), [
            {"epoch": summary.epoch, "ticker": r.ticker or CASH_TICKER, "asset": r.asset, "root_hash": r.hash.hex(),
             "root_sum": r.sum, "leaves": r.leaves, "custody_account": r.custody_account,
             "custody_balance": r.custody_balance, "custody_historical": r.custody_historical}
            for r in summary.roots
        ])
        # One blob per tree and one of salts per epoch: a row per user made large epochs a minute of inserts.
        users = sorted(salts)
        conn.execute(proof_salts.insert(), [{"epoch": summary.epoch,
                                             "salts": _pack(f"Q{SALT_LEN}s", len(users), ((u, salts[u]) for u in users))}])
        conn.execute(proof_trees.insert(), [
            {"epoch": summary.epoch, "ticker": ticker, "asset": asset,
             "leaves": _pack(f"Q{HASH_LEN}sQ", len(ids), zip(ids, commits, amounts))}  # ids are sorted
            for (ticker, asset), (ids, commits, amounts, _) in trees.items()
        ])
        oldest_kept = summary.epoch - keep_epochs + 1
        for table in (proof_trees, proof_salts, proof_roots, proof_epochs):
            conn.execute(delete(table).where(table.c.epoch < oldest_kept))


async def publish_epoch(db: Database, rpc: AsyncClient, *, finalized_slot: int, epoch_slots: int, program_id: Pubkey,
                        keep_epochs: int = 48, now_ms: int | None = None) -> EpochSummary | None:
    """Compute and store the next epoch at `finalized_slot` if one is due and the chain has caught up.

    An epoch is due once per window of `epoch_slots` finalized slots (the first one at once);
    epochs are numbered 1, 2, 3, ... Call it with each new finalized slot (one indexed read when
    nothing is due). Returns the new epoch, or None when none was taken (not due, or waiting for
    the bridge). RPC and database errors propagate: nothing is stored, the next call tries again.
    """
    snap = await asyncio.to_thread(_snapshot_if_due, db, finalized_slot, epoch_slots)
    if snap is None:
        return None
    epoch, balances, tickers = snap
    started = time.perf_counter()
    salts, trees = await asyncio.to_thread(_build, epoch, balances, tickers)
    roots = []
    for (ticker, asset), (*_, tree) in trees.items():
        account = custody_account_for(program_id, ticker or None, asset)
        read = await read_custody(rpc, account, finalized_slot)
        roots.append(TreeRoot(ticker or None, asset, tree.root_hash, tree.root_sum, tree.count, str(account),
                              read.balance, read.historical))
        if tree.root_sum > read.balance:
            log.error("proof epoch %d: the %s tree of %s sums to %d, custody %s holds %d at slot %d", epoch, asset,
                      ticker or "cash", tree.root_sum, account, read.balance, finalized_slot)
    summary = EpochSummary(epoch, finalized_slot, now_ms if now_ms is not None else time.time_ns() // 1_000_000, tuple(roots))
    await asyncio.to_thread(_store, db, summary, salts, trees, keep_epochs)
    log.info("proof epoch %d at slot %d: %d trees, %d users, built in %.2f s", epoch, finalized_slot, len(roots),
             len(salts), time.perf_counter() - started)
    return summary


def latest_epoch(db: Database) -> EpochSummary | None:
    """The newest stored epoch with its roots."""
    with db.reader.connect() as conn:
        row = conn.execute(select(proof_epochs).order_by(proof_epochs.c.epoch.desc()).limit(1)).first()
        if row is None:
            return None
        roots = conn.execute(select(proof_roots).where(proof_roots.c.epoch == row.epoch)
                             .order_by(proof_roots.c.ticker, proof_roots.c.asset)).all()
    return EpochSummary(int(row.epoch), int(row.slot), int(row.time_ms), tuple(
        TreeRoot(r.ticker or None, r.asset, bytes.fromhex(r.root_hash), int(r.root_sum), int(r.leaves), r.custody_account,
                 int(r.custody_balance), bool(r.custody_historical))
        for r in roots
    ))


_CACHE_SIZE = 8
_cache: OrderedDict[tuple, Any] = OrderedDict()  # stored epochs never change: rebuilt trees and salt blobs


def _cached(key: tuple, load):
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    value = _cache[key] = load()
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return value


def _tree_of_blob(epoch: int, blob: bytes) -> Tree:
    commits = [blob[i + 8 : i + 8 + HASH_LEN] for i in range(0, len(blob), LEAF_ROW)]
    balances = struct.Struct(">" + f"8x{HASH_LEN}xQ" * len(commits)).unpack(blob)
    return tree_of_commits(epoch, commits, balances)


def latest_proof(db: Database, *, user_id: int, ticker: str | None, asset: str) -> Proof | None:
    """`user_id`'s proof in the newest epoch's tree of (ticker, asset); None if that tree has no leaf of theirs."""
    key_ticker = ticker or CASH_TICKER
    with db.reader.connect() as conn:
        if not inspect(conn).has_table(proof_epochs.name):  # the indexer has not migrated this database yet
            return None
        epoch_row = conn.execute(select(proof_epochs).order_by(proof_epochs.c.epoch.desc()).limit(1)).first()
        if epoch_row is None:
            return None
        epoch = int(epoch_row.epoch)
        root = conn.execute(select(proof_roots).where(proof_roots.c.epoch == epoch, proof_roots.c.ticker == key_ticker,
                                                      proof_roots.c.asset == asset)).first()
        if root is None:
            return None
        # Keyed by what identifies the stored data itself, so a database rebuilt under the same URL never hits.
        tree_key, epoch_key = (db.url, epoch, root.root_hash), (db.url, epoch, int(epoch_row.time_ms), int(epoch_row.slot))
        which = (proof_trees.c.epoch == epoch, proof_trees.c.ticker == key_ticker, proof_trees.c.asset == asset)
        leaves = _cached(("leaves", *tree_key), lambda: conn.execute(select(proof_trees.c.leaves).where(*which)).scalar_one())
        if _row_of(leaves, LEAF_ROW, user_id) is None:
            return None
        salts = _cached(("salts", *epoch_key), lambda: conn.execute(
            select(proof_salts.c.salts).where(proof_salts.c.epoch == epoch)).scalar_one())
    at = _row_of(salts, SALT_ROW, user_id)
    salt = salts[at + 8 : at + SALT_ROW]
    tree = _cached(("tree", *tree_key), lambda: _tree_of_blob(epoch, bytes(leaves)))
    if tree.root_hash.hex() != root.root_hash:  # the stored leaves must rebuild the published root
        raise RuntimeError(f"epoch {epoch}: the stored leaves of {asset} {key_ticker or 'cash'} do not rebuild its root")
    return make_proof(tree, user_id=user_id, salt=bytes(salt), slot=int(epoch_row.slot), ticker=ticker or None,
                      asset=asset, custody_account=root.custody_account)
