"""Kalshi wire values <-> internal integers (DESIGN.md, Units). Never floats.

Internal: prices and cash in collateral base units (1_000_000 = $1), counts in contract
base units (1_000_000 = one contract). Kalshi: `*_dollars` fixed-point strings ("0.5600"),
`*_fp` counts with two decimals ("10.00"), legacy integer cents and whole contracts,
timestamps as RFC 3339 or Unix seconds.
"""
from __future__ import annotations

from datetime import datetime, timezone

# The conversions themselves are pure exchange logic; re-exported here for the wire layer.
from exchange.units import (  # noqa: F401
    CENT,
    HUNDREDTH,
    MAX_UNITS,
    MAX_UNIX_MS,
    MAX_UNIX_SECONDS,
    ONE,
    cents,
    count_fp,
    dollars,
    from_cents,
    from_contracts,
    parse_count,
    parse_dollars,
)


def rfc3339(ms: int | None) -> str | None:
    """Milliseconds since the epoch -> "2026-01-02T03:04:05.678Z"."""
    if ms is None:
        return None
    when = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def seconds(ms: int) -> int:
    return ms // 1000
