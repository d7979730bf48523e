"""Hot-path statements: SQLAlchemy Core, compiled once per dialect, run on the DBAPI cursor.

Every order command runs a handful of statements, and SQLAlchemy's per-execution work
(cache key, execution context, result wrapping) costs far more than the database itself
(the README has the figures).

So the statements of the order path stay Core (one schema definition, both dialects, no
hand-written SQL), but are compiled once per dialect and executed on the cursor of the
SQLAlchemy connection that holds the transaction: they commit and roll back with it.
Parameters are passed by name (SQLite engines use the `named` paramstyle, psycopg
`pyformat`); values must already be in the driver's types (ints, str, bool, None).
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

from exchange.db import PENDING, pending_writes, run_pipeline, staged, written_behind_mirror
from exchange.mirror import Staged


class Prepared:
    """One statement, or one per dialect name when built by `build(dialect_name)`."""

    __slots__ = ("_build", "_sql")

    def __init__(self, statement: ClauseElement | Callable[[str], ClauseElement]) -> None:
        self._build = (lambda _name: statement) if isinstance(statement, ClauseElement) else statement
        self._sql: dict[str, str] = {}

    def sql(self, conn: Connection) -> str:
        dialect = conn.dialect
        sql = self._sql.get(dialect.name)
        if sql is None:
            compiled = self._build(dialect.name).compile(dialect=dialect)
            # Only compiled.string is kept: a literal value turned into a bind would be lost.
            fixed = [b.key for b in compiled.binds.values() if not b.required]
            if fixed:
                raise RuntimeError(f"prepared statements take every value by name; literal binds: {fixed}")
            if dialect.paramstyle not in ("named", "pyformat"):
                raise RuntimeError(f"prepared statements need a named paramstyle, not {dialect.paramstyle}")
            sql = self._sql[dialect.name] = compiled.string
        return sql

    def execute(self, conn: Connection, params: dict | None = None):
        """Run once; returns the DBAPI cursor (fetch RETURNING / SELECT rows from it). On
        PostgreSQL the writes deferred before it go in the same round trip (exchange/db.py)."""
        driver = conn.connection.driver_connection
        cursor = driver.cursor()
        mirror = getattr(conn.dialect, "tandem_mirror", None)
        if mirror is None:  # SQLite: nothing deferred, nothing mirrored
            cursor.execute(self.sql(conn), params or {})
            return cursor
        info = conn.info
        if type(self) is Prepared:  # a statement the mirror does not follow
            written_behind_mirror(self.sql(conn), info, mirror)
        pending = info.get(PENDING)
        if pending:  # the rows are in the cursor once the pipeline has synced
            run_pipeline(driver, pending, mirror, lambda: cursor.execute(self.sql(conn), params or {}))
        else:
            cursor.execute(self.sql(conn), params or {})
        return cursor

    def executemany(self, conn: Connection, rows: list[dict]) -> None:
        """A write whose answer nobody reads: on PostgreSQL deferred to the next round trip
        (the next read or the commit, exchange/db.py), elsewhere run now."""
        if not rows:
            return
        changes = staged(conn)
        if changes is not None:
            self.defer(conn, changes, rows)
            return
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(self.sql(conn), rows)
        cursor.close()

    def defer(self, conn: Connection, changes: Staged, rows: list[dict]) -> None:
        sql = self.sql(conn)
        if type(self) is Prepared:  # a statement the mirror does not follow
            written_behind_mirror(sql, conn.info, changes.mirror)
        # Copies: a caller may reuse its parameter dicts once this returns.
        pending_writes(conn.info).append((sql, [dict(r) for r in rows]))

    def rows(self, conn: Connection, params: dict | None = None) -> list[tuple]:
        cursor = self.execute(conn, params)
        out = cursor.fetchall()
        cursor.close()
        return out

    def mappings(self, conn: Connection, params: dict | None = None) -> list[dict]:
        cursor = self.execute(conn, params)
        names = [d[0] for d in cursor.description]
        out = [dict(zip(names, row)) for row in cursor.fetchall()]
        cursor.close()
        return out

    def scalar(self, conn: Connection, params: dict | None = None):
        cursor = self.execute(conn, params)
        row = cursor.fetchone()
        cursor.fetchall()  # drain: SQLite keeps a statement with unread rows open
        cursor.close()
        return None if row is None else row[0]


# ---------------------------------------------------------------------- the order path's statements
from sqlalchemy import Table, bindparam, insert, select, update  # noqa: E402
from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: E402
from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: E402

from exchange.models import (  # noqa: E402
    Fill,
    LedgerBalance,
    LedgerEntry,
    Order,
    OrderGroup,
    OutboxEvent,
    OutboxStream,
    PositionStats,
    Trade,
)

_orders = Order.__table__
_balances = LedgerBalance.__table__
_stats = PositionStats.__table__


def _insert_row(table: Table) -> Prepared:
    """INSERT of one full row (every column but the surrogate key), by column name."""
    return Prepared(insert(table).values({c.name: bindparam(c.name) for c in table.c if c.name != "id"}))


def _upsert(table: Table, keys: list[str], set_: Callable, cls: type[Prepared] = Prepared) -> Prepared:
    def build(dialect_name: str):
        stmt = (sqlite_insert if dialect_name == "sqlite" else pg_insert)(table).values(
            {c.name: bindparam(c.name) for c in table.c})
        return stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=set_(stmt.excluded))
    return cls(build)


class _InsertOrder(Prepared):
    def defer(self, conn: Connection, changes: Staged, rows: list[dict]) -> None:
        super().defer(conn, changes, rows)
        for r in rows:
            changes.put_order(r)


INSERT_ORDER = _InsertOrder(insert(_orders).values({c.name: bindparam(c.name) for c in _orders.c if c.name != "id"}))
INSERT_TRADE = _insert_row(Trade.__table__)
INSERT_FILL = _insert_row(Fill.__table__)
INSERT_ENTRY = _insert_row(LedgerEntry.__table__)
INSERT_OUTBOX = _insert_row(OutboxEvent.__table__)



class _Holdings(Prepared):
    """One user's cash and position in one market: [(asset, amount)]. On PostgreSQL answered
    from the writer's mirror when it knows all three, checked by the commit's guard
    (exchange/mirror.py)."""

    def rows(self, conn: Connection, params: dict | None = None) -> list[tuple]:
        changes = staged(conn)
        if changes is None:
            return super().rows(conn, params)
        account = params["account"]
        keys = [(account, params["cash"]), (account, params["yes"]), (account, params["no"])]
        amounts = [changes.balance(k) for k in keys]
        if None in amounts:
            out = super().rows(conn, params)
            seen = dict(out)
            for key in keys:
                changes.saw_balance(key, seen.get(key[1], 0))
            return out
        changes.served.update(keys)  # checked at the commit (exchange/db.py, BALANCE_GUARD)
        return [(key[1], amount) for key, amount in zip(keys, amounts) if amount]


class _AddBalance(Prepared):
    def defer(self, conn: Connection, changes: Staged, rows: list[dict]) -> None:
        super().defer(conn, changes, rows)
        for r in rows:
            changes.add_balance((r["account_id"], r["asset"]), r["amount"])


HOLDINGS = _Holdings(select(_balances.c.asset, _balances.c.amount).where(
    _balances.c.account_id == bindparam("account"),
    _balances.c.asset.in_([bindparam("cash"), bindparam("yes"), bindparam("no")])))
ADD_BALANCE = _upsert(_balances, ["account_id", "asset"], lambda new: {"amount": _balances.c.amount + new.amount},
                      cls=_AddBalance)

ORDER_BY_CLIENT_ID = Prepared(select(_orders.c.id).where(
    _orders.c.user_id == bindparam("user_id"), _orders.c.client_order_id == bindparam("client_order_id")))
ORDER_GROUP = Prepared(select(OrderGroup.__table__).where(OrderGroup.__table__.c.order_group_id == bindparam("order_group_id")))

_CLOSED_COLUMNS = ("remaining_count", "status", "cancel_reason", "updated_ms")


class _OrderFilled(Prepared):
    def defer(self, conn: Connection, changes: Staged, rows: list[dict]) -> None:
        super().defer(conn, changes, rows)
        for r in rows:
            changes.update_order(r["b_order_id"], {
                "remaining_count": r["remaining_count"], "status": r["status"], "updated_ms": r["updated_ms"],
                "fee_units": r["fee_units"], "rebate_units": r["rebate_units"]}, {
                "fill_count": r["fill"], "maker_fill_count": r["fill"], "maker_fill_cost": r["cost"],
                "maker_fees": r["fees"], "rebates": r["rebates"]})


class _OrderClosed(Prepared):
    def defer(self, conn: Connection, changes: Staged, rows: list[dict]) -> None:
        super().defer(conn, changes, rows)
        for r in rows:
            changes.update_order(r["b_order_id"], {c: r[c] for c in _CLOSED_COLUMNS})


class _CancelOrder(Prepared):
    """A cancel, returning the order as it now stands (the reply needs it). On PostgreSQL a
    mirrored order's row comes from the mirror and the UPDATE is deferred (ORDER_CLOSED)."""

    def mappings(self, conn: Connection, params: dict | None = None) -> list[dict]:
        changes = staged(conn)
        row = changes.order(params["b_order_id"]) if changes is not None else None
        if row is None:
            return super().mappings(conn, params)
        ORDER_CLOSED.defer(conn, changes, [params])
        return [{**row, **{c: params[c] for c in _CLOSED_COLUMNS}}]


# A maker's fills in one command (b_ names: SQLAlchemy reserves a column's own name in UPDATE).
ORDER_FILLED = _OrderFilled(update(_orders).where(_orders.c.order_id == bindparam("b_order_id")).values(
    remaining_count=bindparam("remaining_count"), status=bindparam("status"), updated_ms=bindparam("updated_ms"),
    fill_count=_orders.c.fill_count + bindparam("fill"),
    maker_fill_count=_orders.c.maker_fill_count + bindparam("fill"),
    maker_fill_cost=_orders.c.maker_fill_cost + bindparam("cost"),
    maker_fees=_orders.c.maker_fees + bindparam("fees"), rebates=_orders.c.rebates + bindparam("rebates"),
    fee_units=bindparam("fee_units"), rebate_units=bindparam("rebate_units")))
ORDER_CLOSED = _OrderClosed(update(_orders).where(_orders.c.order_id == bindparam("b_order_id")).values(
    remaining_count=bindparam("remaining_count"), status=bindparam("status"),
    cancel_reason=bindparam("cancel_reason"), updated_ms=bindparam("updated_ms")))
CANCEL_ORDER = _CancelOrder(update(_orders).where(_orders.c.order_id == bindparam("b_order_id")).values(
    remaining_count=bindparam("remaining_count"), status=bindparam("status"), cancel_reason=bindparam("cancel_reason"),
    updated_ms=bindparam("updated_ms")).returning(*_orders.c))

STATS_EXPOSURE = Prepared(select(_stats.c.exposure).where(
    _stats.c.user_id == bindparam("user_id"), _stats.c.ticker == bindparam("ticker")))
ADD_STATS = _upsert(_stats, ["user_id", "ticker"], lambda new: {
    "exposure": new.exposure, "total_traded": _stats.c.total_traded + new.total_traded,
    "realized_pnl": _stats.c.realized_pnl + new.realized_pnl, "fees_paid": _stats.c.fees_paid + new.fees_paid,
    "updated_ms": new.updated_ms})

_streams = OutboxStream.__table__
RESERVE_SEQS = Prepared(update(_streams).where(_streams.c.stream == bindparam("b_stream")).values(
    last_seq=_streams.c.last_seq + bindparam("n")).returning(_streams.c.last_seq))
INSERT_STREAM = Prepared(insert(_streams).values(stream=bindparam("stream"), last_seq=bindparam("last_seq")))
