"""Real databases for tests: a SQLite file, or a fresh PostgreSQL database per use.

The PostgreSQL server is named by TEST_POSTGRES_URL (`make test` sets it from
scripts/ensure-postgres.sh). Each use gets its own database (CREATE DATABASE), dropped
afterwards. Under CI=true a missing TEST_POSTGRES_URL fails the PostgreSQL variant
instead of skipping it, so CI can never go green without running it.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from exchange.db import normalize_url

# Parametrize a fixture with these to run its tests on both backends.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_base_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return normalize_url(url)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("TEST_POSTGRES_URL is not set under CI: the PostgreSQL tests must run (make test sets it)")
    pytest.skip("TEST_POSTGRES_URL not set (locally the PostgreSQL variant is optional)")


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (connections and all) on exit."""
    base = make_url(postgres_base_url())
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(backend: str, directory: Path, prefix: str = "t") -> Iterator[str]:
    """A fresh database of `backend` ("sqlite": a file in `directory`; "postgres")."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'{prefix}.db'}"
        return
    with fresh_postgres(prefix) as url:
        yield url
