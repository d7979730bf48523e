"""The Alembic migrations build exactly the schema the SQLModel models declare (both backends)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import exchange.models  # noqa: F401  (registers every table)
from exchange.db import open_database


def test_migrated_schema_matches_the_models(db_url):
    db = open_database(db_url)
    try:
        with db.writer.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        db.dispose()
    assert diff == []
