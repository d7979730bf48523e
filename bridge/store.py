"""The bridge's own tables (its Alembic history: bridge/migrations, version table
`alembic_version_bridge`), in the exchange's database (same DATABASE_URL).

`bridge_txs` is the protocol's memory: one row per signed transaction, written and
committed BEFORE the transaction is sent, with everything needed to resend the very same
bytes or to prove that they can no longer land (blockhash, last valid block height). A
row's `seqs` are the outbox sequence numbers of one stream it carries; a stream's rows
never share a seq except when one replaces an expired or failed one (status says which).

Statuses:
  sent      persisted (and maybe sent): in flight until the chain says landed or not
  landed    confirmed on chain, and reported to the exchange (mark_applied)
  finalized landed, and its slot is finalized (reported: mark_finalized)
  expired   its blockhash expired and the chain says it did not land; its seqs went into a new row
  failed    landed or refused with an error that a later retry may clear; its seqs go into a new row
  reverted  no transaction: seqs refused for good (a settle_fill whose order is gone), reverted in the ledger
  skipped   no transaction: the chain already had the record's effect (e.g. a market `chain init` created)
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version_bridge"

SENT, LANDED, FINAL, EXPIRED, FAILED, REVERTED, SKIPPED = "sent", "landed", "finalized", "expired", "failed", "reverted", "skipped"
# Rows whose seqs are done (nothing more to send for them).
DONE = (LANDED, FINAL, REVERTED, SKIPPED)

metadata = MetaData()

txs = Table(
    "bridge_txs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream", String(64), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("seqs", Text, nullable=False),  # JSON list of ints, in instruction order
    Column("signature", String(96), nullable=True, unique=True),
    Column("blockhash", String(64), nullable=True),
    Column("last_valid_height", BigInteger, nullable=True),
    Column("raw", LargeBinary, nullable=True),  # the signed transaction, exactly as sent
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("slot", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_bridge_txs_stream_status", "stream", "status"),
    Index("ix_bridge_txs_stream_last_seq", "stream", "last_seq"),
)

# One address lookup table per market stream (v0 transactions), created and extended by the bridge.
lookup_tables = Table(
    "bridge_lookup_tables", metadata,
    Column("stream", String(64), primary_key=True),
    Column("address", String(64), nullable=False),
    Column("addresses", Text, nullable=False),  # JSON list of base58 keys known to be in the table, in order
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class TxRow:
    id: int
    stream: str
    seqs: list[int]
    signature: str | None
    blockhash: str | None
    last_valid_height: int | None
    raw: bytes | None
    status: str
    attempt: int
    slot: int | None
    error: str | None
    created_ms: int

    @classmethod
    def of(cls, r) -> "TxRow":
        return cls(r["id"], r["stream"], json.loads(r["seqs"]), r["signature"], r["blockhash"], r["last_valid_height"],
                   r["raw"], r["status"], r["attempt"], r["slot"], r["error"], r["created_ms"])


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """`alembic upgrade head` of the bridge's own history (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


class Store:
    """Reads and writes of the bridge tables; every write is its own committed transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert_tx(self, stream: str, seqs: list[int], signature: str | None, blockhash: str | None,
                  last_valid_height: int | None, raw: bytes | None, status: str = SENT, attempt: int = 1,
                  error: str | None = None) -> int:
        ts = now_ms()
        with self.engine.begin() as conn:
            return conn.execute(insert(txs).values(
                stream=stream, first_seq=min(seqs), last_seq=max(seqs), seqs=json.dumps(seqs), signature=signature,
                blockhash=blockhash, last_valid_height=last_valid_height, raw=raw, status=status, attempt=attempt,
                error=error, created_ms=ts, updated_ms=ts,
            ).returning(txs.c.id)).scalar_one()

    def set_status(self, row_id: int, status: str, *, slot: int | None = None, error: str | None = None) -> None:
        values = {"status": status, "updated_ms": now_ms()}
        if slot is not None:
            values["slot"] = slot
        if error is not None:
            values["error"] = error[:2000]
        with self.engine.begin() as conn:
            conn.execute(update(txs).where(txs.c.id == row_id).values(**values))

    def set_statuses(self, row_ids: list[int], status: str) -> None:
        """Several rows to one status, in one transaction."""
        if not row_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(update(txs).where(txs.c.id.in_(row_ids)).values(status=status, updated_ms=now_ms()))

    def open_rows(self, stream: str) -> list[TxRow]:
        """Rows still in flight (sent, not yet known landed or not)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(txs).where(txs.c.stream == stream, txs.c.status == SENT).order_by(txs.c.first_seq)).mappings().all()
        return [TxRow.of(r) for r in rows]

    def persisted_seq(self, stream: str) -> int:
        """The highest seq this stream ever put into a row (0: none)."""
        with self.engine.connect() as conn:
            return conn.execute(select(txs.c.last_seq).where(txs.c.stream == stream).order_by(txs.c.last_seq.desc()).limit(1)).scalar() or 0

    def rows_after(self, stream: str, floor: int) -> list[TxRow]:
        """Rows holding any seq above `floor`, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(txs).where(txs.c.stream == stream, txs.c.last_seq > floor).order_by(txs.c.id)).mappings().all()
        return [TxRow.of(r) for r in rows]

    def blockhashes_of(self, stream: str, seq: int) -> set[str]:
        """Blockhashes already used for transactions holding `seq` (a re-signed one must differ)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(txs.c.blockhash, txs.c.seqs).where(
                txs.c.stream == stream, txs.c.first_seq <= seq, txs.c.last_seq >= seq, txs.c.blockhash.is_not(None))).all()
        return {b for b, seqs in rows if seq in json.loads(seqs)}

    def attempts_of(self, stream: str, seq: int) -> int:
        with self.engine.connect() as conn:
            rows = conn.execute(select(txs.c.attempt, txs.c.seqs).where(
                txs.c.stream == stream, txs.c.first_seq <= seq, txs.c.last_seq >= seq)).all()
        return max([a for a, seqs in rows if seq in json.loads(seqs)], default=0)

    def done_seqs(self, stream: str, lowest: int) -> set[int]:
        """Seqs >= `lowest` already settled (landed, reverted, skipped)."""
        out: set[int] = set()
        with self.engine.connect() as conn:
            for (seqs,) in conn.execute(select(txs.c.seqs).where(txs.c.stream == stream, txs.c.last_seq >= lowest,
                                                                  txs.c.status.in_(DONE))):
                out.update(s for s in json.loads(seqs) if s >= lowest)
        return out

    def streams(self) -> list[str]:
        with self.engine.connect() as conn:
            return [s for (s,) in conn.execute(select(txs.c.stream).distinct())]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per stream, rows per status (for the console and the tests)."""
        from sqlalchemy import func

        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for stream, status, n in conn.execute(select(txs.c.stream, txs.c.status, func.count()).group_by(txs.c.stream, txs.c.status)):
                out.setdefault(stream, {})[status] = n
        return out

    def rows(self, stream: str | None = None) -> list[TxRow]:
        q = select(txs).order_by(txs.c.id)
        if stream is not None:
            q = q.where(txs.c.stream == stream)
        with self.engine.connect() as conn:
            return [TxRow.of(r) for r in conn.execute(q).mappings().all()]

    # -- lookup tables
    def lookup_table(self, stream: str) -> tuple[str, list[str]] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(lookup_tables).where(lookup_tables.c.stream == stream)).mappings().first()
        return (r["address"], json.loads(r["addresses"])) if r else None

    def save_lookup_table(self, stream: str, address: str, addresses: list[str]) -> None:
        ts = now_ms()
        with self.engine.begin() as conn:
            done = conn.execute(update(lookup_tables).where(lookup_tables.c.stream == stream).values(
                address=address, addresses=json.dumps(addresses), updated_ms=ts)).rowcount
            if not done:
                conn.execute(insert(lookup_tables).values(stream=stream, address=address, addresses=json.dumps(addresses),
                                                          created_ms=ts, updated_ms=ts))
