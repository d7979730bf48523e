"""Service views -> Kalshi Trade API v2 JSON objects (the shapes `kalshi-python-async` 3.34 validates).

Pure functions from `exchange.schemas` views to dicts; routes return them as they are.
"""
from __future__ import annotations

from exchange.schemas import (
    ApiKeyView,
    BalanceView,
    EventPositionView,
    EventView,
    FillView,
    MarketView,
    OrderbookView,
    OrderGroupView,
    OrderView,
    PositionView,
    SeriesView,
    SettlementView,
    TradeView,
)

from api.schemas.convert import ONE, cents, count_fp, dollars, rfc3339, seconds

# Tandem's lifecycle -> Kalshi's market status values.
MARKET_STATUS = {"open": "active", "halted": "inactive", "closed": "closed", "determined": "determined",
                 "finalized": "finalized"}
# Kalshi's `status` filter of GET /markets and GET /events -> Tandem's statuses.
STATUS_FILTER = {"unopened": [], "open": ["open"], "paused": ["halted"], "closed": ["closed"],
                 "settled": ["determined", "finalized"]}


def _price_level_structure(tick: int) -> str:
    return "linear_cent" if tick >= 10_000 else "deci_cent" if tick >= 1_000 else "tapered_deci_cent"


def series(v: SeriesView) -> dict:
    return {
        "ticker": v.ticker, "frequency": v.frequency, "title": v.title, "category": v.category,
        "categories": [v.category] if v.category else [], "tags": v.tags, "settlement_sources": [],
        "contract_url": "", "contract_terms_url": "", "fee_type": "quadratic", "fee_multiplier": 1,
        "additional_prohibitions": [], "last_updated_ts": rfc3339(v.created_ms),
    }


def market(v: MarketView) -> dict:
    yes_bid = v.yes_bid if v.yes_bid is not None else 0
    yes_ask = v.yes_ask if v.yes_ask is not None else ONE
    out = {
        "ticker": v.ticker, "event_ticker": v.event_ticker, "market_type": "binary", "title": v.title,
        "subtitle": v.subtitle, "yes_sub_title": v.yes_sub_title, "no_sub_title": v.no_sub_title,
        "created_time": rfc3339(v.created_ms), "updated_time": rfc3339(v.updated_ms), "open_time": rfc3339(v.open_ms),
        "close_time": rfc3339(v.close_ms), "expected_expiration_time": rfc3339(v.close_ms),
        "expiration_time": rfc3339(v.close_ms), "latest_expiration_time": rfc3339(v.close_ms),
        "settlement_timer_seconds": 0, "status": MARKET_STATUS.get(v.status, v.status),
        "yes_bid_dollars": dollars(yes_bid), "yes_bid_size_fp": count_fp(v.yes_bid_size),
        "yes_ask_dollars": dollars(yes_ask), "yes_ask_size_fp": count_fp(v.yes_ask_size),
        "no_bid_dollars": dollars(ONE - yes_ask), "no_ask_dollars": dollars(ONE - yes_bid),
        "last_price_dollars": dollars(v.last_price or 0), "volume_fp": count_fp(v.volume),
        "volume_24h_fp": count_fp(v.volume_24h), "result": v.result if v.status in ("determined", "finalized") else "",
        "can_close_early": True, "open_interest_fp": count_fp(v.open_interest), "notional_value_dollars": dollars(ONE),
        "previous_yes_bid_dollars": dollars(0), "previous_yes_ask_dollars": dollars(0),
        "previous_price_dollars": dollars(0), "settlement_bounds_type": "default", "expiration_value": "",
        "rules_primary": v.rules_primary, "rules_secondary": "",
        "price_level_structure": _price_level_structure(v.tick),
        "price_ranges": [{"start": dollars(0), "end": dollars(ONE), "step": dollars(v.tick)}],
        # Tandem's own: the lot (smallest count step) next to the tick.
        "tick_size_dollars": dollars(v.tick), "lot_size_fp": count_fp(v.lot),
    }
    if v.yes_payout is not None:
        out["settlement_value_dollars"] = dollars(v.yes_payout)
        if v.result == "" and v.status in ("determined", "finalized"):
            out["result"] = "scalar"
    if v.finalized_ms is not None:
        out["settlement_ts"] = rfc3339(v.finalized_ms)
    return out


def event(v: EventView, *, nested: bool = False) -> dict:
    out = {
        "event_ticker": v.event_ticker, "series_ticker": v.series_ticker, "sub_title": v.sub_title, "title": v.title,
        "collateral_return_type": "", "mutually_exclusive": v.mutually_exclusive, "category": v.category,
        "settlement_sources": [], "last_updated_ts": rfc3339(v.created_ms),
    }
    if nested and v.markets is not None:
        out["markets"] = [market(m) for m in v.markets]
    return out


def orderbook(v: OrderbookView) -> dict:
    return {"yes_dollars": [[dollars(p), count_fp(c)] for p, c in v.yes],
            "no_dollars": [[dollars(p), count_fp(c)] for p, c in v.no]}


def trade(v: TradeView) -> dict:
    return {
        "trade_id": v.trade_id, "ticker": v.ticker, "count_fp": count_fp(v.count),
        "yes_price_dollars": dollars(v.price), "no_price_dollars": dollars(ONE - v.price),
        "taker_side": v.taker_side, "taker_outcome_side": v.taker_side, "taker_book_side": v.taker_book_side,
        "created_time": rfc3339(v.created_ms), "is_block_trade": False,
    }


def order(v: OrderView) -> dict:
    return {
        "order_id": v.order_id, "user_id": str(v.user_id), "client_order_id": v.client_order_id or "",
        "ticker": v.ticker, "side": v.side, "action": v.action, "outcome_side": v.side, "book_side": v.book_side,
        "type": v.type, "status": v.status, "yes_price_dollars": dollars(v.price), "no_price_dollars": dollars(ONE - v.price),
        "fill_count_fp": count_fp(v.fill_count), "remaining_count_fp": count_fp(v.remaining_count),
        "initial_count_fp": count_fp(v.initial_count), "taker_fill_cost_dollars": dollars(v.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(v.maker_fill_cost), "taker_fees_dollars": dollars(v.taker_fees),
        "maker_fees_dollars": dollars(v.maker_fees), "expiration_time": rfc3339(v.expiration_ms),
        "created_time": rfc3339(v.created_ms), "last_update_time": rfc3339(v.updated_ms),
        "self_trade_prevention_type": v.self_trade_prevention, "order_group_id": v.order_group_id,
        "cancel_order_on_pause": False, "subaccount_number": 0,
    }


def fill(v: FillView) -> dict:
    return {
        "fill_id": v.fill_id, "exchange_index": 0, "trade_id": v.trade_id, "order_id": v.order_id, "ticker": v.ticker,
        "market_ticker": v.ticker, "side": v.side, "action": v.action, "outcome_side": v.side, "book_side": v.book_side,
        "count_fp": count_fp(v.count), "yes_price_dollars": dollars(v.price), "no_price_dollars": dollars(ONE - v.price),
        "is_taker": v.is_taker, "created_time": rfc3339(v.created_ms), "fee_cost": dollars(v.fee - v.rebate),
        "subaccount_number": 0, "ts": seconds(v.created_ms),
        **({"reverted": True, "revert_reason": v.revert_reason, "reverted_time": rfc3339(v.reverted_ms)}
           if v.reverted_ms is not None else {}),
    }


def balance(v: BalanceView) -> dict:
    return {"balance": cents(v.balance), "balance_dollars": dollars(v.balance),
            "portfolio_value": cents(v.portfolio_value), "updated_ts": seconds(v.updated_ms)}


def market_position(v: PositionView) -> dict:
    return {
        "ticker": v.ticker, "exchange_index": 0, "total_traded_dollars": dollars(v.total_traded),
        "position_fp": count_fp(v.position), "market_exposure_dollars": dollars(v.exposure),
        "realized_pnl_dollars": dollars(v.realized_pnl), "fees_paid_dollars": dollars(v.fees_paid),
        "resting_orders_count": v.resting_orders_count, "last_updated_ts": rfc3339(v.updated_ms),
    }


def event_position(v: EventPositionView, shares: int) -> dict:
    return {
        "event_ticker": v.event_ticker, "total_cost_dollars": dollars(v.total_cost), "total_cost_shares_fp": count_fp(shares),
        "event_exposure_dollars": dollars(v.exposure), "realized_pnl_dollars": dollars(v.realized_pnl),
        "fees_paid_dollars": dollars(v.fees_paid),
    }


def settlement(v: SettlementView) -> dict:
    return {
        "ticker": v.ticker, "exchange_index": 0, "event_ticker": v.event_ticker, "market_result": v.market_result,
        "yes_count_fp": count_fp(v.yes_count), "yes_total_cost_dollars": dollars(v.yes_total_cost),
        "no_count_fp": count_fp(v.no_count), "no_total_cost_dollars": dollars(v.no_total_cost),
        "revenue": cents(v.revenue), "settled_time": rfc3339(v.settled_ms), "fee_cost": dollars(v.fee_cost),
        "value": cents(v.yes_payout),
    }


def order_group_summary(v: OrderGroupView) -> dict:
    return {"id": v.order_group_id, "contracts_limit_fp": count_fp(v.contracts_limit),
            "is_auto_cancel_enabled": v.is_auto_cancel_enabled}


def order_group(v: OrderGroupView) -> dict:
    return {"is_auto_cancel_enabled": v.is_auto_cancel_enabled, "contracts_limit_fp": count_fp(v.contracts_limit),
            "orders": v.order_ids}


def api_key(v: ApiKeyView) -> dict:
    return {"api_key_id": v.key_id, "name": v.name, "scopes": v.scopes}


def fills_summary(fills: list[FillView]) -> tuple[str | None, str | None]:
    """average_fill_price (YES dollars) and average_fee_paid (per contract) of one command's fills."""
    filled = sum(f.count for f in fills)
    if not filled:
        return None, None
    avg_price = sum(f.price * f.count for f in fills) // filled
    avg_fee = sum(f.fee - f.rebate for f in fills) * ONE // filled
    return dollars(avg_price), dollars(avg_fee)
