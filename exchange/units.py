"""Kalshi's wire units <-> the exchange's integers (DESIGN.md, Units). Pure; never floats.

Internally a price or an amount of cash is an integer in collateral base units
(1_000_000 = $1) and a count is an integer in contract base units (1_000_000 = one
contract). On the wire Kalshi has:
- `*_dollars` fixed-point strings ("0.5600"), prices on a per-market tick
  (default one cent, down to $0.0001);
- `*_fp` count strings to 0.01 contract ("10.00");
- the legacy integer cents (`yes_price`, `no_price`) and whole contracts (`count`).

Parsers raise `InvalidRequest` (HTTP 400 in Kalshi's error shape) for anything that
does not name an exact number of base units: a request is refused, never rounded.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation

from exchange import idl
from exchange.errors import InvalidRequest

# THE definitions of the exchange's units (exchange/fees re-exports them), from the program's IDL.
ONE = idl.constant("ONE_CONTRACT")  # base units per dollar and per contract (1_000_000)
CENT = ONE // 100  # base units per cent
LOT = idl.constant("LOT")  # base units per 0.01 contract, the finest count (10_000)
HUNDREDTH = LOT
DEFAULT_TICK = idl.constant("DEFAULT_TICK")  # one cent
FINEST_TICK = idl.constant("MIN_TICK")  # $0.0001
# The ledger stores every amount as a signed 64-bit integer (SQLite INTEGER, PostgreSQL
# BIGINT): a value beyond it is refused here, at the edge, not by the database.
MAX_UNITS = 2**63 - 1
# The last instant a timestamp may name: 9999-12-31T23:59:59.999Z, the end of what RFC 3339
# (and Python's datetime) can write. A later one would be stored and then fail every read.
MAX_UNIX_SECONDS = 253_402_300_799
MAX_UNIX_MS = MAX_UNIX_SECONDS * 1000 + 999


# -- to the wire --------------------------------------------------------------------------

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
    """Base units -> whole cents, rounded toward minus infinity (a balance is never shown larger)."""
    return amount // CENT


def contracts(count: int) -> int:
    """Contract base units -> whole contracts (legacy integer fields), rounded down."""
    return count // ONE


# -- from the wire ------------------------------------------------------------------------

def _in_range(units: int, field: str) -> int:
    if not -MAX_UNITS <= units <= MAX_UNITS:
        raise InvalidRequest(f"{field} is out of range", code="invalid_parameters")
    return units


_MAX_WHOLE = Decimal(MAX_UNITS) / ONE  # exact: 9223372036854.775807


MAX_DECIMAL_CHARS = 40  # far more than any exact amount needs; bounds the work per value


def _units(text: str, field: str) -> Decimal:
    """`text` in base units (x 1_000_000), exactly, refused beyond 64 bits before any large int
    is built. The multiply runs in a context wide enough to be exact: at Decimal's default 28
    digits "0.5000000000000000000000000000001" would round to a whole 500000 and pass."""
    value = _decimal(text, field)
    if value.copy_abs() > _MAX_WHOLE:  # compared before scaling: "1e999999999" * ONE overflows Decimal itself
        raise InvalidRequest(f"{field} {text!r} is out of range", code="invalid_parameters")
    exact = Context(prec=len(value.as_tuple().digits) + 7, Emin=MIN_EMIN, Emax=MAX_EMAX, traps=[Inexact])
    return exact.multiply(value, ONE)


def _decimal(text: str, field: str) -> Decimal:
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"{field} must be a decimal string", code="invalid_parameters")
    if len(text) > MAX_DECIMAL_CHARS:
        raise InvalidRequest(f"{field} is longer than {MAX_DECIMAL_CHARS} characters", code="invalid_parameters")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidRequest(f"{field} {text!r} is not a decimal number", code="invalid_parameters") from None
    if not value.is_finite():
        raise InvalidRequest(f"{field} {text!r} is not a finite number", code="invalid_parameters")
    return value


def parse_dollars(text: str, field: str = "price") -> int:
    """"0.56" / "0.5600" -> 560_000; refuses more precision than a base unit."""
    units = _units(text, field)
    if units != units.to_integral_value():
        raise InvalidRequest(f"{field} {text!r} has more than six decimals", code="invalid_parameters")
    return int(units)


def parse_price(text: str, tick: int = DEFAULT_TICK, field: str = "price") -> int:
    """A YES price string on the market's tick, strictly between $0 and $1 -> base units."""
    price = parse_dollars(text, field)
    check_price(price, tick, field)
    return price


def check_price(price: int, tick: int = DEFAULT_TICK, field: str = "price") -> int:
    """`price` (base units) is on `tick` and strictly inside (0, $1); returns it."""
    if tick < FINEST_TICK or ONE % tick:
        raise InvalidRequest(f"tick {tick} does not divide $1 in steps of at least $0.0001", code="invalid_parameters")
    if not 0 < price < ONE:
        raise InvalidRequest(f"{field} {dollars(price)} is not between $0 and $1 exclusive", code="invalid_price")
    if price % tick:
        raise InvalidRequest(f"{field} {dollars(price)} is not a multiple of the tick {dollars(tick)}",
                             code="invalid_price")
    return price


def parse_count(text: str, field: str = "count") -> int:
    """"10" / "10.00" -> 10_000_000; counts go to 0.01 contract."""
    units = _units(text, field)
    if units != units.to_integral_value() or int(units) % HUNDREDTH:
        raise InvalidRequest(f"{field} {text!r} is finer than 0.01 contract", code="invalid_count")
    return int(units)


def from_cents(value: int, field: str = "cents") -> int:
    """Legacy integer cents -> base units."""
    return _in_range(value * CENT, field)


def from_contracts(value: int, field: str = "count") -> int:
    """Legacy whole contracts -> contract base units."""
    return _in_range(value * ONE, field)


def legacy_price(cents_value: int, field: str = "yes_price") -> int:
    """A legacy price in cents (1..99) -> base units, refused outside the book."""
    if isinstance(cents_value, bool) or not isinstance(cents_value, int) or not 1 <= cents_value <= 99:
        raise InvalidRequest(f"{field} must be whole cents between 1 and 99, not {cents_value!r}",
                             code="invalid_price")
    return from_cents(cents_value)


def no_to_yes(price: int) -> int:
    """A NO price -> the YES price of the same order in the single book (and back)."""
    return ONE - price


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_iso8601_ms(value: str, field: str = "time") -> int:
    """ISO 8601 / RFC 3339 ("Z" or an offset; naive means UTC) -> Unix milliseconds, exactly
    (integer arithmetic, no float seconds), refused outside 1970 .. MAX_UNIX_MS."""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidRequest(f"{field} must be an ISO 8601 string", code="invalid_parameters")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{field} {value!r} is not ISO 8601", code="invalid_parameters") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    ms = (when - _EPOCH) // timedelta(milliseconds=1)
    if not 0 <= ms <= MAX_UNIX_MS:
        raise InvalidRequest(f"{field} {value!r} is out of range", code="invalid_parameters")
    return ms
