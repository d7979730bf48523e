"""The bridge's own tables: its Alembic history builds exactly what bridge/store.py declares,
beside the exchange's schema in the same database, under its own version table (both backends)."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bridge import store as S
from exchange.db import connect, open_database
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path, "bridge_store") as url:
        yield url


def test_migrations_build_the_declared_tables_beside_the_exchange(db_url):
    open_database(db_url).dispose()  # the exchange's schema first, as in production
    S.migrate(db_url)
    S.migrate(db_url)  # idempotent
    db = connect(db_url)
    try:
        with db.writer.connect() as conn:
            ours = MigrationContext.configure(conn, opts={
                "include_name": lambda name, kind, parent: kind != "table" or name in S.metadata.tables})
            diff = compare_metadata(ours, S.metadata)
            names = set(inspect(conn).get_table_names())
        assert diff == []
        assert {"bridge_txs", "bridge_lookup_tables", S.VERSION_TABLE, "alembic_version", "outbox"} <= names
    finally:
        db.dispose()


def test_rows_supersede_by_seq(db_url):
    S.migrate(db_url)
    db = connect(db_url)
    try:
        store = S.Store(db.writer)
        first = store.insert_tx("M", [1, 2, 3], "sig-a", "hash-a", 100, b"a")
        store.set_status(first, S.EXPIRED)
        store.insert_tx("M", [2, 3], "sig-b", "hash-b", 300, b"b", attempt=2)
        assert store.persisted_seq("M") == 3
        assert store.blockhashes_of("M", 2) == {"hash-a", "hash-b"}
        assert store.blockhashes_of("M", 1) == {"hash-a"}
        assert store.attempts_of("M", 3) == 2
        assert [r.seqs for r in store.rows_after("M", 1)] == [[1, 2, 3], [2, 3]]
        assert store.open_rows("M")[0].signature == "sig-b"
    finally:
        db.dispose()
