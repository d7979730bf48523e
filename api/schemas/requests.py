"""Request bodies of the Kalshi routes (as the SDK sends them) and their conversion to
`exchange.schemas` requests in internal units."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from exchange.errors import InvalidRequest
from exchange.schemas import OrderRequest, SelfTradePrevention, TimeInForce  # noqa: F401  (one set of names)

from api.schemas.convert import MAX_UNIX_MS, MAX_UNIX_SECONDS, from_cents, from_contracts, parse_count, parse_dollars

MAX_BATCH = 20

# Kalshi's fixed-point strings, their format documented in the OpenAPI schema only: the
# parsers (exchange/units.py) enforce it, with their own error codes (invalid_price, ...).
_SIX_DECIMALS = {"pattern": r"^\d+(\.\d{1,6})?$"}
Dollars = Annotated[str, Field(json_schema_extra=_SIX_DECIMALS, examples=["0.5600"])]
Count = Annotated[str, Field(json_schema_extra={"pattern": r"^\d+(\.\d{1,2})?$"}, examples=["10.00"])]
Fraction = Annotated[str, Field(json_schema_extra=_SIX_DECIMALS, examples=["0.07"])]  # rates, shares

# Timestamps in bodies, bounded to what can be stored and written back (exchange/units.py).
UnixSeconds = Annotated[int, Field(ge=0, le=MAX_UNIX_SECONDS)]
UnixSecondsOrMs = Annotated[int, Field(ge=0, le=MAX_UNIX_MS)]  # expiration_time: either, as Kalshi's

class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def check_subaccount(value: int | None) -> None:
    """Kalshi's `subaccount` where Tandem serves only the primary account (0): order groups, API keys."""
    if value not in (None, 0):
        raise InvalidRequest("only the primary account (subaccount 0) is served here", code="invalid_parameters")


def expiration_ms(value: int | None) -> int | None:
    """Kalshi sends Unix seconds; milliseconds are accepted too (anything past year 5000 in seconds)."""
    if value is None:
        return None
    return value if value > 100_000_000_000 else value * 1000


class CreateOrderV2(_Body):
    """POST /portfolio/events/orders: one book, `bid`/`ask` at a YES price."""

    ticker: str = Field(min_length=1, max_length=64)
    client_order_id: str | None = Field(default=None, max_length=128)
    side: Literal["bid", "ask"]
    count: Count
    price: Dollars
    expiration_time: UnixSecondsOrMs | None = None
    time_in_force: TimeInForce = "good_till_canceled"
    post_only: bool = False
    self_trade_prevention_type: SelfTradePrevention = "taker_at_cross"
    cancel_order_on_pause: bool | None = None
    reduce_only: bool = False
    subaccount: int | None = None
    order_group_id: str | None = Field(default=None, max_length=40)
    exchange_index: int | None = None
    builder_code: str | None = Field(default=None, max_length=64,
                                     description="Tandem: a builder credited a share of this order's fees")

    def to_request(self) -> OrderRequest:  # `subaccount` is the route's to resolve (api/routes/orders.py)
        return OrderRequest(
            ticker=self.ticker, book_side=self.side, price=parse_dollars(self.price, "price"),
            count=parse_count(self.count, "count"), time_in_force=self.time_in_force,
            expiration_ms=expiration_ms(self.expiration_time), post_only=self.post_only, reduce_only=self.reduce_only,
            self_trade_prevention=self.self_trade_prevention_type, client_order_id=self.client_order_id,
            order_group_id=self.order_group_id, builder_code=self.builder_code)


class CreateOrderLegacy(_Body):
    """POST /portfolio/orders: side yes/no, action buy/sell, price in cents or dollars."""

    ticker: str = Field(min_length=1, max_length=64)
    client_order_id: str | None = Field(default=None, max_length=128)
    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    type: Literal["limit", "market"] | None = Field(
        default=None, description="older clients' field; an order without any price is a market order")
    count: int | None = Field(default=None, ge=1)
    count_fp: Count | None = None
    yes_price: int | None = Field(default=None, ge=1, le=99)
    no_price: int | None = Field(default=None, ge=1, le=99)
    yes_price_dollars: Dollars | None = None
    no_price_dollars: Dollars | None = None
    expiration_ts: UnixSecondsOrMs | None = None
    time_in_force: TimeInForce | None = None
    buy_max_cost: int | None = Field(default=None, description="cents")
    post_only: bool = False
    reduce_only: bool = False
    sell_position_floor: int | None = None
    self_trade_prevention_type: SelfTradePrevention = "taker_at_cross"
    order_group_id: str | None = Field(default=None, max_length=40)
    cancel_order_on_pause: bool | None = None
    subaccount: int | None = None
    exchange_index: int | None = None
    builder_code: str | None = Field(default=None, max_length=64)

    def to_request(self) -> OrderRequest:  # `subaccount` is the route's to resolve (api/routes/orders.py)
        count = legacy_count(self.count, self.count_fp)
        if count is None:
            raise InvalidRequest("give count or count_fp", code="invalid_parameters")
        yes_price, no_price = legacy_prices(self.yes_price, self.no_price, self.yes_price_dollars, self.no_price_dollars)
        kind = self.type or ("market" if yes_price is None and no_price is None else "limit")
        if kind == "limit" and yes_price is None and no_price is None:
            raise InvalidRequest("a limit order needs yes_price, no_price, yes_price_dollars or no_price_dollars",
                                 code="invalid_parameters")
        return OrderRequest.legacy(
            self.ticker, self.side, self.action, count, yes_price=yes_price, no_price=no_price, type=kind,
            time_in_force=self.time_in_force or "good_till_canceled", expiration_ms=expiration_ms(self.expiration_ts),
            post_only=self.post_only, reduce_only=self.reduce_only,
            buy_max_cost=from_cents(self.buy_max_cost) if self.buy_max_cost is not None else None,
            sell_position_floor=from_contracts(self.sell_position_floor) if self.sell_position_floor is not None else None,
            self_trade_prevention=self.self_trade_prevention_type, client_order_id=self.client_order_id,
            order_group_id=self.order_group_id, builder_code=self.builder_code)


def legacy_count(count: int | None, count_fp: str | None) -> int | None:
    if count_fp is not None:
        value = parse_count(count_fp, "count_fp")
        if count is not None and from_contracts(count) != value:
            raise InvalidRequest("count and count_fp disagree", code="invalid_parameters")
        return value
    return from_contracts(count) if count is not None else None


def legacy_prices(yes_price: int | None, no_price: int | None, yes_dollars: str | None,
                  no_dollars: str | None) -> tuple[int | None, int | None]:
    """At most one price: cents or dollars, YES or NO (base units out)."""
    given = [v for v in (yes_price, no_price, yes_dollars, no_dollars) if v is not None]
    if len(given) > 1:
        raise InvalidRequest("give only one of yes_price, no_price, yes_price_dollars, no_price_dollars",
                             code="invalid_parameters")
    yes = from_cents(yes_price) if yes_price is not None else parse_dollars(yes_dollars, "yes_price_dollars") if yes_dollars else None
    no = from_cents(no_price) if no_price is not None else parse_dollars(no_dollars, "no_price_dollars") if no_dollars else None
    return yes, no


class AmendOrderV2(_Body):
    ticker: str
    side: Literal["bid", "ask"]
    price: Dollars
    count: Count
    client_order_id: str | None = Field(default=None, max_length=128)
    updated_client_order_id: str | None = Field(default=None, max_length=128)
    expiration_time: UnixSecondsOrMs | None = None
    exchange_index: int | None = None


class AmendOrderLegacy(_Body):
    ticker: str
    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    client_order_id: str | None = Field(default=None, max_length=128)
    updated_client_order_id: str | None = Field(default=None, max_length=128)
    yes_price: int | None = Field(default=None, ge=1, le=99)
    no_price: int | None = Field(default=None, ge=1, le=99)
    yes_price_dollars: Dollars | None = None
    no_price_dollars: Dollars | None = None
    count: int | None = Field(default=None, ge=1)
    count_fp: Count | None = None
    subaccount: int | None = None
    exchange_index: int | None = None


class DecreaseOrderV2(_Body):
    reduce_by: Count | None = None
    reduce_to: Count | None = None
    market_ticker: str | None = None
    exchange_index: int | None = None


class DecreaseOrderLegacy(_Body):
    reduce_by: int | None = Field(default=None, ge=1)
    reduce_to: int | None = Field(default=None, ge=0)
    reduce_by_fp: Count | None = None
    reduce_to_fp: Count | None = None
    subaccount: int | None = None


class BatchCreateV2(_Body):
    orders: list[CreateOrderV2] = Field(min_length=1, max_length=MAX_BATCH)


class BatchCreateLegacy(_Body):
    orders: list[CreateOrderLegacy] = Field(min_length=1, max_length=MAX_BATCH)


class CancelItem(_Body):
    order_id: str
    subaccount: int | None = None
    market_ticker: str | None = None
    exchange_index: int | None = None


class BatchCancelV2(_Body):
    orders: list[CancelItem] = Field(min_length=1, max_length=MAX_BATCH)


class BatchCancelLegacy(_Body):
    ids: list[str] | None = Field(default=None, max_length=MAX_BATCH)
    orders: list[CancelItem] | None = Field(default=None, max_length=MAX_BATCH)

    def order_ids(self) -> list[str]:
        ids = list(self.ids or []) + [o.order_id for o in self.orders or []]
        if not ids:
            raise InvalidRequest("give ids or orders", code="invalid_parameters")
        if len(ids) > MAX_BATCH:
            raise InvalidRequest(f"at most {MAX_BATCH} orders per batch", code="invalid_parameters")
        return ids


class CreateOrderGroup(_Body):
    contracts_limit: int | None = Field(default=None, ge=1)
    contracts_limit_fp: Count | None = None
    subaccount: int | None = None
    exchange_index: int | None = None

    def limit(self) -> int:
        value = legacy_count(self.contracts_limit, self.contracts_limit_fp)
        if value is None or value <= 0:
            raise InvalidRequest("give a positive contracts_limit or contracts_limit_fp", code="invalid_parameters")
        return value


class UpdateOrderGroupLimit(_Body):
    contracts_limit: int | None = Field(default=None, ge=1)
    contracts_limit_fp: Count | None = None

    def limit(self) -> int:
        value = legacy_count(self.contracts_limit, self.contracts_limit_fp)
        if value is None or value <= 0:
            raise InvalidRequest("give a positive contracts_limit or contracts_limit_fp", code="invalid_parameters")
        return value


class CreateApiKey(_Body):
    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(min_length=1)
    scopes: list[str] | None = None
    subaccount: int | None = None


class GenerateApiKey(_Body):
    name: str = Field(min_length=1, max_length=200)
    key_type: Literal["rsa"] = "rsa"
    scopes: list[str] | None = None
    subaccount: int | None = None


VALID_SCOPES = {"read", "write", "read::portfolio_balance", "write::trade", "write::transfer"}


def scopes(values: list[str] | None) -> list[str]:
    if not values:
        return ["read", "write"]
    bad = [s for s in values if s not in VALID_SCOPES]
    if bad:
        raise InvalidRequest(f"unknown scopes {bad}", code="invalid_parameters")
    return list(dict.fromkeys(values))
