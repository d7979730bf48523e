"""exchange/positions.py: Kalshi position arithmetic (pure, base units)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exchange.positions import account_fill, affordable, cash_value_floor
from exchange.units import HUNDREDTH, ONE

C = ONE  # one contract


def test_cash_value_rounds_down():
    assert cash_value_floor(400_000, 10 * C) == 4 * ONE
    assert cash_value_floor(333_333, 3 * HUNDREDTH) == 9_999  # 0.03 contract at $0.333333, a base unit lost


def test_open_reduce_and_flip_a_position():
    s = [0, 0, 0, 0]  # exposure, traded, realized pnl, fees
    account_fill(s, 0, "bid", 400_000, 10 * C)  # buy 10 YES at $0.40
    assert s == [4 * ONE, 4 * ONE, 0, 0]
    account_fill(s, 10 * C, "ask", 600_000, 4 * C)  # sell 4 of them at $0.60: +$0.80 on a $1.60 basis
    assert s == [2_400_000, 6_400_000, 800_000, 0]
    account_fill(s, 6 * C, "ask", 500_000, 10 * C)  # sell 10 at $0.50: close 6 (+$0.60), buy 4 NO at $0.50
    assert s == [2 * ONE, 11_400_000, 1_400_000, 0]


def test_affordable_walks_the_book_at_the_makers_prices():
    book = [(400_000, 5 * C), (500_000, 5 * C)]
    assert affordable(book, "bid", 3 * ONE, HUNDREDTH) == 7 * C  # 5 at $0.40, then $1 buys 2 at $0.50
    # Buying NO against bids, best (highest) first: 5 NO at $0.50, then $0.50 buys 0.83 at $0.60 (whole lots).
    assert affordable(book[::-1], "ask", 3 * ONE, HUNDREDTH) == 5 * C + 830_000


@given(st.lists(st.tuples(st.sampled_from(["bid", "ask"]), st.integers(1, 99), st.integers(1, 500)), max_size=40))
def test_exposure_is_never_negative_and_is_zero_when_flat(fills):
    s, pos = [0, 0, 0, 0], 0
    for side, cents, hundredths in fills:
        count = hundredths * HUNDREDTH
        account_fill(s, pos, side, cents * 10_000, count)
        pos += count if side == "bid" else -count
        assert s[0] >= 0
        if pos == 0:
            assert s[0] == 0
