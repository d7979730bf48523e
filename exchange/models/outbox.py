"""The outbox of chain-bound ledger events, read by the bridge.

Each event belongs to a stream (a market ticker, or "_exchange" for events outside any
market) and carries that stream's next sequence number, gapless, allocated from
`outbox_streams` in the same transaction as the ledger change that causes it. The record
kinds and their payloads are the typed contract of exchange/outbox.py.
"""
from __future__ import annotations

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import big

from exchange.outbox import EXCHANGE_STREAM  # noqa: F401  (the record kinds live in exchange/outbox.py)


class OutboxStream(SQLModel, table=True):
    __tablename__ = "outbox_streams"

    stream: str = Field(primary_key=True, max_length=64)
    last_seq: int = Field(default=0, sa_column=big(default=0))


class OutboxEvent(SQLModel, table=True):
    """One record (exchange/outbox.py) and what the bridge reported about it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("stream", "seq", name="uq_outbox_stream_seq"),
        Index("ix_outbox_stream_status_seq", "stream", "status", "seq"),  # pending records, applied_seq
        Index("ix_outbox_stream_group", "stream", "group_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stream: str = Field(max_length=64)
    seq: int = Field(sa_column=big())
    group_id: str = Field(default="", max_length=40)  # one per ledger journal that wrote it
    kind: str = Field(max_length=32)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON, integers in base units
    created_ms: int = Field(sa_column=big())
    status: str = Field(default="pending", max_length=10, sa_column_kwargs={"server_default": "pending"})
    signature: str | None = Field(default=None, max_length=100)  # the chain transaction that applied it
    slot: int | None = Field(default=None, sa_column=big(nullable=True))
    applied_ms: int | None = Field(default=None, sa_column=big(nullable=True))
    finalized: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    revert_reason: str | None = Field(default=None, max_length=200)
