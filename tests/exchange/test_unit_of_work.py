"""One unit of work: a write that rolls back leaves no ledger account behind in the service's
account cache (issue 9). Before the fix `fund` created the EXTERNAL account in a transaction
that rolled back, its id stayed cached, and on SQLite (ids are max(rowid)+1) the next account
created got that same id: the next deposit moved cash from a user to the same user."""
from __future__ import annotations

import time

import pytest

from exchange.journal import Journal

from .checks import check_ledger


def test_a_rolled_back_fund_leaves_no_cached_account(svc, monkeypatch):
    alice = svc.create_user("alice")

    def disk_full(self, conn):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Journal, "flush", disk_full)
    with pytest.raises(RuntimeError, match="disk full"):
        svc.fund(alice.id, cents=100)  # the first deposit ever: it creates the EXTERNAL account
    monkeypatch.undo()
    bob = svc.create_user("bob")  # on SQLite the rolled-back account's id is free again
    svc.fund(bob.id, cents=250)
    svc.fund(alice.id, cents=100)
    assert svc.balance(bob.id).cash == 250 * 10_000
    assert svc.balance(alice.id).cash == 100 * 10_000
    check_ledger(svc)


def test_a_refused_market_leaves_no_cached_account(svc, monkeypatch):
    """The same for every write: a market whose outbox write fails creates no accounts."""
    later = int(time.time() * 1000) + 3_600_000

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(svc.outbox, "write", boom)
    with pytest.raises(RuntimeError):
        svc.create_market("M", title="m", close_ms=later)
    monkeypatch.undo()
    carol = svc.create_user("carol")
    svc.fund(carol.id, cents=100)
    svc.create_market("M", title="m", close_ms=later)
    assert svc.balance(carol.id).cash == 100 * 10_000
    check_ledger(svc)


def test_the_book_sequence_counts_changes_whether_or_not_anyone_listens(svc):
    from exchange.schemas import BookDelta, OrderRequest

    alice = svc.create_user("alice")
    svc.fund(alice.id, cents=100_00)
    svc.create_market("S", title="s", close_ms=int(time.time() * 1000) + 3_600_000)
    for price in (100_000, 200_000):
        svc.place_order(alice.id, OrderRequest("S", "bid", price, 1_000_000))
    assert svc.orderbook("S").seq == 2  # nobody subscribed
    seen: list[BookDelta] = []
    svc.subscribe(lambda e: seen.append(e) if isinstance(e, BookDelta) else None)
    svc.place_order(alice.id, OrderRequest("S", "bid", 300_000, 1_000_000))
    assert [d.seq for d in seen] == [3] and svc.orderbook("S").seq == 3


def _book_seq_scenario(svc, ticker: str, maker: int, taker: int) -> None:
    """Every kind of book change: rest, fill, decrease, amend, cancel, expire, a group commit."""
    from exchange.schemas import OrderRequest

    C, P = 1_000_000, 10_000
    now = int(time.time() * 1000)
    svc.create_market(ticker, title=ticker, close_ms=now + 3_600_000)
    first = svc.place_order(maker, OrderRequest(ticker, "bid", 40 * P, 3 * C))[0].order_id
    svc.place_order(taker, OrderRequest(ticker, "ask", 40 * P, C))  # fills one
    svc.decrease_order(maker, first, reduce_by=C)
    svc.amend_order(maker, first, price=41 * P)  # a new order at the new price
    soon = svc.place_order(maker, OrderRequest(ticker, "bid", 30 * P, C, expiration_ms=now + 60_000))[0].order_id
    svc.place_order(maker, OrderRequest(ticker, "bid", 31 * P, C))
    svc.run_group([lambda: svc.place_order(maker, OrderRequest(ticker, "bid", 32 * P, C)),
                   lambda: svc.place_order(taker, OrderRequest(ticker, "ask", 50 * P, C))])
    svc.expire_orders(now + 61_000)
    assert svc.get_order(maker, soon).status == "canceled"
    svc.cancel_all(maker, ticker)


def test_book_seqs_are_the_same_with_and_without_subscribers(svc):
    """The same commands move two books' seqs alike whether or not anyone listens, and a
    subscriber sees every one of them, gapless from 1."""
    from exchange.schemas import BookDelta

    maker, taker = svc.create_user("maker"), svc.create_user("taker")
    for user in (maker, taker):
        svc.fund(user.id, cents=1_000_00)
    _book_seq_scenario(svc, "QUIET", maker.id, taker.id)
    seen: list[int] = []
    svc.subscribe(lambda e: seen.append(e.seq) if isinstance(e, BookDelta) and e.ticker == "HEARD" else None)
    _book_seq_scenario(svc, "HEARD", maker.id, taker.id)
    quiet, heard = svc.orderbook("QUIET").seq, svc.orderbook("HEARD").seq
    assert quiet == heard and seen == list(range(1, heard + 1)) and heard >= 10


def test_a_rolled_back_group_gives_back_the_book_seqs_it_took(svc):
    """A group that rolls back published nothing, so its book changes must not have used up seqs:
    the commands run again alone and subscribers see the seq go on from where it was."""
    from exchange.schemas import BookDelta, OrderRequest

    alice = svc.create_user("alice")
    svc.fund(alice.id, cents=100_00)
    svc.create_market("R", title="r", close_ms=int(time.time() * 1000) + 3_600_000)
    seen: list[int] = []
    svc.subscribe(lambda e: seen.append(e.seq) if isinstance(e, BookDelta) else None)

    def broken():
        raise RuntimeError("a bug in one command")

    results = svc.run_group([lambda: svc.place_order(alice.id, OrderRequest("R", "bid", 100_000, 1_000_000)), broken])
    assert isinstance(results[1], RuntimeError) and results[0][0].status == "resting"
    assert seen == [1] and svc.orderbook("R").seq == 1
