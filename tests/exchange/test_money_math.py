"""The money math of the order path against brute force (hypothesis):

- `holds.market_hold` is an upper bound of what a user's resting orders in one market can
  still cost: over every order in which they may fill (whole, or split in halves and
  interleaved) and every fill price at or better than their limits, opening costs plus fees
  never exceed it; with orders of one side only, it is exactly the worst case.
- `journal.post_match` moves what a lot-by-lot simulation of Kalshi netting says: each lot
  of the bid first closes NO, each lot of the ask first closes YES; two closers merge a set,
  two openers mint one, a closer and an opener transfer. Positions, cash, sets and
  collateral all agree, and no holder ends with YES and NO at once.
"""
from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.fees import ONE, FeeRates, ceil_to_cent, fee_units
from exchange.holds import market_hold
from exchange.journal import Journal, post_match
from exchange.models import ledger as L

LOT = 10_000  # 0.01 contract
TICK = 100  # $0.0001: every price here times every lot count is a whole base unit

lots = st.integers(1, 4).map(lambda n: n * LOT * 25)  # 0.25 .. 1.00 contract
prices = st.integers(1, 99).map(lambda c: c * 10_000)
orders = st.lists(st.tuples(prices, lots), max_size=3)
positions = st.integers(-6, 6).map(lambda n: n * LOT * 25)
rates = st.sampled_from([FeeRates(0, 0, 0), FeeRates(), FeeRates(70_000, 17_500, 0)])


def _worst_outflow(position: int, fills: list[tuple[str, int, int, int]], rates: FeeRates) -> int:
    """Cash out when `fills` [(side, order index, limit, count)] happen in this order: each
    order's opening part at its worst fill price (at or better than its limit), plus its fee
    (rounded up to the cent once per order, as the service charges it)."""
    opening: dict[int, int] = {}
    count_of: dict[int, int] = {}
    side_of: dict[int, tuple[str, int]] = {}
    pos = position
    for side, i, limit, count in fills:
        if side == "bid":
            closing = min(count, max(0, -pos))
            pos += count
        else:
            closing = min(count, max(0, pos))
            pos -= count
        opening[i] = opening.get(i, 0) + count - closing
        count_of[i] = count_of.get(i, 0) + count
        side_of[i] = (side, limit)
    rate = max(rates.taker_rate_ppm, rates.maker_rate_ppm)
    total = 0
    for i, (side, limit) in side_of.items():
        # Fill prices at or better than the limit (a bid fills lower, an ask higher).
        candidates = range(TICK, limit + 1, max(TICK, limit // 7)) if side == "bid" else range(limit, ONE, max(TICK, (ONE - limit) // 7))
        worst = 0
        for q in [*candidates, limit]:
            unit = q if side == "bid" else ONE - q
            cost = unit * opening[i] // ONE
            fee = ceil_to_cent(fee_units(count_of[i], q, rate)) if rate else 0
            worst = max(worst, cost + fee)
        total += worst
    return total


def _fill_orders(bids, asks, halves: bool):
    chunks = []
    for side, book in (("bid", bids), ("ask", asks)):
        for i, (price, count) in enumerate(book):
            key = (side, i)
            parts = [count // 2, count - count // 2] if halves and count // 2 % LOT == 0 and count // 2 else [count]
            chunks.extend((side, key, price, part) for part in parts)
    return chunks


@settings(max_examples=150, deadline=None)
@given(positions, orders, orders, rates)
def test_market_hold_covers_every_fill_order_and_price(position, bids, asks, rates):
    hold = market_hold(position, bids, asks, rates)
    halves = len(bids) + len(asks) <= 3  # 6 chunks at most: 720 orders to try
    chunks = _fill_orders(bids, asks, halves)
    worst = max((_worst_outflow(position, list(p), rates) for p in itertools.permutations(chunks)), default=0)
    assert hold >= worst


@settings(max_examples=150, deadline=None)
@given(positions, orders, st.booleans())
def test_market_hold_of_one_side_is_exactly_the_worst_case(position, book, bid_side):
    zero = FeeRates(0, 0, 0)
    bids, asks = (book, []) if bid_side else ([], book)
    chunks = _fill_orders(bids, asks, halves=False)
    worst = max((_worst_outflow(position, list(p), zero) for p in itertools.permutations(chunks)), default=0)
    assert market_hold(position, bids, asks, zero) == worst


def _lot_by_lot(price, count, bid_pos, ask_pos):
    """Kalshi netting one lot at a time: (merged, minted, yes moved, no moved, bid cash, ask cash)."""
    merged = minted = yes_moved = no_moved = bid_cash = ask_cash = 0
    for _ in range(count // LOT):
        bid_closes, ask_closes = bid_pos < 0, ask_pos > 0
        if bid_closes and ask_closes:
            merged += LOT
        elif not bid_closes and not ask_closes:
            minted += LOT
        elif ask_closes:  # the ask's YES to the bid
            yes_moved += LOT
        else:  # the bid's NO to the ask
            no_moved += LOT
        bid_cash += (ONE - price) * LOT // ONE if bid_closes else -price * LOT // ONE
        ask_cash += price * LOT // ONE if ask_closes else -(ONE - price) * LOT // ONE
        bid_pos += LOT
        ask_pos -= LOT
    return merged, minted, yes_moved, no_moved, bid_cash, ask_cash, bid_pos, ask_pos


@settings(max_examples=300, deadline=None)
@given(prices, st.integers(1, 60).map(lambda n: n * LOT), st.integers(-60, 60).map(lambda n: n * LOT),
       st.integers(-60, 60).map(lambda n: n * LOT))
def test_post_match_moves_what_lot_by_lot_netting_says(price, count, bid_pos, ask_pos):
    BID, ASK, COLLATERAL, ISSUANCE = 1, 2, 3, 4
    j = Journal("j", 0)
    posting = post_match(j, "M", "t", price, count, BID, bid_pos, ASK, ask_pos, COLLATERAL, ISSUANCE)
    merged, minted, _yes, _no, bid_cash, ask_cash, bid_after, ask_after = _lot_by_lot(price, count, bid_pos, ask_pos)
    assert (posting.merged, posting.minted) == (merged, minted)
    assert (posting.bid_pos_after, posting.ask_pos_after) == (bid_after, ask_after)
    yes, no = L.yes_asset("M"), L.no_asset("M")
    # Journal deltas: holdings before (YES or NO, never both) plus the movements.
    held = {(BID, yes): max(bid_pos, 0), (BID, no): max(-bid_pos, 0), (ASK, yes): max(ask_pos, 0), (ASK, no): max(-ask_pos, 0)}
    after = {k: v + j.delta(*k) for k, v in held.items()}
    for account, pos in ((BID, bid_after), (ASK, ask_after)):
        assert after[(account, yes)] == max(pos, 0) and after[(account, no)] == max(-pos, 0)
        assert after[(account, yes)] == 0 or after[(account, no)] == 0
    assert j.delta(BID, L.CASH) == bid_cash and j.delta(ASK, L.CASH) == ask_cash
    assert j.delta(ISSUANCE, yes) == j.delta(ISSUANCE, no) == merged - minted  # sets outstanding: minus
    assert j.delta(COLLATERAL, L.CASH) == minted - merged  # one contract of collateral per set
    for asset in (yes, no, L.CASH):  # double entry: every asset sums to zero
        assert sum(j.delta(a, asset) for a in (BID, ASK, COLLATERAL, ISSUANCE)) == 0
