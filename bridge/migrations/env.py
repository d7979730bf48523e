"""Alembic environment of the bridge's tables: its own history and version table, same database as the exchange."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from bridge.store import VERSION_TABLE, metadata
from exchange.db import normalize_url

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(normalize_url(config.get_main_option("sqlalchemy.url")), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
