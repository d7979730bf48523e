"""The outbox of chain-bound ledger events, read by the bridge.

Each event belongs to a stream (a market ticker, or "_exchange" for events outside any
market) and carries that stream's next sequence number, gapless, allocated from
`outbox_streams` in the same transaction as the ledger change that causes it.
"""
from __future__ import annotations

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import big

EXCHANGE_STREAM = "_exchange"

# Event kinds, named after the program instruction the bridge sends for them.
MARKET_CREATED = "create_market"
MARKET_HALTED = "halt"
MARKET_RESUMED = "resume"
MARKET_CLOSED = "close_market"
MARKET_DETERMINED = "determine"
MARKET_FINALIZED = "finalize"
CUSTODY_MINT_SET = "custody_mint_set"  # net sets custodial matches created
CUSTODY_MERGE_SET = "custody_merge_set"  # net sets custodial matches retired
SETTLE_FILL = "settle_fill"  # a fill of a wallet order against custody
CLOSE_ORDER = "close_order"  # a wallet order's unfilled rest refunded after the CLOB cancelled it
CUSTODY_WITHDRAW = "custody_withdraw"  # a custodial position or cash moved out to a wallet


class OutboxStream(SQLModel, table=True):
    __tablename__ = "outbox_streams"

    stream: str = Field(primary_key=True, max_length=64)
    last_seq: int = Field(default=0, sa_column=big(default=0))


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("stream", "seq", name="uq_outbox_stream_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    stream: str = Field(max_length=64)
    seq: int = Field(sa_column=big())
    kind: str = Field(max_length=32)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON, integers in base units
    created_ms: int = Field(sa_column=big())
