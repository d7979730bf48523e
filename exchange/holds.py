"""Cash held against resting orders (pure).

A user's available balance is ledger cash minus, per market, the most its resting
orders there could still cost. With Kalshi netting a bid first closes NO (which pays
cash) before opening YES (which costs its price), and an ask first closes YES before
opening NO (costing 1 − price). Asks only lower a position and bids only raise it, so
at least min(bid contracts, NO held) bid contracts always close, whatever the order of
fills; the worst case lets the CHEAPEST bids be the closing ones (they save the least),
and symmetrically the highest-priced asks close YES. Closing fills are counted as free
(they actually pay), fills at better prices cost less (see exchange/fees.fee_hold), so
the figure is an upper bound of every future outflow of these orders.
"""
from __future__ import annotations

from collections.abc import Iterable

from exchange.fees import ONE, FeeRates, fee_hold


def _opening_cost(orders: list[tuple[int, int]], free: int, unit_cost) -> int:
    """Cost of `orders` (price, count) after `free` contracts (assigned in list order) close."""
    cost = 0
    for price, count in orders:
        closing = min(free, count)
        free -= closing
        opening = count - closing
        if opening:
            cost += -(-unit_cost(price) * opening // ONE)
    return cost


def market_hold(
    position: int,
    bids: Iterable[tuple[int, int]],
    asks: Iterable[tuple[int, int]],
    rates: FeeRates,
) -> int:
    """Cash to hold for resting `bids`/`asks` [(YES price, remaining count)] at `position`."""
    bids = sorted(bids)  # cheapest first close NO
    asks = sorted(asks, reverse=True)  # dearest first close YES
    hold = _opening_cost(bids, max(0, -position), lambda p: p)
    hold += _opening_cost(asks, max(0, position), lambda p: ONE - p)
    for price, count in bids:
        hold += fee_hold(count, price, rates)
    for price, count in asks:
        hold += fee_hold(count, price, rates)
    return hold
