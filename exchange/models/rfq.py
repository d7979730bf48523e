"""Kalshi's RFQs ("communications"): a request for quote on one market and size, and the
quotes makers answer it with. A confirmed quote executes as a fill between the two users
(exchange/service/rfq.py); its two orders and its trade are ordinary rows of orders/trades."""
from __future__ import annotations

from sqlmodel import Field, SQLModel

from ._base import big


class Rfq(SQLModel, table=True):
    __tablename__ = "rfqs"

    id: int | None = Field(default=None, primary_key=True)
    rfq_id: str = Field(unique=True, max_length=40)
    user_id: int = Field(foreign_key="users.id")  # who trades: the creator or its subaccount
    parent_user_id: int = Field(foreign_key="users.id", index=True)  # who asked (the API key's user)
    ticker: str = Field(foreign_key="markets.ticker", max_length=64, index=True)
    contracts: int = Field(sa_column=big())
    rest_remainder: bool
    status: str = Field(max_length=16)  # open, closed
    cancellation_reason: str | None = Field(default=None, max_length=32)
    created_ms: int = Field(sa_column=big())
    updated_ms: int = Field(sa_column=big())
    cancelled_ms: int | None = Field(default=None, sa_column=big(nullable=True))


class Quote(SQLModel, table=True):
    __tablename__ = "quotes"

    id: int | None = Field(default=None, primary_key=True)
    quote_id: str = Field(unique=True, max_length=40)
    rfq_id: str = Field(foreign_key="rfqs.rfq_id", max_length=40, index=True)
    user_id: int = Field(foreign_key="users.id")  # the quoter or its subaccount
    parent_user_id: int = Field(foreign_key="users.id", index=True)
    yes_bid: int = Field(sa_column=big())  # 0: no bid on that side
    no_bid: int = Field(sa_column=big())
    rest_remainder: bool
    post_only: bool
    status: str = Field(max_length=16)  # open, accepted, executed, cancelled
    accepted_side: str | None = Field(default=None, max_length=3)
    cancellation_reason: str | None = Field(default=None, max_length=32)
    rfq_order_id: str | None = Field(default=None, max_length=40)  # the orders of the execution
    quote_order_id: str | None = Field(default=None, max_length=40)
    trade_id: str | None = Field(default=None, max_length=40)
    created_ms: int = Field(sa_column=big())
    updated_ms: int = Field(sa_column=big())
    accepted_ms: int | None = Field(default=None, sa_column=big(nullable=True))
    confirmed_ms: int | None = Field(default=None, sa_column=big(nullable=True))
    executed_ms: int | None = Field(default=None, sa_column=big(nullable=True))
    cancelled_ms: int | None = Field(default=None, sa_column=big(nullable=True))
