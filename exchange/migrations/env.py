"""Alembic environment: the URL comes from the config (exchange.db.migrate sets it) or, for the
alembic command line, from `-x url=...` (only tandem/settings.py reads the environment)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from exchange.db import normalize_url
from exchange.models import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("no database URL: run `alembic -x url=DATABASE_URL upgrade head` (tandem migrates on start)")
    return normalize_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
