"""Fixtures for the ledger/service tests: every DB test runs on SQLite AND PostgreSQL.

The PostgreSQL server is named by TEST_POSTGRES_URL (`make test` sets it from
scripts/ensure-postgres.sh). Each test gets its own fresh database (CREATE DATABASE),
migrated by Alembic exactly as the app does on start. Under CI=true a missing
TEST_POSTGRES_URL fails the postgres tests instead of skipping them.
"""
from __future__ import annotations

import pytest

from exchange.service import ExchangeService
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path, "ledger") as url:
        yield url


@pytest.fixture
def svc(db_url):
    """A service on the test's fresh database (a module may override `db_url`)."""
    service = ExchangeService(db_url)
    yield service
    service.close()
