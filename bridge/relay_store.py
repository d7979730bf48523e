"""The relay's durable checkpoints (bridge tables, bridge/migrations `b0002`): per commitment,
the newest program transaction whose events were all handed over. Written only after the
events were applied, so a crash repeats at most the last batch, which every consumer takes
idempotently (wallet orders by PDA:order_id, deposits by signature and instruction index)."""
from __future__ import annotations

import time

from sqlalchemy import BigInteger, Column, MetaData, String, Table, select, update
from sqlalchemy.engine import Engine

from chain.follower import Checkpoint

metadata = MetaData()

checkpoints = Table(
    "bridge_relay_checkpoints", metadata,
    Column("name", String(16), primary_key=True),
    Column("slot", BigInteger, nullable=False),
    Column("signature", String(96), nullable=False),
    Column("handled", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)


class RelayStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def checkpoint(self, name: str) -> tuple[Checkpoint | None, int]:
        """(the checkpoint, events handled so far) of one follower."""
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints).where(checkpoints.c.name == name)).mappings().first()
        if row is None:
            return None, 0
        return Checkpoint(row["slot"], row["signature"]), row["handled"]

    def save(self, name: str, checkpoint: Checkpoint, handled: int) -> None:
        values = {"slot": checkpoint.slot, "signature": checkpoint.signature, "handled": handled,
                  "updated_ms": time.time_ns() // 1_000_000}
        with self.engine.begin() as conn:
            if conn.execute(update(checkpoints).where(checkpoints.c.name == name).values(**values)).rowcount == 0:
                conn.execute(checkpoints.insert().values(name=name, **values))
