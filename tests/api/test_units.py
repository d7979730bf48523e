"""exchange.units: Kalshi's dollars / fp-count / legacy-cent values <-> base units, exactly."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange import units
from exchange.errors import InvalidRequest


@pytest.mark.parametrize("text,base", [
    ("0.56", 560_000), ("0.5600", 560_000), ("0.0001", 100), ("1", 1_000_000), (" 0.99 ", 990_000),
    ("0.123456", 123_456),
])
def test_parse_dollars(text, base):
    assert units.parse_dollars(text) == base


@pytest.mark.parametrize("text", ["", "abc", "0.1234567", "NaN", "Infinity", "1e-7", None, "1e-999999999",
                                  "0.5000000000000000000000000000001", "0." + "0" * 40 + "1"])
def test_parse_dollars_refuses_what_is_not_a_whole_number_of_base_units(text):
    with pytest.raises(InvalidRequest):
        units.parse_dollars(text)


@pytest.mark.parametrize("amount,text", [
    (560_000, "0.5600"), (100, "0.0001"), (0, "0.0000"), (12_345_670_000, "12345.6700"), (-10_000, "-0.0100"),
    (123_456, "0.123456"),
])
def test_dollars(amount, text):
    assert units.dollars(amount) == text


@pytest.mark.parametrize("text,tick,base", [
    ("0.56", units.CENT, 560_000), ("0.5612", 100, 561_200), ("0.05", 50_000, 50_000),
])
def test_parse_price_on_tick(text, tick, base):
    assert units.parse_price(text, tick) == base


@pytest.mark.parametrize("text,tick,code", [
    ("0.5612", units.CENT, "invalid_price"),  # off the one-cent tick
    ("0.00", units.CENT, "invalid_price"),
    ("1.00", units.CENT, "invalid_price"),
    ("-0.10", units.CENT, "invalid_price"),
    ("0.56", 30_000, "invalid_parameters"),  # a tick that does not divide $1
    ("0.56", 10, "invalid_parameters"),  # finer than $0.0001
])
def test_parse_price_refusals(text, tick, code):
    with pytest.raises(InvalidRequest) as err:
        units.parse_price(text, tick)
    assert err.value.code == code and err.value.status == 400


@pytest.mark.parametrize("text,base", [("10", 10_000_000), ("10.00", 10_000_000), ("0.01", 10_000), ("2.5", 2_500_000)])
def test_parse_count(text, base):
    assert units.parse_count(text) == base


@pytest.mark.parametrize("text", ["0.001", "1.005", "x", ""])
def test_parse_count_refuses_finer_than_a_hundredth(text):
    with pytest.raises(InvalidRequest):
        units.parse_count(text)


@pytest.mark.parametrize("parse", [units.parse_dollars, units.parse_count])
@pytest.mark.parametrize("text", ["9223372036854.78", "-9223372036854.78", "1e30", "1e999999999", "-1e999999999"])
def test_amounts_beyond_the_ledgers_64_bits_are_refused(parse, text):
    # 1e999999999 would overflow Decimal itself if scaled before the check.
    with pytest.raises(InvalidRequest, match="out of range"):
        parse(text)


def test_the_largest_storable_amounts_pass():
    assert units.parse_dollars("9223372036854.775807") == units.MAX_UNITS
    assert units.parse_count("9223372036854.77") == 9_223_372_036_854_770_000
    assert units.from_cents(units.MAX_UNITS // units.CENT) <= units.MAX_UNITS
    with pytest.raises(InvalidRequest, match="out of range"):
        units.from_cents(units.MAX_UNITS // units.CENT + 1)
    with pytest.raises(InvalidRequest, match="out of range"):
        units.from_contracts(units.MAX_UNITS // units.ONE + 1)


def test_legacy_cents_and_contracts():
    assert units.legacy_price(56) == 560_000
    assert units.from_contracts(3) == 3_000_000
    assert units.contracts(3_990_000) == 3
    assert units.cents(559_999) == 55  # never shown larger than it is
    assert units.cents(-1) == -1
    assert units.no_to_yes(units.legacy_price(40, "no_price")) == 600_000
    for bad in (0, 100, -5, True, 56.0, "56"):
        with pytest.raises(InvalidRequest):
            units.legacy_price(bad)


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_dollars_round_trip(amount):
    assert units.parse_dollars(units.dollars(amount)) == amount


@given(st.integers(min_value=0, max_value=10**12))
def test_count_round_trip(hundredths):
    count = hundredths * units.HUNDREDTH
    text = units.count_fp(count)
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2
    assert units.parse_count(text) == count


@given(st.sampled_from([100, 500, 1_000, 10_000, 50_000]), st.integers(min_value=1, max_value=9_999))
def test_every_on_tick_price_round_trips_and_off_tick_is_refused(tick, k):
    price = k * tick
    if price >= units.ONE:
        return
    assert units.parse_price(units.dollars(price), tick) == price
    if tick > 100:
        with pytest.raises(InvalidRequest):
            units.parse_price(units.dollars(price + 100), tick)
