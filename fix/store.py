"""Session state that survives a restart: a small SQLite file, TANDEM_HOME/fix/sessions.db.

Per session (SenderCompID, TargetCompID): the next sequence number each way, every message
sent (kept for ResendRequest until the session resets its sequence numbers), and the orders
entered through it (ClOrdID -> order id, so a later cancel or fill finds its session).

Why not the exchange database: this is the gateway's transport state, not the ledger; it
would need exchange tables and migrations that only the exchange owns, and on PostgreSQL a
round trip per FIX message. The price: the exchange commit and the session-store commit are
two commits. The gateway commits the store before any byte leaves (so a sequence number is
never reused after a crash); but an order the exchange committed whose report was not yet
stored when the process died is not resent: the client finds it over REST
(GET /portfolio/orders, by client_order_id = ClOrdID). The README says so.

WAL with synchronous=NORMAL: durable across a killed process (what the tests do), not
across a power cut.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fix_session (
    sender TEXT NOT NULL, target TEXT NOT NULL,
    next_in INTEGER NOT NULL, next_out INTEGER NOT NULL,
    PRIMARY KEY (sender, target));
CREATE TABLE IF NOT EXISTS fix_sent (
    sender TEXT NOT NULL, target TEXT NOT NULL, seq INTEGER NOT NULL, raw BLOB NOT NULL,
    PRIMARY KEY (sender, target, seq));
CREATE TABLE IF NOT EXISTS fix_order (
    sender TEXT NOT NULL, cl_ord_id TEXT NOT NULL, order_id TEXT NOT NULL, target TEXT NOT NULL,
    PRIMARY KEY (sender, cl_ord_id));
CREATE INDEX IF NOT EXISTS fix_order_by_id ON fix_order (order_id);
"""


@dataclass(slots=True)
class SeqNums:
    next_in: int = 1
    next_out: int = 1


class SessionStore:
    """Writes are collected and made in one transaction by `commit` (one executemany per table
    per loop turn, not a statement per message); reads first write what is collected."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._seqnums: dict[tuple[str, str], SeqNums] = {}  # sessions whose numbers changed
        self._sent: list[tuple[str, str, int, bytes]] = []
        self._orders: list[tuple[str, str, str, str]] = []

    def close(self) -> None:
        self.commit()
        self.db.close()

    def _write(self) -> None:
        """Collected writes into the open transaction (BEGIN first if nothing is open)."""
        if not (self._seqnums or self._sent or self._orders):
            return
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
        if self._sent:
            self.db.executemany("INSERT OR REPLACE INTO fix_sent VALUES (?,?,?,?)", self._sent)
            self._sent = []
        if self._orders:
            self.db.executemany("INSERT OR REPLACE INTO fix_order VALUES (?,?,?,?)", self._orders)
            self._orders = []
        if self._seqnums:
            self.db.executemany("INSERT INTO fix_session VALUES (?,?,?,?) ON CONFLICT (sender, target) DO UPDATE "
                                "SET next_in=excluded.next_in, next_out=excluded.next_out",
                                [(s, t, q.next_in, q.next_out) for (s, t), q in self._seqnums.items()])
            self._seqnums = {}

    def commit(self) -> None:
        """Make everything recorded so far durable (called before sending what it records)."""
        self._write()
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def seqnums(self, sender: str, target: str) -> SeqNums:
        pending = self._seqnums.get((sender, target))
        if pending is not None:
            return SeqNums(pending.next_in, pending.next_out)
        row = self.db.execute("SELECT next_in, next_out FROM fix_session WHERE sender=? AND target=?",
                              (sender, target)).fetchone()
        return SeqNums(*row) if row else SeqNums()

    def save_seqnums(self, sender: str, target: str, seq: SeqNums) -> None:
        """The session's numbers as they stand at the next commit (`seq` is read then, not now)."""
        self._seqnums[(sender, target)] = seq

    def reset(self, sender: str, target: str) -> None:
        """ResetSeqNumFlag: both sides start at 1 again; what was sent cannot be asked for any more."""
        self._write()
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
        self.db.execute("DELETE FROM fix_sent WHERE sender=? AND target=?", (sender, target))
        self.save_seqnums(sender, target, SeqNums())

    def record_sent(self, sender: str, target: str, seq: int, raw: bytes) -> None:
        self._sent.append((sender, target, seq, raw))

    def sent(self, sender: str, target: str, first: int, last: int) -> list[tuple[int, bytes]]:
        self._write()
        return self.db.execute("SELECT seq, raw FROM fix_sent WHERE sender=? AND target=? AND seq BETWEEN ? AND ? "
                               "ORDER BY seq", (sender, target, first, last)).fetchall()

    def record_order(self, sender: str, target: str, cl_ord_id: str, order_id: str) -> None:
        self._orders.append((sender, cl_ord_id, order_id, target))

    def order_id(self, sender: str, cl_ord_id: str) -> str | None:
        self._write()
        row = self.db.execute("SELECT order_id FROM fix_order WHERE sender=? AND cl_ord_id=?",
                              (sender, cl_ord_id)).fetchone()
        return row[0] if row else None

    def order_session(self, order_id: str) -> tuple[str, str, str] | None:
        """(sender, target, ClOrdID) of the session that entered an order (its latest ClOrdID)."""
        self._write()
        row = self.db.execute("SELECT sender, target, cl_ord_id FROM fix_order WHERE order_id=? ORDER BY rowid DESC",
                              (order_id,)).fetchone()
        return tuple(row) if row else None
