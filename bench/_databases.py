"""Databases for the benchmarks: the PostgreSQL server to use, and a scratch database on it."""
from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from exchange.db import normalize_url

REPO = Path(__file__).resolve().parents[1]


def postgres_url() -> str | None:
    """BENCH_POSTGRES_URL or TEST_POSTGRES_URL, else the server scripts/ensure-postgres.sh starts (None: none)."""
    url = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if url:
        return url
    done = subprocess.run(["bash", str(REPO / "scripts" / "ensure-postgres.sh")], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


@contextmanager
def scratch_postgres(base: str, prefix: str) -> Iterator[str]:
    """The URL of a new database on the server `base` names, dropped (connections and all) afterwards."""
    url = make_url(normalize_url(base))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
