"""Storing what the followers read: events once, derived state once, the checkpoint with them.

One database transaction per batch holds the batch's events, the derived state of the events
that became finalized in it, and the commitment's checkpoint. Events are unique by
(signature, instruction index, event index): the confirmed follower inserts them unfinalized,
the finalized follower inserts or flips them to finalized, and derived state (markets, wallet
orders, balances, invariant-5 findings) is applied exactly when an event flips, so a batch
read twice (a crash between read and commit, or both followers) never counts twice.
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict

from sqlalchemy import Connection, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.dialects import postgresql, sqlite
from solders.pubkey import Pubkey

from chain import pdas
from chain.follower import Batch, Checkpoint
from exchange.db import Database
from indexer import models as T
from indexer.derive import MarketInfo, OrderInfo, fill_violations, token_moves
from indexer.reconcile import WALLET_LIMIT

EXCHANGE_STREAM = "_exchange"
CONFIRMED, FINALIZED = "confirmed", "finalized"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


class Store:
    def __init__(self, db: Database, program_id: Pubkey) -> None:
        self.db = db
        self.custody = str(pdas.custody(program_id))
        self.custody_collateral = str(pdas.custody_collateral(program_id))
        self._markets: dict[str, MarketInfo] = {}  # market address -> info (also from confirmed MarketCreated)
        self.collateral_mint: str | None = None
        self.max_seq: dict[str, int] = {}  # stream -> highest seq of its finalized events (what invariant 3 must look at)
        self.load()

    def load(self) -> None:
        with self.db.reader.connect() as conn:
            for r in conn.execute(select(T.markets)).mappings():
                self._markets[r["market"]] = MarketInfo(r["market"], r["ticker"], r["yes_mint"], r["no_mint"], r["vault"], r["custody_yes"], r["custody_no"])
            for (data,) in conn.execute(select(T.events.c.data).where(T.events.c.name.in_(("MarketCreated", "ExchangeInitialized")))):
                self._learn(json.loads(data))
            q = select(T.events.c.stream, func.max(T.events.c.seq)).where(T.events.c.seq > 0, T.events.c.finalized.is_(True)).group_by(T.events.c.stream)
            self.max_seq = {stream: int(seq) for stream, seq in conn.execute(q)}

    def _learn(self, f: dict) -> None:
        if "ticker" in f and "yes_mint" in f:
            self._markets.setdefault(f["market"], _market_info(f))
        if "collateral_mint" in f and "custody_collateral" in f:
            self.collateral_mint = f["collateral_mint"]

    def market(self, address: str | None) -> MarketInfo | None:
        return self._markets.get(address) if address else None

    def tickers(self) -> dict[str, MarketInfo]:
        return {m.ticker: m for m in self._markets.values()}

    # -- checkpoints ---------------------------------------------------------------------
    def checkpoint(self, commitment: str) -> tuple[Checkpoint | None, int]:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(T.checkpoints).where(T.checkpoints.c.commitment == commitment)).mappings().first()
        if row is None:
            return None, 0
        point = Checkpoint(row["slot"], row["signature"]) if row["signature"] else None
        return point, row["synced_slot"]

    def _save_checkpoint(self, conn: Connection, commitment: str, batch: Batch) -> None:
        point = batch.checkpoint
        values = {"slot": point.slot if point else None, "signature": point.signature if point else None, "updated_ms": _now_ms()}
        if batch.synced_slot is not None:
            values["synced_slot"] = batch.synced_slot
        stmt = _insert(conn, T.checkpoints).values(commitment=commitment, **{"synced_slot": 0, **values})
        conn.execute(stmt.on_conflict_do_update(index_elements=["commitment"], set_=values))

    # -- events --------------------------------------------------------------------------
    def _stream(self, f: dict) -> str | None:
        """The bridge stream (ticker or "_exchange") of a sequenced event, else None."""
        if not f.get("seq"):
            return None
        address = f.get("stream") or f.get("market")
        if address is None or address == self.custody:
            return EXCHANGE_STREAM
        info = self._markets.get(address)
        return info.ticker if info else address  # an unknown market shows up as its address (seq_unknown)

    def store(self, commitment: str, batch: Batch) -> int:
        """Store one batch (idempotent); returns how many events it stored or finalized.

        The confirmed and finalized followers may store the same event at once; on PostgreSQL the
        loser's transaction hits the unique key and is simply run again (it then finds the row)."""
        for attempt in range(3):
            try:
                return self._store(commitment, batch)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store(self, commitment: str, batch: Batch) -> int:
        for tx in batch.txs:
            for ev in tx.events:
                self._learn(ev.fields)
        final = commitment == FINALIZED
        with self.db.writer.begin() as conn:
            keys = [(tx.signature, ev.instruction_index, ev.event_index) for tx in batch.txs for ev in tx.events]
            existing = self._existing(conn, {tx.signature for tx in batch.txs if tx.events}) if keys else {}
            now = _now_ms()
            rows, flips, fresh = [], [], []
            for tx in batch.txs:
                for ev in tx.events:
                    key = (tx.signature, ev.instruction_index, ev.event_index)
                    if key not in existing:
                        rows.append({
                            "signature": tx.signature, "instruction_index": ev.instruction_index, "event_index": ev.event_index,
                            "slot": tx.slot, "block_time": tx.block_time, "name": ev.name, "market": ev.fields.get("market"),
                            "stream": self._stream(ev.fields), "seq": ev.fields.get("seq") or None,
                            "data": json.dumps(ev.fields, separators=(",", ":")), "finalized": final, "ingested_ms": now,
                        })
                        if final:
                            fresh.append((tx, ev))
                    elif final and not existing[key]:
                        flips.append(key)
                        fresh.append((tx, ev))
            if rows:
                conn.execute(insert(T.events), rows)
            for start in range(0, len(flips), 500):
                chunk = flips[start : start + 500]
                conn.execute(
                    update(T.events)
                    .where(tuple_(T.events.c.signature, T.events.c.instruction_index, T.events.c.event_index).in_(chunk))
                    .values(finalized=True)
                )
            if fresh:
                self._derive(conn, fresh)
            self._save_checkpoint(conn, commitment, batch)
        for _, ev in fresh:  # after the commit: only what is stored counts
            stream, seq = self._stream(ev.fields), ev.fields.get("seq")
            if stream and seq:
                self.max_seq[stream] = max(self.max_seq.get(stream, 0), seq)
        return len(rows) + len(flips) if final else len(rows)

    def _existing(self, conn: Connection, signatures: set[str]) -> dict[tuple[str, int, int], bool]:
        out = {}
        sigs = list(signatures)
        for start in range(0, len(sigs), 500):
            q = select(T.events.c.signature, T.events.c.instruction_index, T.events.c.event_index, T.events.c.finalized).where(
                T.events.c.signature.in_(sigs[start : start + 500])
            )
            for sig, i, e, fin in conn.execute(q):
                out[(sig, i, e)] = bool(fin)
        return out

    # -- derived state (finalized events only, each exactly once) -----------------------------
    def _derive(self, conn: Connection, fresh: list) -> None:
        order_keys = {ev.fields["order"] for _, ev in fresh if "order" in ev.fields}
        orders = self._load_orders(conn, order_keys)
        dirty_orders: dict[str, dict] = {}
        balances: OrderedDict[str, dict] = OrderedDict()
        violations = []
        for tx, ev in fresh:
            f, name = ev.fields, ev.name
            if name == "MarketCreated":
                info = _market_info(f)
                self._markets[info.market] = info
                stmt = _insert(conn, T.markets).values(
                    market=info.market, ticker=info.ticker, yes_mint=info.yes_mint, no_mint=info.no_mint, vault=info.vault,
                    custody_yes=info.custody_yes, custody_no=info.custody_no, status="Open", created_slot=tx.slot,
                )
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["market"]))
            elif name in ("MarketStatusChanged", "MarketDetermined", "MarketFinalized"):
                status = f.get("to") or ("Determined" if name == "MarketDetermined" else "Finalized")
                conn.execute(update(T.markets).where(T.markets.c.market == f["market"]).values(status=status))
            market = self.market(f.get("market"))
            order = orders.get(f.get("order")) if "order" in f else None
            info = _order_info(order) if order else None
            if name == "FillSettled":
                for problem in fill_violations(f, info):
                    violations.append({"kind": WALLET_LIMIT, "ticker": market.ticker if market else None, "slot": tx.slot,
                                       "signature": tx.signature, "detail": f"order {f['order']}: {problem}"})
            if market is not None or name in ("CustodyCollateralWithdrawn", "CustodySwept", "CustodyFunded", "Deposited"):
                for mv in token_moves(name, f, market, self.custody, self.custody_collateral, info):
                    row = balances.get(mv.account)
                    if row is None:
                        row = balances[mv.account] = {"account": mv.account, "owner": mv.owner, "asset": mv.asset, "ticker": mv.ticker,
                                                      "mint": self._mint(mv.asset, market), "amount": 0, "external": 0,
                                                      "updated_slot": tx.slot}
                    row["amount"] += mv.delta
                    row["updated_slot"] = tx.slot
            # wallet orders
            if name == "OrderPlaced" and market is not None:
                orders[f["order"]] = dirty_orders[f["order"]] = {
                    "order": f["order"], "market": f["market"], "ticker": market.ticker, "owner": f["owner"], "side": f["side"],
                    "limit_price": f["limit_price"], "size": f["size"], "max_fee": f["max_fee"], "filled": 0, "fees_paid": 0,
                    "status": "open", "placed_slot": tx.slot, "cancel_requested_slot": None, "force_close_slot": None,
                    "closed_slot": None, "escrow": f["escrow"],
                }
            elif order is not None and name == "FillSettled":
                order.update(filled=f["filled"], fees_paid=f["fees_paid"])
                if order["status"] == "open" and f["filled"] >= order["size"]:
                    order["status"] = "filled"
                dirty_orders[order["order"]] = order
            elif order is not None and name == "CancelRequested":
                order.update(status="cancel_requested", cancel_requested_slot=f["slot"], force_close_slot=f["force_close_slot"])
                dirty_orders[order["order"]] = order
            elif order is not None and name == "OrderClosed":
                order.update(status="closed", closed_slot=tx.slot)
                dirty_orders[order["order"]] = order
        for row in dirty_orders.values():
            stmt = _insert(conn, T.orders).values(**row)
            conn.execute(stmt.on_conflict_do_update(index_elements=["order"], set_={k: v for k, v in row.items() if k != "order"}))
        if balances:
            stmt = _insert(conn, T.balances)
            stmt = stmt.on_conflict_do_update(
                index_elements=["account"],
                set_={"amount": T.balances.c.amount + stmt.excluded.amount, "updated_slot": stmt.excluded.updated_slot},
            )
            conn.execute(stmt, list(balances.values()))
        if violations:
            conn.execute(insert(T.violations), violations)

    def _mint(self, asset: str, market: MarketInfo | None) -> str:
        if asset == "yes" and market:
            return market.yes_mint
        if asset == "no" and market:
            return market.no_mint
        return self.collateral_mint or ""

    def _load_orders(self, conn: Connection, keys: set[str]) -> dict[str, dict]:
        if not keys:
            return {}
        rows = conn.execute(select(T.orders).where(T.orders.c.order.in_(list(keys)))).mappings().all()
        return {r["order"]: dict(r) for r in rows}


def _market_info(f: dict) -> MarketInfo:
    return MarketInfo(f["market"], f["ticker"], f["yes_mint"], f["no_mint"], f["vault"], f["custody_yes"], f["custody_no"])


def _order_info(row: dict) -> OrderInfo:
    return OrderInfo(row["order"], row["side"], row["escrow"], row["limit_price"], row["size"], row["max_fee"], row["filled"], row["fees_paid"])
