"""Trading fees in integer base units (pure; no I/O).

Units: price is the YES price in collateral base units per contract (1_000_000 = $1);
count is in contract base units (1_000_000 = one contract). Fee rates are parts per
million (Kalshi's 0.07 is 70_000).

Kalshi's taker fee is ``ceil_to_cent(0.07 × C × P × (1 − P))`` dollars for C contracts at
price P dollars. In base units that is

    rate_ppm/1e6 × count/1e6 × price/1e6 × (1e6 − price)/1e6 dollars
  = rate_ppm × count × price × (1e6 − price) / 1e22 cents.

We keep that numerator exact ("fee units", 1e-22 cent) and round only when charging.
An order's fee is rounded per ORDER, not per fill: each fill charges
``ceil(total so far) − ceil(total before)``, so splitting an order into many small fills
never costs more than one rounding, and a hold of ``ceil(fee at the limit) + 1 cent``
always covers it. Rebates round down so the venue never pays out more than the formula.
"""
from __future__ import annotations

from dataclasses import dataclass

from exchange.units import CENT, ONE  # noqa: F401  (defined once there; re-exported to the fee math's callers)

FEE_UNITS_PER_CENT = 10**22

KALSHI_TAKER_RATE_PPM = 70_000
KALSHI_MAKER_RATE_PPM = 17_500  # Kalshi's maker fee on the markets that charge one


def fee_units(count: int, price: int, rate_ppm: int) -> int:
    """The exact fee `rate × C × P × (1 − P)` in fee units (1e-22 cent)."""
    if count < 0:
        raise ValueError("count must be non-negative")
    if not 0 <= price <= ONE:
        raise ValueError("price must be between 0 and 1_000_000")
    if rate_ppm < 0:
        raise ValueError("fee rate must be non-negative")
    return rate_ppm * count * price * (ONE - price)


def ceil_to_cent(units: int) -> int:
    """Fee units rounded UP to a whole cent, in collateral base units."""
    return -(-units // FEE_UNITS_PER_CENT) * CENT


def floor_to_cent(units: int) -> int:
    """Fee units rounded DOWN to a whole cent, in collateral base units."""
    return (units // FEE_UNITS_PER_CENT) * CENT


def taker_fee(count: int, price: int, rate_ppm: int = KALSHI_TAKER_RATE_PPM) -> int:
    """Kalshi's taker fee: ceil to the cent of 0.07 × C × P × (1 − P), base units."""
    return ceil_to_cent(fee_units(count, price, rate_ppm))


def rebate(count: int, price: int, rate_ppm: int) -> int:
    """A maker rebate: floor to the cent of rate × C × P × (1 − P), base units."""
    return floor_to_cent(fee_units(count, price, rate_ppm))


def charge_increment(units_before: int, units_added: int) -> int:
    """What one more fill charges when an order's fee is rounded up per order."""
    return ceil_to_cent(units_before + units_added) - ceil_to_cent(units_before)


def rebate_increment(units_before: int, units_added: int) -> int:
    """What one more fill rebates when an order's rebate is rounded down per order."""
    return floor_to_cent(units_before + units_added) - floor_to_cent(units_before)


def share(amount: int, share_ppm: int) -> int:
    """A ppm share of an amount (a builder's cut of a fee), rounded down."""
    if not 0 <= share_ppm <= ONE:
        raise ValueError("share must be between 0 and 1_000_000 ppm")
    return amount * share_ppm // ONE


@dataclass(frozen=True, slots=True)
class FeeRates:
    """The rates one market charges."""

    taker_rate_ppm: int = KALSHI_TAKER_RATE_PPM
    maker_rate_ppm: int = 0
    maker_rebate_ppm: int = 0

    def __post_init__(self) -> None:
        for rate in (self.taker_rate_ppm, self.maker_rate_ppm, self.maker_rebate_ppm):
            if not 0 <= rate <= ONE:
                raise ValueError("fee rates must be between 0 and 1_000_000 ppm")


def fee_hold(count: int, limit_price: int, rates: FeeRates) -> int:
    """Cash to hold for the fees of an order of `count` at YES limit `limit_price`.

    A bid filled below its limit pays a larger P(1−P) fee but a smaller price; since
    d/dx [x + r·x(1−x)] = 1 + r(1−2x) > 0 for r < 1, price + fee is largest at the limit,
    so (cost hold at the limit) + this covers every fill. The extra cent covers the one
    rounding of the per-order fee when sub-cent prices make the cost not a whole cent.
    """
    rate = max(rates.taker_rate_ppm, rates.maker_rate_ppm)
    if rate == 0 or count == 0:
        return 0
    return ceil_to_cent(fee_units(count, limit_price, rate)) + CENT
