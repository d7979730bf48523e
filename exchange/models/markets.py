"""Series, events and markets, and the fee schedules and builders markets and orders name."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

# Lifecycle (DESIGN.md): open -> (halted <-> open) -> closed -> determined -> finalized.
MARKET_STATUSES = ("open", "halted", "closed", "determined", "finalized")


class FeeSchedule(SQLModel, table=True):
    __tablename__ = "fee_schedules"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    taker_rate_ppm: int = 70_000
    maker_rate_ppm: int = 0
    maker_rebate_ppm: int = 0
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Builder(SQLModel, table=True):
    """A builder code: orders naming it credit `share_ppm` of their fee to its ledger account."""

    __tablename__ = "builders"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=200)
    share_ppm: int = 0
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Series(SQLModel, table=True):
    __tablename__ = "series"

    ticker: str = Field(primary_key=True, max_length=64)
    title: str = Field(default="", max_length=500)
    category: str = Field(default="", max_length=100)
    frequency: str = Field(default="custom", max_length=32)
    tags: str = Field(default="", max_length=500)  # comma-separated
    fee_schedule_id: int | None = Field(default=None, foreign_key="fee_schedules.id")
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Event(SQLModel, table=True):
    __tablename__ = "events"

    event_ticker: str = Field(primary_key=True, max_length=64)
    series_ticker: str = Field(foreign_key="series.ticker", index=True)
    title: str = Field(default="", max_length=500)
    sub_title: str = Field(default="", max_length=500)
    category: str = Field(default="", max_length=100)
    mutually_exclusive: bool = False
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Market(SQLModel, table=True):
    __tablename__ = "markets"

    ticker: str = Field(primary_key=True, max_length=64)
    event_ticker: str = Field(foreign_key="events.event_ticker", index=True)
    title: str = Field(default="", max_length=500)
    subtitle: str = Field(default="", max_length=500)
    yes_sub_title: str = Field(default="", max_length=200)
    no_sub_title: str = Field(default="", max_length=200)
    rules_primary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="open", max_length=16, index=True)
    open_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    close_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    tick: int = 10_000  # price tick, collateral base units (one cent)
    lot: int = 10_000  # count lot, contract base units (0.01 contract)
    yes_payout: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    fee_schedule_id: int | None = Field(default=None, foreign_key="fee_schedules.id")
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    determined_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    finalized_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    updated_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))  # last change
