"""Bodies of the wallet and custody endpoints (DESIGN.md, "Wallet and custody endpoints"),
and of the relay's hand-over routes (operator only). Counts and prices are Kalshi's
fixed-point strings; the parsers (exchange/units.py) enforce them with their own codes."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.requests import Count, Dollars

Address = str  # base58; checked by api/wallet_chain.parse_wallet / parse_address (clear 400s)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WalletOrderBody(_Body):
    """POST /v1/wallet/orders."""

    wallet: Address = Field(max_length=64)
    ticker: str = Field(min_length=1, max_length=64)
    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    count: Count
    price: Dollars  # in the side's own terms: a NO order's price is a NO price


class WithdrawalBody(_Body):
    """POST /v1/custody/withdrawals: `count` is contracts for yes/no, dollars for cash."""

    ticker: str | None = Field(default=None, max_length=64)
    side: Literal["yes", "no", "cash"]
    count: Dollars
    wallet: Address = Field(max_length=64)


class PlacedBody(_Body):
    """An `OrderPlaced` event, handed over by the bridge's relay (amounts in base units)."""

    order: Address = Field(max_length=64)
    ticker: str = Field(min_length=1, max_length=64)
    owner: Address = Field(max_length=64)
    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    limit_price: int = Field(ge=0, le=2**64 - 1)
    size: int = Field(ge=0, le=2**64 - 1)
    max_fee: int = Field(ge=0, le=2**64 - 1)
    escrowed: int = Field(ge=0, le=2**64 - 1)
    slot: int = Field(default=0, ge=0)
    order_id: int = Field(default=0, ge=0, le=2**64 - 1)  # the program's id (v1.1); 0 from an older program


class OrderRef(_Body):
    """`CancelRequested` / `OrderClosed` by force_close, handed over by the relay."""

    order: Address = Field(max_length=64)
    order_id: int | None = Field(default=None, ge=0, le=2**64 - 1)  # None: the newest order at that PDA


class DepositedBody(_Body):
    """A `Deposited` event seen at finalized, handed over by the relay: credited once per
    (signature, ix_index) by the process that owns the books (its positions follow)."""

    signature: str = Field(min_length=1, max_length=100)
    ix_index: int = Field(ge=0, lt=2**31)
    reference: str = Field(min_length=32, max_length=32)  # 16 bytes, hex
    asset: Literal["yes", "no", "cash"]
    ticker: str | None = Field(default=None, max_length=64)
    amount: int = Field(gt=0, le=2**63 - 1)
