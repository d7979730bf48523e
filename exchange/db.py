"""Database engines, sessions and migrations for the ledger.

SQLite (the embedded default) runs in WAL mode with synchronous=NORMAL: a commit is in the
WAL before `commit()` returns, so it survives kill -9 of the process (only an OS crash or
power loss can drop the last transactions). Write transactions start with BEGIN IMMEDIATE
so the writer holds SQLite's write lock from its first read — balances read inside an
order's transaction cannot change under it. PostgreSQL is reached through psycopg 3.

On PostgreSQL every statement is a round trip, so the writer defers the order path's writes
(exchange/statements.py queues them on the connection, `pending_writes`) and sends them in
ONE psycopg pipeline with whatever needs an answer next: the next read, or the COMMIT (one
round trip for a command's or a group's writes, its BEGIN and its COMMIT). Anything else the
connection runs (a SQLAlchemy statement) sends the queue first, and a rollback drops it, so
the transaction sees and undoes exactly what it would have without the queue.

The schema is owned by Alembic (`exchange/migrations/`); `migrate()` applies
`upgrade head`. Nothing in a production path calls `create_all`.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import psycopg
import psycopg.errors
import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from exchange.mirror import Mirror, Staged, StaleMirror

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# What the database raises when it refuses a value as data (SQLSTATE class 22: a NUL byte in
# PostgreSQL text, a number out of a column's range), through SQLAlchemy or, on the order
# path's prepared statements (exchange/statements.py), straight from the driver.
DATA_ERRORS: tuple[type[Exception], ...] = (sqlalchemy.exc.DataError, sqlite3.DataError, psycopg.DataError)


def normalize_url(url: str) -> str:
    """Accept `postgresql://` / `postgres://` and pick the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        paramstyle="named",  # exchange/statements.py passes parameters by name
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - trivial
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - trivial
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


PENDING = "tandem_pending_writes"  # key in a connection's info: [(sql, rows)] not yet sent
STAGED = "tandem_mirror_staged"  # key in a connection's info: its transaction's mirror changes


# The commit's check of every balance the mirror answered in the transaction (exchange/mirror.py):
# the amount the transaction leaves, if the mirror was right. A row that differs is inserted
# again, a duplicate key that fails the transaction (the upsert ADD_BALANCE never raises it):
# no round trip of its own, it goes in the commit's pipeline. PostgreSQL only (arrays).
BALANCE_GUARD = (
    "INSERT INTO ledger_balances (account_id, asset, amount) "
    "SELECT b.account_id, b.asset, b.amount FROM ledger_balances AS b "
    "JOIN unnest(%(accounts)s::integer[], %(assets)s::varchar[], %(amounts)s::bigint[]) AS v(account_id, asset, expected) "
    "ON b.account_id = v.account_id AND b.asset = v.asset WHERE b.amount <> v.expected")


def pending_writes(info: dict) -> list[tuple[str, list[dict]]]:
    """The deferred writes of the connection whose `info` this is (PostgreSQL writer only)."""
    pending = info.get(PENDING)
    if pending is None:
        pending = info[PENDING] = []
    return pending


def staged(conn) -> Staged | None:
    """The mirror changes of `conn`'s open transaction (exchange/mirror.py); None off PostgreSQL."""
    mirror = getattr(conn.dialect, "tandem_mirror", None)
    if mirror is None:
        return None
    info = conn.info
    changes = info.get(STAGED)
    if changes is None:
        changes = info[STAGED] = Staged(mirror)
    return changes


def send_pending(driver, pending: list[tuple[str, list[dict]]]) -> None:
    """Queue the deferred writes on `driver` (a psycopg connection inside `pipeline()`)."""
    writes = list(pending)
    pending.clear()  # sent or failed, never sent twice
    cursor = driver.cursor()
    for sql, rows in writes:
        cursor.executemany(sql, rows)
    cursor.close()


def run_pipeline(driver, pending: list, mirror: Mirror | None, then=None) -> None:
    """The deferred writes, then `then()` (a read, the COMMIT), in one pipeline: one round trip.
    The first error raises at the pipeline's Sync; a failed balance guard (the only statement
    that can break ledger_balances' key, exchange/mirror.py) drops the mirror: StaleMirror."""
    try:
        with driver.pipeline():
            send_pending(driver, pending)
            if then is not None:
                then()
    except psycopg.errors.UniqueViolation as exc:
        if mirror is not None and exc.diag.table_name == "ledger_balances":
            mirror.clear()
            raise StaleMirror("a cached balance differed from the database; the transaction rolled back") from exc
        raise


def _info_of(dbapi_connection) -> dict | None:
    try:
        return dbapi_connection.info
    except NotImplementedError:  # SQLAlchemy's ad-hoc connection of the first connect has no info
        return None


def _defer_writes(engine: Engine) -> None:
    """Hooks of the PostgreSQL writer for deferred writes and the mirror (module docstring)."""
    dialect = engine.dialect
    mirror = dialect.tandem_mirror = Mirror()
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection) -> None:
        info = _info_of(dbapi_connection) or {}
        pending = info.get(PENDING)
        changes = info.get(STAGED)
        if changes is not None and changes.served:  # balances the mirror answered: as the database's?
            served = sorted(changes.served)
            amounts = [changes.balance(k) for k in served]
            if None in amounts:  # written behind the mirror since: nothing to check them against
                do_rollback(dbapi_connection)
                mirror.clear()
                raise StaleMirror("a balance the mirror answered was written behind it; the transaction rolled back")
            pending = pending_writes(info)
            pending.append((BALANCE_GUARD, [{"accounts": [a for a, _ in served], "assets": [s for _, s in served],
                                             "amounts": amounts}]))
        if pending:
            driver = dbapi_connection.driver_connection
            try:
                run_pipeline(driver, pending, mirror, lambda: driver.execute(b"COMMIT"))
            except BaseException:
                do_rollback(dbapi_connection)  # out of the failed transaction now, whoever called
                raise
        commit(dbapi_connection)  # after the pipeline nothing is left to commit: no round trip
        if changes is not None:
            mirror.commit(changes)

    def do_rollback(dbapi_connection) -> None:
        info = _info_of(dbapi_connection) or {}
        if info.get(PENDING):
            info[PENDING].clear()
        if info.get(STAGED) is not None:
            mirror.rollback(info[STAGED])
        rollback(dbapi_connection)

    # Instance attributes: only this engine's dialect (SQLAlchemy has no hook around the DBAPI
    # commit that would let its errors be wrapped as usual).
    dialect.do_commit = do_commit
    dialect.do_rollback = do_rollback

    @event.listens_for(engine, "before_cursor_execute")
    def _send_first(conn, cursor, statement, parameters, context, executemany):  # pragma: no cover - trivial
        info = conn.info
        pending = info.get(PENDING)
        if pending:
            run_pipeline(conn.connection.driver_connection, pending, mirror)
        written_behind_mirror(statement, info, mirror)


def written_behind_mirror(statement: str, info: dict, mirror: Mirror) -> None:
    """`statement` is about to run and is not one the mirror follows: if it writes what the
    mirror holds, the mirror forgets that table (committed and staged)."""
    if statement.startswith(("UPDATE", "DELETE", "INSERT")):
        head = statement[:40]
        changes = info.get(STAGED)
        if " orders" in head:
            mirror.orders.clear()
            if changes is not None:
                changes.orders.clear()
        elif " ledger_balances" in head:
            mirror.balances.clear()
            if changes is not None:
                changes.balances.clear()


@dataclass
class Database:
    """A writer engine (serialised, BEGIN IMMEDIATE on SQLite) and a reader engine."""

    url: str
    writer: Engine
    reader: Engine

    @property
    def sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    @property
    def mirror(self) -> Mirror | None:
        """The PostgreSQL writer's mirror of balances and resting orders (exchange/mirror.py)."""
        return getattr(self.writer.dialect, "tandem_mirror", None)

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def connect(url: str) -> Database:
    """Open the database named by `url`, without migrating. (The URL is the caller's to give:
    only tandem/settings.py reads the environment.)"""
    url = normalize_url(url)
    if is_sqlite(url):
        return Database(url, _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False))
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    _defer_writes(engine)
    return Database(url, engine, engine)


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """`alembic upgrade head` on the database (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def open_database(url: str) -> Database:
    """Migrate to head, then connect: what every process does on start."""
    migrate(url)
    return connect(url)
