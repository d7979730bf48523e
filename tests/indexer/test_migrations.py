"""The indexer's own Alembic history builds exactly indexer/models.py, in the exchange's
database, beside the exchange's tables and version table (both backends)."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from exchange.db import migrate as migrate_exchange
from alembic.script import ScriptDirectory

from indexer.db import alembic_config, open_database
from indexer.models import metadata
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path, "ixm") as url:
        yield url


def test_indexer_migrations_match_the_models_beside_the_exchange(db_url):
    migrate_exchange(db_url)
    db = open_database(db_url)
    try:
        open_database(db_url).dispose()  # idempotent: a restart migrates nothing
        with db.writer.connect() as conn:
            ours = lambda obj, name, type_, reflected, compare_to: type_ != "table" or name.startswith("indexer_")  # noqa: E731
            ctx = MigrationContext.configure(conn, opts={"include_object": ours})
            assert compare_metadata(ctx, metadata) == []
            tables = set(inspect(conn).get_table_names())
            assert {"alembic_version", "alembic_version_indexer", "ledger_balances", "indexer_events"} <= tables
            head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version_indexer")).scalar_one() == head
    finally:
        db.dispose()
