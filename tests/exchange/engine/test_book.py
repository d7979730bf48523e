"""Unit tests of the matching engine, one behaviour each (prices/counts in base units)."""
from __future__ import annotations

import pytest

from exchange.engine import Book

C = 1_000_000  # one contract
P = 10_000  # one cent
GTC, IOC, FOK = "good_till_canceled", "immediate_or_cancel", "fill_or_kill"


@pytest.fixture
def book() -> Book:
    return Book("T", tick=P, lot=C // 100)


def fills(r):
    return [f.astuple() for f in r.fills]


def test_good_till_canceled_rests_and_sets_top_levels_and_queue(book):
    assert book.submit("b1", 1, "bid", 40 * P, 2 * C).resting == 2 * C
    book.submit("b2", 2, "bid", 40 * P, 3 * C)
    book.submit("b3", 2, "bid", 39 * P, C)
    book.submit("a1", 3, "ask", 45 * P, C)
    assert book.top() == (40 * P, 5 * C, 45 * P, C)
    assert book.levels() == ([(40 * P, 5 * C), (39 * P, C)], [(45 * P, C)])
    assert book.levels(1) == ([(40 * P, 5 * C)], [(45 * P, C)])
    assert (book.queue_position("b1"), book.queue_position("b2"), book.queue_position("zz")) == (0, 2 * C, None)


def test_taker_fills_at_makers_prices_in_price_then_time_order(book):
    book.submit("a1", 1, "ask", 42 * P, C)
    book.submit("a2", 2, "ask", 41 * P, C)
    book.submit("a3", 3, "ask", 41 * P, C)
    r = book.submit("b", 9, "bid", 45 * P, 5 * C // 2)
    assert fills(r) == [("a2", 2, 41 * P, C), ("a3", 3, 41 * P, C), ("a1", 1, 42 * P, C // 2)]
    assert r.resting == 0 and book.levels() == ([], [(42 * P, C // 2)])


def test_immediate_or_cancel_fills_what_it_can_and_never_rests(book):
    book.submit("a1", 1, "ask", 50 * P, C)
    r = book.submit("b", 2, "bid", 50 * P, 3 * C, IOC)
    assert fills(r) == [("a1", 1, 50 * P, C)] and r.resting == 0 and r.cancel_reason == IOC
    assert book.levels() == ([], [])


def test_fill_or_kill_is_all_or_nothing(book):
    book.submit("a1", 1, "ask", 50 * P, C)
    book.submit("a2", 2, "ask", 51 * P, C)
    r = book.submit("b", 3, "bid", 51 * P, 3 * C, FOK)
    assert (fills(r), r.cancel_reason) == ([], FOK) and book.top()[2:] == (50 * P, C)
    r = book.submit("b2", 3, "bid", 51 * P, 2 * C, FOK)
    assert [f.count for f in r.fills] == [C, C] and r.cancel_reason is None and book.levels() == ([], [])


def test_fill_or_kill_counts_own_orders_as_stp_would(book):
    book.submit("own", 1, "ask", 50 * P, C)
    book.submit("a2", 2, "ask", 50 * P, C)
    assert book.submit("x", 1, "bid", 50 * P, C, FOK).cancel_reason == FOK  # taker_at_cross stops at its own
    r = book.submit("y", 1, "bid", 50 * P, C, FOK, stp="maker")  # maker mode skips (and cancels) its own
    assert fills(r) == [("a2", 2, 50 * P, C)] and r.cancelled_makers == ["own"]


def test_post_only_that_would_cross_is_rejected_and_changes_nothing(book):
    book.submit("a1", 1, "ask", 50 * P, C)
    before = book.levels()
    r = book.submit("b", 2, "bid", 50 * P, C, post_only=True)
    assert r.rejected and r.reject_code == "post_only_cross" and r.seq == 0 and book.levels() == before
    assert book.submit("b2", 2, "bid", 49 * P, C, post_only=True).resting == C


def test_stp_taker_at_cross_keeps_earlier_fills_and_cancels_the_rest(book):
    book.submit("a1", 2, "ask", 40 * P, C)
    book.submit("own", 1, "ask", 41 * P, C)
    book.submit("a3", 2, "ask", 42 * P, C)
    r = book.submit("b", 1, "bid", 42 * P, 3 * C)
    assert fills(r) == [("a1", 2, 40 * P, C)] and r.stp_cancelled_taker and r.cancel_reason == "self_trade"
    assert r.resting == 0 and book.has("own") and book.levels() == ([], [(41 * P, C), (42 * P, C)])


def test_stp_maker_cancels_own_resting_orders_and_matches_on(book):
    book.submit("own", 1, "ask", 40 * P, C)
    book.submit("a2", 2, "ask", 40 * P, C)
    r = book.submit("b", 1, "bid", 40 * P, 2 * C, stp="maker")
    assert r.cancelled_makers == ["own"] and fills(r) == [("a2", 2, 40 * P, C)] and r.resting == C
    assert not book.has("own") and book.top() == (40 * P, C, None, 0)


def test_expiration_is_an_input_makers_past_it_are_removed_first(book):
    book.submit("a1", 1, "ask", 40 * P, C, expiration_ms=1_000, now_ms=500)
    book.submit("a2", 2, "ask", 41 * P, C, expiration_ms=5_000, now_ms=500)
    r = book.submit("b", 3, "bid", 41 * P, C, now_ms=1_000)  # a1 expires exactly at 1_000
    assert r.expired_makers == ["a1"] and fills(r) == [("a2", 2, 41 * P, C)]
    book.submit("a3", 2, "ask", 45 * P, C, expiration_ms=6_000, now_ms=1_000)
    assert book.expiring(5_999) == [] and book.expiring(6_000) == [("a3", C)]
    assert len(book) == 1 and book.has("a3")  # a read: the caller cancels what it committed
    assert book.cancel("a3") == C and book.expiring(6_000) == [] and len(book) == 0
    late = book.submit("late", 1, "bid", 40 * P, C, expiration_ms=7_000, now_ms=7_000)
    assert late.cancel_reason == "expired" and late.resting == 0 and not book.has("late")


def test_cancelled_order_with_expiration_does_not_expire_again(book):
    book.submit("a", 1, "ask", 40 * P, C, expiration_ms=1_000)
    assert book.cancel("a") == C and book.cancel("a") is None
    assert book.expiring(2_000) == []


def test_decrease_keeps_priority(book):
    book.submit("b1", 1, "bid", 40 * P, 5 * C)
    book.submit("b2", 2, "bid", 40 * P, 5 * C)
    assert book.decrease("b1", 2 * C) == 3 * C and book.queue_position("b2") == 2 * C
    assert book.decrease("b1", C) == C and book.queue_position("b1") == 0 and book.queue_position("b2") == C
    assert book.top()[:2] == (40 * P, 6 * C)


def test_expiring_lists_due_orders_soonest_first_and_skips_ones_gone(book):
    book.submit("late", 1, "bid", 40 * P, C, expiration_ms=3_000)
    book.submit("soon", 2, "bid", 41 * P, 2 * C, expiration_ms=2_000)
    book.submit("gone", 3, "ask", 60 * P, C, expiration_ms=1_000)
    book.submit("never", 4, "ask", 61 * P, C)
    book.cancel("gone")
    assert book.expiring(999) == [] and book.expiring(2_500) == [("soon", 2 * C)]
    assert book.expiring(3_000) == [("soon", 2 * C), ("late", C)]
    book.decrease("late", C)  # what is left is what it reports
    assert len(book) == 3 and book.top() == (41 * P, 2 * C, 61 * P, C)  # nothing left the book


def test_bad_input_raises_and_changes_nothing(book):
    book.submit("b", 1, "bid", 40 * P, C)
    before = (book.levels(), len(book))
    for args in [("x", 1, "buy", 40 * P, C), ("x", 1, "bid", 40 * P + 1, C), ("x", 1, "bid", 40 * P, C + 1),
                 ("x", 1, "bid", 0, C), ("x", 1, "bid", 40 * P, 0), ("b", 1, "bid", 40 * P, C)]:
        with pytest.raises(ValueError):
            book.submit(*args)
    with pytest.raises(ValueError):
        book.submit("x", 1, "bid", 40 * P, C, "good_till_cancelled")
    with pytest.raises(ValueError):
        book.submit("x", 1, "bid", 40 * P, C, stp="both")
    with pytest.raises(ValueError):
        book.decrease("b", 2 * C)
    with pytest.raises(KeyError):
        book.decrease("nope", C)
    assert (book.levels(), len(book)) == before


def test_restore_keeps_priority_and_refuses_a_crossed_book():
    book = Book("T", P, C // 100)
    book.restore([("b2", 2, "bid", 40 * P, C, 7, "maker", False, None),
                  ("b1", 1, "bid", 40 * P, 2 * C, 3, "taker_at_cross", False, 9_000)])
    assert book.queue_position("b2") == 2 * C and book.submit("n", 5, "bid", 40 * P, C).seq == 8
    assert book.expiring(9_000) == [("b1", 2 * C)]
    with pytest.raises(ValueError, match="crossed"):
        Book("T", P, 1).restore([("b", 1, "bid", 50 * P, C, 1, "", False, None),
                                 ("a", 2, "ask", 50 * P, C, 2, "", False, None)])


def test_many_cancels_at_one_level_compact_its_queue(book):
    for i in range(200):
        book.submit(f"b{i}", i, "bid", 40 * P, C)
    for i in range(150):
        book.cancel(f"b{i}")
    level = book.order("b199").level
    assert len(level.orders) < 100 and level.size == 50 * C and book.queue_position("b199") == 49 * C
    r = book.submit("a", 999, "ask", 40 * P, 2 * C)
    assert [f.maker_order_id for f in r.fills] == ["b150", "b151"]


def test_preview_foretells_fills_without_changing_the_book(book):
    book.submit("a1", 1, "ask", 41 * P, C)
    book.submit("own", 9, "ask", 42 * P, C)
    book.submit("a2", 2, "ask", 42 * P, 2 * C, expiration_ms=1_000)
    book.submit("a3", 3, "ask", 43 * P, C)
    before = (book.levels(), len(book))
    # Expired makers are skipped; taker_at_cross stops at the taker's own order, maker skips it.
    assert book.preview("bid", 45 * P, 5 * C, 9, now_ms=2_000) == [(41 * P, C)]
    assert book.preview("bid", 45 * P, 5 * C, 9, "maker", now_ms=2_000) == [(41 * P, C), (43 * P, C)]
    assert book.preview("bid", 42 * P, 5 * C, 7, now_ms=0) == [(41 * P, C), (42 * P, C), (42 * P, 2 * C)]
    assert book.preview("ask", 10 * P, C, 7) == []
    assert (book.levels(), len(book)) == before
    r = book.submit("b", 7, "bid", 42 * P, 5 * C, IOC, now_ms=0)
    assert [(f.price, f.count) for f in r.fills] == [(41 * P, C), (42 * P, C), (42 * P, 2 * C)]
