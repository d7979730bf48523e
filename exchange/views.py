"""Ledger rows -> the views the service hands out (exchange/schemas.py). Pure: a row in, a
view out; what a row looks like to callers is decided here and only here."""
from __future__ import annotations

from exchange.schemas import (
    EventView,
    FillView,
    OrderView,
    SeriesView,
    SettlementView,
    TradeView,
)


def order_view(r) -> OrderView:
    return OrderView(
        order_id=r["order_id"], user_id=r["user_id"], ticker=r["ticker"], client_order_id=r["client_order_id"],
        book_side=r["book_side"], side=r["side"], action=r["action"], price=r["price"], type=r["type"],
        time_in_force=r["time_in_force"], expiration_ms=r["expiration_ms"], post_only=bool(r["post_only"]),
        reduce_only=bool(r["reduce_only"]), buy_max_cost=r["buy_max_cost"], sell_position_floor=r["sell_position_floor"],
        self_trade_prevention=r["self_trade_prevention"], order_group_id=r["order_group_id"], builder_code=r["builder_code"],
        initial_count=r["initial_count"], remaining_count=r["remaining_count"], fill_count=r["fill_count"], status=r["status"],
        taker_fill_count=r["taker_fill_count"], taker_fill_cost=r["taker_fill_cost"], maker_fill_count=r["maker_fill_count"],
        maker_fill_cost=r["maker_fill_cost"], taker_fees=r["taker_fees"], maker_fees=r["maker_fees"], rebates=r["rebates"],
        cancel_reason=r["cancel_reason"], created_ms=r["created_ms"], updated_ms=r["updated_ms"],
        wallet_order=r["wallet_order"])


def settlement_view(r) -> SettlementView:
    return SettlementView(r["ticker"], r["event_ticker"], r["user_id"], r["yes_count"], r["no_count"], r["yes_total_cost"],
                          r["no_total_cost"], r["yes_payout"], r["revenue"], r["fee_cost"], r["settled_ms"])


def fill_view(r) -> FillView:
    return FillView(r["fill_id"], r["trade_id"], r["order_id"], r["user_id"], r["ticker"], bool(r["is_taker"]), r["book_side"],
                    r["side"], r["action"], r["price"], r["count"], r["fee"], r["rebate"], r["created_ms"],
                    reverted_ms=r.get("reverted_ms"), revert_reason=r.get("revert_reason"))


def trade_view(r) -> TradeView:
    return TradeView(r["trade_id"], r["ticker"], r["price"], r["count"], r["taker_book_side"], r["created_ms"],
                     r["minted"], r["merged"])


def series_view(r) -> SeriesView:
    return SeriesView(r["ticker"], r["title"], r["category"], r["frequency"], [t for t in r["tags"].split(",") if t],
                      r["fee_schedule_id"], r["created_ms"])


def event_view(r) -> EventView:
    return EventView(r["event_ticker"], r["series_ticker"], r["title"], r["sub_title"], r["category"],
                     bool(r["mutually_exclusive"]), r["created_ms"])
