"""Alembic environment of the indexer's tables: own history, own version table
(`alembic_version_indexer`), same database as the exchange. The URL comes from the config
(indexer.db.migrate)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from exchange.db import normalize_url
from indexer.models import metadata

VERSION_TABLE = "alembic_version_indexer"

config = context.config


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # The exchange's tables share the database; autogenerate must only ever see ours.
    return type_ != "table" or name.startswith("indexer_")


def run_migrations_online() -> None:
    engine = create_engine(normalize_url(config.get_main_option("sqlalchemy.url")), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=True,
            version_table=VERSION_TABLE, include_object=_include,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
