"""Shared helpers for the table modules."""
from __future__ import annotations

import time

from sqlalchemy import BigInteger, Column


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def big(nullable: bool = False, index: bool = False, default=None, server_default: str | None = None) -> Column:
    """A 64-bit integer column: amounts in base units, millisecond timestamps."""
    return Column(BigInteger, nullable=nullable, index=index, default=default, server_default=server_default)
