"""Fixtures for the ledger/service tests: every DB test runs on SQLite AND PostgreSQL.

The PostgreSQL server is named by TEST_POSTGRES_URL (`make test` sets it from
scripts/ensure-postgres.sh). Each test gets its own fresh database (CREATE DATABASE),
migrated by Alembic exactly as the app does on start. Under CI=true a missing
TEST_POSTGRES_URL fails the postgres tests instead of skipping them.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from exchange.db import normalize_url


def _postgres_base_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return normalize_url(url)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("TEST_POSTGRES_URL is not set under CI: the PostgreSQL tests must run (make test sets it)")
    pytest.skip("TEST_POSTGRES_URL not set (locally the PostgreSQL variant is optional)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    base = make_url(_postgres_base_url())
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
