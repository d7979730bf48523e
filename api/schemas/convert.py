"""Kalshi wire values <-> internal integers (DESIGN.md, Units). Never floats.

Internal: prices and cash in collateral base units (1_000_000 = $1), counts in contract
base units (1_000_000 = one contract). Kalshi: `*_dollars` fixed-point strings ("0.5600"),
`*_fp` counts with two decimals ("10.00"), legacy integer cents and whole contracts,
timestamps as RFC 3339 or Unix seconds.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from exchange.errors import InvalidRequest

ONE = 1_000_000  # base units per dollar and per contract
CENT = 10_000  # base units per cent
HUNDREDTH = 10_000  # base units per 0.01 contract


def dollars(amount: int) -> str:
    """Base units -> "0.5600" (four decimals, Kalshi's precision; six when finer)."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), ONE)
    if frac % 100 == 0:
        return f"{sign}{whole}.{frac // 100:04d}"
    return f"{sign}{whole}.{frac:06d}"


def count_fp(count: int) -> str:
    """Contract base units -> "10.00" (two decimals; more only for sub-lot amounts)."""
    sign = "-" if count < 0 else ""
    whole, frac = divmod(abs(count), ONE)
    if frac % HUNDREDTH == 0:
        return f"{sign}{whole}.{frac // HUNDREDTH:02d}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def cents(amount: int) -> int:
    """Base units -> whole cents (rounded down: a balance is never shown larger than it is)."""
    return amount // CENT


def _decimal(text: str, field: str) -> Decimal:
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"{field} must be a decimal string", code="invalid_parameters")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidRequest(f"{field} {text!r} is not a decimal number", code="invalid_parameters") from None
    if not value.is_finite():
        raise InvalidRequest(f"{field} {text!r} is not a finite number", code="invalid_parameters")
    return value


def parse_dollars(text: str, field: str = "price") -> int:
    """"0.56" / "0.5600" -> 560_000; refuses more precision than a base unit."""
    units = _decimal(text, field) * ONE
    if units != units.to_integral_value():
        raise InvalidRequest(f"{field} {text!r} has more than six decimals", code="invalid_parameters")
    return int(units)


def parse_count(text: str, field: str = "count") -> int:
    """"10" / "10.00" -> 10_000_000; counts go to 0.01 contract."""
    units = _decimal(text, field) * ONE
    if units != units.to_integral_value() or int(units) % HUNDREDTH:
        raise InvalidRequest(f"{field} {text!r} is finer than 0.01 contract", code="invalid_count")
    return int(units)


def from_cents(value: int) -> int:
    return value * CENT


def from_contracts(value: int) -> int:
    return value * ONE


def rfc3339(ms: int | None) -> str | None:
    """Milliseconds since the epoch -> "2026-01-02T03:04:05.678Z"."""
    if ms is None:
        return None
    when = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def seconds(ms: int) -> int:
    return ms // 1000
