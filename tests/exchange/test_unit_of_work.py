"""One unit of work: a write that rolls back leaves no ledger account behind in the service's
account cache (issue 9). Before the fix `fund` created the EXTERNAL account in a transaction
that rolled back, its id stayed cached, and on SQLite (ids are max(rowid)+1) the next account
created got that same id: the next deposit moved cash from a user to the same user."""
from __future__ import annotations

import pytest

from exchange.journal import Journal
from exchange.service import ExchangeService

from .checks import check_ledger


@pytest.fixture
def svc(db_url):
    service = ExchangeService(db_url)
    yield service
    service.close()


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
    import time

    later = int(time.time() * 1000) + 3_600_000

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(svc, "_write_outbox", boom)
    with pytest.raises(RuntimeError):
        svc.create_market("M", title="m", close_ms=later)
    monkeypatch.undo()
    carol = svc.create_user("carol")
    svc.fund(carol.id, cents=100)
    svc.create_market("M", title="m", close_ms=later)
    assert svc.balance(carol.id).cash == 100 * 10_000
    check_ledger(svc)


def test_the_book_sequence_counts_changes_whether_or_not_anyone_listens(svc):
    import time

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
