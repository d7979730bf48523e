"""Fee math (exchange/fees.py): Kalshi's taker fee, per-order rounding, rebates, builder shares."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange import fees
from exchange.fees import CENT, ONE

prices = st.integers(min_value=0, max_value=10_000).map(lambda p: p * 100)  # $0.0001 ticks
counts = st.integers(min_value=0, max_value=10_000_000).map(lambda c: c * 10_000)  # 0.01 contracts


def kalshi_reference(count: int, price: int, rate: Fraction = Fraction(7, 100)) -> int:
    """The formula in dollars with exact rationals, rounded up to the cent, as base units."""
    dollars = rate * Fraction(count, ONE) * Fraction(price, ONE) * (1 - Fraction(price, ONE))
    return math.ceil(dollars * 100) * CENT


@pytest.mark.parametrize(
    "contracts,cents,expected_cents",
    [
        (1, 50, 2),  # 0.07 × 0.25 = 0.0175 -> 2c
        (100, 50, 175),  # $1.75 exactly
        (10, 10, 7),  # 0.07 × 10 × 0.09 = 0.063 -> 7c
        (1, 1, 1),  # tiny fees round up to a cent
        (1, 99, 1),
        (0, 50, 0),
        (5, 0, 0),
        (5, 100, 0),
    ],
)
def test_taker_fee_known_values(contracts, cents, expected_cents):
    assert fees.taker_fee(contracts * ONE, cents * CENT) == expected_cents * CENT


@given(counts, prices)
def test_taker_fee_matches_exact_rational_formula(count, price):
    assert fees.taker_fee(count, price) == kalshi_reference(count, price)


@given(counts, prices)
def test_fee_is_symmetric_in_yes_and_no_price(count, price):
    assert fees.taker_fee(count, price) == fees.taker_fee(count, ONE - price)


@given(st.lists(st.tuples(counts, prices), min_size=1, max_size=20))
def test_per_order_rounding_charges_the_ceiling_of_the_exact_total_once(order_fills):
    units = 0
    charged = 0
    for count, price in order_fills:
        added = fees.fee_units(count, price, fees.KALSHI_TAKER_RATE_PPM)
        charged += fees.charge_increment(units, added)
        units += added
    exact = sum(Fraction(7, 100) * Fraction(c, ONE) * Fraction(p, ONE) * (1 - Fraction(p, ONE)) for c, p in order_fills)
    assert charged == math.ceil(exact * 100) * CENT
    # Never more than one cent above the exact fee, whatever the split.
    assert Fraction(charged, ONE) - exact < Fraction(1, 100)


@given(st.lists(st.tuples(counts, prices), min_size=1, max_size=20))
def test_rebates_never_exceed_the_exact_formula(order_fills):
    units = 0
    paid = 0
    rate = 5_000
    for count, price in order_fills:
        added = fees.fee_units(count, price, rate)
        paid += fees.rebate_increment(units, added)
        units += added
    exact = sum(Fraction(rate, ONE) * Fraction(c, ONE) * Fraction(p, ONE) * (1 - Fraction(p, ONE)) for c, p in order_fills)
    assert Fraction(paid, ONE) <= exact
    assert exact - Fraction(paid, ONE) < Fraction(1, 100)


@given(counts, prices, st.integers(min_value=0, max_value=ONE))
def test_fee_hold_covers_any_fill_at_or_better_than_the_limit(count, limit, fill_price):
    """A bid at `limit` fills at or below it: price paid + fee never exceeds cost hold + fee hold."""
    rates = fees.FeeRates(taker_rate_ppm=70_000, maker_rate_ppm=17_500)
    fill_price = min(fill_price, limit) // 100 * 100
    hold = count * limit // ONE + fees.fee_hold(count, limit, rates)
    spent = count * fill_price // ONE + fees.taker_fee(count, fill_price, rates.taker_rate_ppm)
    assert spent <= hold


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=ONE))
def test_builder_share_is_a_floor_and_never_more_than_the_fee(amount, share_ppm):
    part = fees.share(amount, share_ppm)
    assert 0 <= part <= amount
    assert part == amount * share_ppm // ONE


@pytest.mark.parametrize("bad", [dict(count=-1, price=1), dict(count=1, price=-1), dict(count=1, price=ONE + 1)])
def test_bad_inputs_are_refused(bad):
    with pytest.raises(ValueError):
        fees.fee_units(bad["count"], bad["price"], 70_000)
    with pytest.raises(ValueError):
        fees.FeeRates(taker_rate_ppm=ONE + 1)
