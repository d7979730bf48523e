"""Database engines, sessions and migrations for the ledger.

SQLite (the embedded default) runs in WAL mode with synchronous=NORMAL: a commit is in the
WAL before `commit()` returns, so it survives kill -9 of the process (only an OS crash or
power loss can drop the last transactions). Write transactions start with BEGIN IMMEDIATE
so the writer holds SQLite's write lock from its first read — balances read inside an
order's transaction cannot change under it. PostgreSQL is reached through psycopg 3.

The schema is owned by Alembic (`exchange/migrations/`); `migrate()` applies
`upgrade head`. Nothing in a production path calls `create_all`.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

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


@dataclass
class Database:
    """A writer engine (serialised, BEGIN IMMEDIATE on SQLite) and a reader engine."""

    url: str
    writer: Engine
    reader: Engine

    @property
    def sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

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
