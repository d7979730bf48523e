"""Requests and views of the exchange service, in internal units.

Prices are YES prices in collateral base units per contract (1_000_000 = $1); counts are
contract base units (1_000_000 = one contract); cash in collateral base units; times are
milliseconds since the epoch. The API converts these to Kalshi's shapes (`*_dollars`,
`*_fp`, cents).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from exchange.fees import ONE

BookSide = Literal["bid", "ask"]
Side = Literal["yes", "no"]
Action = Literal["buy", "sell"]
TimeInForce = Literal["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]
SelfTradePrevention = Literal["taker_at_cross", "maker"]

T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of a list; pass `cursor` back to get the next ('' when there is none)."""

    items: list[T]
    cursor: str = ""


@dataclass(slots=True)
class OrderRequest:
    """A new order in single-book terms: `book_side` at YES `price`.

    Use `OrderRequest.legacy(...)` for Kalshi's side/action/yes_price/no_price shape.
    `side`/`action` only record how the order was phrased (fills and orders echo them).
    """

    ticker: str
    book_side: BookSide
    price: int
    count: int
    side: Side | None = None
    action: Action | None = None
    type: Literal["limit", "market"] = "limit"
    time_in_force: TimeInForce = "good_till_canceled"
    expiration_ms: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    buy_max_cost: int | None = None
    sell_position_floor: int | None = None
    self_trade_prevention: SelfTradePrevention = "taker_at_cross"
    client_order_id: str | None = None
    order_group_id: str | None = None
    builder_code: str | None = None
    wallet_order: str | None = None  # on-chain wallet order address, set by the bridge only

    def __post_init__(self) -> None:
        if self.side is None or self.action is None:
            self.side, self.action = ("yes", "buy") if self.book_side == "bid" else ("yes", "sell")

    @classmethod
    def legacy(
        cls,
        ticker: str,
        side: Side,
        action: Action,
        count: int,
        yes_price: int | None = None,
        no_price: int | None = None,
        **kwargs,
    ) -> "OrderRequest":
        """Kalshi's legacy shape: buy/sell YES/NO at a YES or NO price (base units).

        Buy YES at p is a bid at p; buy NO at q an ask at 1 − q; sell YES at p an ask at
        p; sell NO at q a bid at 1 − q (DESIGN.md, Matching).
        """
        if yes_price is None and no_price is None:
            if kwargs.get("type") != "market":
                from exchange.errors import InvalidRequest

                raise InvalidRequest("a limit order needs yes_price or no_price")
            yes_price = ONE if (side, action) in (("yes", "buy"), ("no", "sell")) else 0
        elif yes_price is not None and no_price is not None and yes_price + no_price != ONE:
            from exchange.errors import InvalidRequest

            raise InvalidRequest("yes_price and no_price must add up to $1")
        price = yes_price if yes_price is not None else ONE - no_price  # type: ignore[operator]
        book_side: BookSide = "bid" if (side, action) in (("yes", "buy"), ("no", "sell")) else "ask"
        return cls(ticker=ticker, book_side=book_side, price=price, count=count, side=side, action=action, **kwargs)


@dataclass(slots=True)
class AmendRequest:
    """New YES price and/or new total count (Kalshi's amend: count is the new initial count)."""

    price: int | None = None
    count: int | None = None


@dataclass(slots=True)
class OrderView:
    order_id: str
    user_id: int
    ticker: str
    client_order_id: str | None
    book_side: BookSide
    side: Side
    action: Action
    price: int  # YES limit price
    type: str
    time_in_force: str
    expiration_ms: int | None
    post_only: bool
    reduce_only: bool
    buy_max_cost: int | None
    sell_position_floor: int | None
    self_trade_prevention: str
    order_group_id: str | None
    builder_code: str | None
    initial_count: int
    remaining_count: int
    fill_count: int
    status: str  # resting | canceled | executed
    taker_fill_count: int
    taker_fill_cost: int
    maker_fill_count: int
    maker_fill_cost: int
    taker_fees: int
    maker_fees: int
    rebates: int
    cancel_reason: str | None
    created_ms: int
    updated_ms: int
    queue_position: int | None = None
    wallet_order: str | None = None

    @property
    def no_price(self) -> int:
        return ONE - self.price


@dataclass(slots=True)
class FillView:
    fill_id: str
    trade_id: str
    order_id: str
    user_id: int
    ticker: str
    is_taker: bool
    book_side: BookSide
    side: Side
    action: Action
    price: int  # YES price
    count: int
    fee: int
    rebate: int
    created_ms: int
    client_order_id: str | None = None
    reverted_ms: int | None = None  # the chain refused its settle_fill; the ledger reversed it
    revert_reason: str | None = None

    @property
    def no_price(self) -> int:
        return ONE - self.price


@dataclass(slots=True)
class TradeView:
    trade_id: str
    ticker: str
    price: int
    count: int
    taker_book_side: BookSide
    created_ms: int
    minted: int = 0
    merged: int = 0

    @property
    def taker_side(self) -> Side:
        """Kalshi's taker_side: a taker bid bought YES, a taker ask bought NO."""
        return "yes" if self.taker_book_side == "bid" else "no"


@dataclass(slots=True)
class PlaceResult:
    order: OrderView
    fills: list[FillView]


@dataclass(slots=True)
class SeriesView:
    ticker: str
    title: str
    category: str
    frequency: str
    tags: list[str]
    fee_schedule_id: int | None
    created_ms: int


@dataclass(slots=True)
class EventView:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    category: str
    mutually_exclusive: bool
    created_ms: int
    markets: list["MarketView"] | None = None


@dataclass(slots=True)
class MarketView:
    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    subtitle: str
    yes_sub_title: str
    no_sub_title: str
    rules_primary: str
    status: str  # open | halted | closed | determined | finalized
    open_ms: int
    close_ms: int
    tick: int
    lot: int
    yes_payout: int | None
    fee_schedule_id: int | None
    created_ms: int
    determined_ms: int | None
    finalized_ms: int | None
    updated_ms: int  # its last change: creation, status, result
    # Live figures from the book and the ledger.
    yes_bid: int | None = None  # best bid (YES price)
    yes_ask: int | None = None  # best ask (YES price)
    yes_bid_size: int = 0
    yes_ask_size: int = 0
    last_price: int | None = None
    volume: int = 0
    volume_24h: int = 0
    open_interest: int = 0  # sets outstanding, contract base units
    liquidity: int = 0

    @property
    def result(self) -> str:
        """Kalshi's result: 'yes', 'no', or '' (not determined, or a split payout)."""
        if self.yes_payout is None:
            return ""
        if self.yes_payout == ONE:
            return "yes"
        if self.yes_payout == 0:
            return "no"
        return ""


@dataclass(slots=True)
class OrderbookView:
    """Both ladders as Kalshi shows them: YES bids and NO bids (asks at 1 − p), best last.

    `yes` and `no` are [(price, count), ...] sorted by price ascending; `no` prices are
    NO prices. `seq` is the market's orderbook sequence number (WebSocket deltas).
    """

    ticker: str
    yes: list[tuple[int, int]]
    no: list[tuple[int, int]]
    seq: int = 0


@dataclass(slots=True)
class BalanceView:
    balance: int  # cash available to trade (cash minus holds of resting orders)
    cash: int  # cash on the ledger
    held: int  # reserved by resting orders
    portfolio_value: int  # marked at last price (or 0.5 when there is none)
    updated_ms: int = 0


@dataclass(slots=True)
class PositionView:
    ticker: str
    event_ticker: str
    position: int  # Kalshi sign: + YES, − NO, contract base units
    exposure: int  # cost basis of the position held
    total_traded: int
    realized_pnl: int
    fees_paid: int
    resting_orders_count: int
    updated_ms: int


@dataclass(slots=True)
class EventPositionView:
    event_ticker: str
    exposure: int
    total_cost: int
    realized_pnl: int
    fees_paid: int
    resting_orders_count: int


@dataclass(slots=True)
class SettlementView:
    ticker: str
    event_ticker: str
    user_id: int
    yes_count: int
    no_count: int
    yes_total_cost: int
    no_total_cost: int
    yes_payout: int
    revenue: int
    fee_cost: int
    settled_ms: int

    @property
    def market_result(self) -> str:
        if self.yes_payout == ONE:
            return "yes"
        if self.yes_payout == 0:
            return "no"
        return "scalar"


@dataclass(slots=True)
class OrderGroupView:
    order_group_id: str
    user_id: int
    contracts_limit: int
    filled_count: int
    is_auto_cancel_enabled: bool  # True once the limit was hit (orders cancelled, new ones refused)
    order_ids: list[str] = field(default_factory=list)
    created_ms: int = 0


@dataclass(slots=True)
class ApiKeyView:
    key_id: str
    user_id: int
    name: str
    public_key_pem: str
    scopes: list[str]
    created_ms: int


@dataclass(slots=True)
class UserView:
    id: int
    name: str
    kind: str
    wallet: str | None
    created_ms: int


@dataclass(slots=True)
class FeeScheduleView:
    id: int
    name: str
    taker_rate_ppm: int
    maker_rate_ppm: int
    maker_rebate_ppm: int


@dataclass(slots=True)
class BuilderView:
    code: str
    name: str
    share_ppm: int
    balance: int = 0


@dataclass(slots=True)
class WithdrawalView:
    """A custodial withdrawal to a wallet: pending -> sent (applied on chain) -> finalized."""

    withdrawal_id: str
    user_id: int
    ticker: str | None  # None: cash
    asset: str  # yes | no | cash
    amount: int  # base units
    wallet: str
    status: str
    signature: str | None
    created_ms: int
    updated_ms: int


@dataclass(slots=True)
class DepositResult:
    """What `credit_deposit` did: `credited` False means this (signature, ix_index) was
    credited before and nothing happened now."""

    credited: bool
    user_id: int | None
    suspense: bool  # the reference named no user (or the market is unknown)
    message: str
    signature: str
    ix_index: int


@dataclass(slots=True)
class DepositView:
    signature: str
    ix_index: int
    reference: str
    asset: str
    ticker: str | None
    amount: int
    created_ms: int


@dataclass(slots=True)
class QueuePosition:
    order_id: str
    ticker: str
    queue_position: int  # contracts ahead of the order at its price level


# Published to `ExchangeService.subscribe` callbacks after each commit.
@dataclass(slots=True)
class BookDelta:
    """Change of resting size at one YES price level (`delta` in contract base units)."""

    ticker: str
    seq: int
    book_side: BookSide
    price: int
    delta: int

    @property
    def side(self) -> Side:
        """Kalshi's orderbook_delta side: YES bids are 'yes', asks are NO bids at 1 − price."""
        return "yes" if self.book_side == "bid" else "no"


@dataclass(slots=True)
class TickerUpdate:
    market: MarketView


@dataclass(slots=True)
class TradeEvent:
    trade: TradeView


@dataclass(slots=True)
class FillEvent:
    """A private fill (send only to `fill.user_id`)."""

    fill: FillView


@dataclass(slots=True)
class OrderEvent:
    """A private order update (send only to `order.user_id`)."""

    order: OrderView


@dataclass(slots=True)
class PositionEvent:
    """A custodial position custody moved (a withdrawal to a wallet, a deposit from one): the
    `market_positions` channel re-reads it (fills and settlement have their own events)."""

    user_id: int
    ticker: str


@dataclass(slots=True)
class MarketEvent:
    """A lifecycle change (created, halted, resumed, closed, determined, finalized)."""

    ticker: str
    kind: str
    market: MarketView
