"""Tandem's matching engine: one order book per market, in YES terms. Pure and deterministic:
no I/O, no clock reads, no id generation — time (`now_ms`), order ids and user ids are inputs,
so replaying the same commands yields the same fills.

Prices and counts are integers in the ledger's base units (DESIGN.md, Units): a price is a
YES price on the market's `tick`, a count a multiple of its `lot` (0.01 contract by default).
A bid buys YES (or sells NO); an ask sells YES (or buys NO). Which of the three match kinds a
fill is (transfer, mint, merge) and Kalshi netting depend on positions, so they are the ledger's
business (`exchange/journal.py`); the engine decides who trades with whom, how much, at what price.

Interface (`Book(ticker, tick, lot)`):
- `submit(order_id, user_id, side, price, count, time_in_force, post_only, stp, expiration_ms, now_ms)
  -> EngineResult`: removes orders expired at `now_ms` (reported in `expired_makers`), then matches
  with price-time priority at the maker's price and rests the remainder of a good-till-canceled
  order. `time_in_force`: good_till_canceled | immediate_or_cancel | fill_or_kill (all or nothing,
  nothing changes if it cannot fill). `post_only`: rejected (nothing happens) if it would cross.
  `stp` (self_trade_prevention_type): taker_at_cross (the taker stops and its rest is cancelled
  where it meets its own order; fills before it stand) | maker (the taker's own resting orders
  met are cancelled, reported in `cancelled_makers`, and matching goes on).
- `cancel(order_id) -> remaining | None`; `decrease(order_id, new_remaining) -> reduction` (keeps
  priority); `restore(rows)` re-inserts saved resting orders with their priority (`seq`) without
  matching. (An amend to a new price or a larger size is a new order: the service cancels and
  submits in one transaction, Kalshi's new order id.)
- reads: `preview(side, price, count, user_id, stp, now_ms)` (what a taker would fill now, as
  [(maker price, contracts)]), `expiring(now_ms)` (the orders due to expire, [(order_id,
  remaining)]; the service commits their cancellation, then cancels them here), `top()`, `levels(depth)`, `queue_position(order_id)` (contracts ahead at its level),
  `has(order_id)`, `order(order_id)`, `resting_orders()`, `len(book)`.
Invalid input (unknown side, off-tick price, non-lot count, duplicate id) raises ValueError and
changes nothing.
"""
from .book import Book, Order
from .types import (ASK, BID, FILL_OR_KILL, GOOD_TILL_CANCELED, IMMEDIATE_OR_CANCEL, STP_MAKER, STP_TAKER_AT_CROSS,
                    EngineFill, EngineResult)

__all__ = ["ASK", "BID", "FILL_OR_KILL", "GOOD_TILL_CANCELED", "IMMEDIATE_OR_CANCEL", "STP_MAKER",
           "STP_TAKER_AT_CROSS", "Book", "EngineFill", "EngineResult", "Order"]
