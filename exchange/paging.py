"""Pages of listings as Kalshi serves them: a limit, an opaque cursor, and newest-first
windows over a table's id (orders, fills, trades, settlements)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, Select, Table

from exchange import errors
from exchange.schemas import Page
from exchange.units import MAX_UNITS

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def page_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def cursor_id(cursor: str | None) -> int | None:
    """A newest-first cursor: the id of the last row of the previous page."""
    if not cursor:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_UNITS:
        raise errors.InvalidRequest("bad cursor")
    return int(cursor)


def newest_first(reader: Engine, q: Select, table: Table, time_column, min_ms: int | None, max_ms: int | None,
                 cursor: str | None, limit: int | None, view: Callable) -> Page:
    """One page of a newest-first listing: time window, id cursor, and one row more than the
    page to know whether another follows."""
    limit = page_limit(limit)
    q = q.order_by(table.c.id.desc()).limit(limit + 1)
    if min_ms is not None:
        q = q.where(time_column >= min_ms)
    if max_ms is not None:
        q = q.where(time_column <= max_ms)
    after = cursor_id(cursor)
    if after is not None:
        q = q.where(table.c.id < after)
    with reader.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return Page([view(r) for r in rows[:limit]], str(rows[limit - 1]["id"]) if len(rows) > limit else "")
