"""The indexer's database: the exchange's (same DATABASE_URL), its own tables, its own migrations.

Engines come from `exchange.db.connect` (SQLite WAL and BEGIN IMMEDIATE writers, psycopg 3
for PostgreSQL); `migrate` runs the indexer's Alembic history (version table
`alembic_version_indexer`), so the exchange's and the indexer's histories never meet.
"""
from __future__ import annotations

from pathlib import Path

from exchange.db import Database, connect, normalize_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """`alembic upgrade head` of the indexer's history (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def open_database(url: str) -> Database:
    """Migrate the indexer's tables to head, then connect: what `tandem indexer` does on start."""
    migrate(url)
    return connect(url)
