"""Orders, order groups, trades (public prints) and fills (each side's view of a trade)."""
from __future__ import annotations

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import big

ORDER_STATUSES = ("resting", "canceled", "executed")


class Order(SQLModel, table=True):
    """One order with every field Kalshi's order object carries (amounts in base units).

    `book_side` is the single-book view (bid = buy YES / sell NO at `price`, a YES price);
    `side`/`action` keep the legacy shape the order was submitted in.
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "client_order_id", name="uq_orders_user_client_order_id"),
        Index("ix_orders_ticker_status", "ticker", "status"),
        Index("ix_orders_user_status", "user_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)  # insertion order: cursors, restore priority
    order_id: str = Field(unique=True, max_length=40)
    user_id: int = Field(foreign_key="users.id")
    ticker: str = Field(foreign_key="markets.ticker", max_length=64)
    client_order_id: str | None = Field(default=None, max_length=128)
    book_side: str = Field(max_length=3)  # bid | ask
    side: str = Field(max_length=3)  # yes | no
    action: str = Field(max_length=4)  # buy | sell
    price: int = Field(sa_column=big())  # YES limit price
    type: str = Field(default="limit", max_length=8)
    time_in_force: str = Field(default="good_till_canceled", max_length=24)
    expiration_ms: int | None = Field(default=None, sa_column=big(nullable=True))
    post_only: bool = False
    reduce_only: bool = False
    buy_max_cost: int | None = Field(default=None, sa_column=big(nullable=True))
    sell_position_floor: int | None = Field(default=None, sa_column=big(nullable=True))
    self_trade_prevention: str = Field(default="taker_at_cross", max_length=24)
    order_group_id: str | None = Field(default=None, max_length=40, index=True)
    builder_code: str | None = Field(default=None, max_length=64)
    wallet_order: str | None = Field(default=None, max_length=64)  # on-chain order address (bridge)
    initial_count: int = Field(sa_column=big())
    remaining_count: int = Field(sa_column=big())
    fill_count: int = Field(sa_column=big(default=0))
    status: str = Field(default="resting", max_length=10)
    engine_seq: int = Field(default=0, sa_column=big(default=0))  # the engine's time priority
    taker_fill_count: int = Field(default=0, sa_column=big(default=0))
    taker_fill_cost: int = Field(default=0, sa_column=big(default=0))
    maker_fill_count: int = Field(default=0, sa_column=big(default=0))
    maker_fill_cost: int = Field(default=0, sa_column=big(default=0))
    taker_fees: int = Field(default=0, sa_column=big(default=0))
    maker_fees: int = Field(default=0, sa_column=big(default=0))
    rebates: int = Field(default=0, sa_column=big(default=0))
    # Exact fee accumulators in fee units (exchange/fees.py); decimal strings, they outgrow 64 bits.
    fee_units: str = Field(default="0", max_length=48)
    rebate_units: str = Field(default="0", max_length=48)
    cancel_reason: str | None = Field(default=None, max_length=40)
    created_ms: int = Field(sa_column=big())
    updated_ms: int = Field(sa_column=big())


class OrderGroup(SQLModel, table=True):
    """Kalshi order group: once its orders fill `contracts_limit` within a rolling 15 s (counting
    only fills after `reset_ms`), they are cancelled and new ones refused until reset."""

    __tablename__ = "order_groups"

    id: int | None = Field(default=None, primary_key=True)
    order_group_id: str = Field(unique=True, max_length=40)
    user_id: int = Field(foreign_key="users.id", index=True)
    contracts_limit: int = Field(sa_column=big())
    filled_count: int = Field(default=0, sa_column=big(default=0))
    triggered: bool = False
    deleted: bool = False
    created_ms: int = Field(sa_column=big())
    reset_ms: int = Field(default=0, sa_column=big(default=0, server_default="0"))


class Trade(SQLModel, table=True):
    """A public print. `minted`/`merged` say how much of it created or retired sets."""

    __tablename__ = "trades"
    __table_args__ = (Index("ix_trades_ticker_id", "ticker", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    trade_id: str = Field(unique=True, max_length=40)
    ticker: str = Field(foreign_key="markets.ticker", max_length=64)
    price: int = Field(sa_column=big())  # YES price
    count: int = Field(sa_column=big())
    taker_book_side: str = Field(max_length=3)
    taker_order_id: str = Field(max_length=40)
    maker_order_id: str = Field(max_length=40)
    minted: int = Field(default=0, sa_column=big(default=0))
    merged: int = Field(default=0, sa_column=big(default=0))
    created_ms: int = Field(sa_column=big())


class Fill(SQLModel, table=True):
    """One side of a trade as its owner sees it."""

    __tablename__ = "fills"
    __table_args__ = (Index("ix_fills_user_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    fill_id: str = Field(unique=True, max_length=40)
    trade_id: str = Field(max_length=40, index=True)
    order_id: str = Field(max_length=40, index=True)
    user_id: int = Field(foreign_key="users.id")
    ticker: str = Field(max_length=64)
    is_taker: bool
    book_side: str = Field(max_length=3)
    side: str = Field(max_length=3)
    action: str = Field(max_length=4)
    price: int = Field(sa_column=big())  # YES price
    count: int = Field(sa_column=big())
    fee: int = Field(default=0, sa_column=big(default=0))
    rebate: int = Field(default=0, sa_column=big(default=0))
    created_ms: int = Field(sa_column=big())
    # Set when the chain refused the fill's settle_fill for good and the ledger reversed it.
    reverted_ms: int | None = Field(default=None, sa_column=big(nullable=True))
    revert_reason: str | None = Field(default=None, max_length=200)
