"""Kalshi's historical archive over Tandem's live tables (nothing is moved anywhere).

Kalshi splits old data off behind a cut-off: markets settled, fills made, orders finished
before it are served by /historical/*. Tandem keeps everything in the live tables, so the live
endpoints keep serving all of it and the historical ones are the same rows filtered to before
the cut-off: a client that follows Kalshi's split sees every row exactly once.
"""
from __future__ import annotations

from sqlalchemy import Engine, select

from exchange.models import Order
from exchange.paging import newest_first
from exchange.schemas import Page
from exchange.views import order_view

_orders = Order.__table__

DEFAULT_LAG_MS = 90 * 86_400_000  # the cut-off, unless the operator set one: 90 days back, rolling


def cutoff_ms(now_ms: int, fixed_ms: int | None) -> int:
    return fixed_ms if fixed_ms is not None else max(0, now_ms - DEFAULT_LAG_MS)


def before(cutoff: int, max_ms: int | None) -> int:
    """The upper time bound of a historical read: the caller's, but never past the cut-off."""
    return cutoff - 1 if max_ms is None else min(max_ms, cutoff - 1)


def finished_orders(reader: Engine, user_id: int, cutoff: int, *, ticker: str | None = None,
                    min_ms: int | None = None, max_ms: int | None = None, cursor: str | None = None,
                    limit: int | None = None) -> Page:
    """The user's orders cancelled or fully executed before the cut-off (Kalshi's
    orders_updated_ts), newest first; resting orders are always live."""
    q = select(_orders).where(_orders.c.user_id == user_id, _orders.c.status != "resting")
    if ticker:
        q = q.where(_orders.c.ticker == ticker)
    return newest_first(reader, q, _orders, _orders.c.updated_ms, min_ms, before(cutoff, max_ms), cursor, limit,
                        order_view)
