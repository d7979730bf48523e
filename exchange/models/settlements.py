"""What each holder was paid when a market finalized."""
from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import big


class Settlement(SQLModel, table=True):
    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("user_id", "ticker", name="uq_settlements_user_ticker"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    ticker: str = Field(foreign_key="markets.ticker", max_length=64)
    yes_count: int = Field(default=0, sa_column=big(default=0))
    no_count: int = Field(default=0, sa_column=big(default=0))
    yes_total_cost: int = Field(default=0, sa_column=big(default=0))
    no_total_cost: int = Field(default=0, sa_column=big(default=0))
    yes_payout: int = Field(sa_column=big())  # per contract, collateral base units
    revenue: int = Field(default=0, sa_column=big(default=0))
    fee_cost: int = Field(default=0, sa_column=big(default=0))
    settled_ms: int = Field(sa_column=big())
