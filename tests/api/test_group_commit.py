"""Group commit (ExchangeService.run_group, api/group_commit.py): several order commands in
one transaction, nothing published or visible before the commit, refusals isolated, and a
failed group rolled back and re-run command by command with memory rebuilt from disk."""
from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from api.group_commit import GroupCommit
from exchange import errors
from exchange.fees import ONE
from exchange.models import Order
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService

from tests.databases import BACKENDS, fresh_database
from tests.exchange.checks import check_ledger, check_outbox_gapless


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path, "group") as url:
        yield url


C = ONE
CENT = ONE // 100


@pytest.fixture
def svc(db_url):
    service = ExchangeService(db_url)
    yield service
    service.close()


def _setup(svc, ticker: str):
    a, b, poor = (svc.create_user(n) for n in ("a", "b", "poor"))
    svc.fund(a.id, cents=1_000_00)
    svc.fund(b.id, cents=1_000_00)
    svc.fund(poor.id, cents=100)
    svc.create_market(ticker, close_ms=int(time.time() * 1000) + 3_600_000)
    return a, b, poor


def _committed_orders(svc) -> int:
    with svc.db.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(Order.__table__)).scalar_one()


def _assert_memory_matches_disk(svc, db_url, ticker):
    again = ExchangeService(db_url)
    try:
        mine, theirs = svc.orderbook(ticker), again.orderbook(ticker)
        assert (theirs.yes, theirs.no) == (mine.yes, mine.no)
    finally:
        again.close()
    check_ledger(svc)
    check_outbox_gapless(svc)


def test_a_group_commits_once_publishes_after_and_isolates_refusals(svc, db_url):
    a, b, poor = _setup(svc, "G")
    resting, _ = svc.place_order(a.id, OrderRequest("G", "bid", 20 * CENT, 5 * C))
    events: list = []
    svc.subscribe(events.append)
    before = _committed_orders(svc)
    seen_inside: list[tuple[int, int]] = []

    def peek():  # runs inside the group, before its commit
        seen_inside.append((len(events), _committed_orders(svc)))
        return "peeked"

    results = svc.run_group([
        lambda: svc.place_order(a.id, OrderRequest("G", "ask", 60 * CENT, 3 * C)),
        lambda: svc.place_order(poor.id, OrderRequest("G", "bid", 50 * CENT, 10 * C)),  # refused: $1 of cash
        lambda: svc.place_order(b.id, OrderRequest("G", "bid", 60 * CENT, 2 * C)),  # crosses the first one
        lambda: svc.cancel_order(a.id, resting.order_id),
        lambda: svc.batch_cancel(a.id, [resting.order_id, "no-such-order"]),  # already cancelled in this group
        peek,
    ])
    assert seen_inside == [(0, before)]  # nothing published, nothing committed until the group commits
    ask, fills_ask = results[0]
    assert isinstance(results[1], errors.InsufficientBalance)
    bid, fills = results[2]
    assert bid.status == "executed" and sum(f.count for f in fills) == 2 * C and fills[0].price == 60 * CENT
    cancelled, reduced = results[3]
    assert cancelled.status == "canceled" and reduced == 5 * C
    assert [type(r) for r in results[4]] == [errors.InvalidRequest, errors.NotFound]
    assert results[5] == "peeked"
    assert _committed_orders(svc) == before + 2
    assert any(type(e).__name__ == "TradeEvent" for e in events)
    assert svc.orderbook("G").no == [(40 * CENT, 1 * C)]  # the ask's rest, as a NO bid at 40¢
    _assert_memory_matches_disk(svc, db_url, "G")


def test_a_failed_group_rolls_back_and_runs_each_command_alone(svc, db_url, monkeypatch):
    a, b, _poor = _setup(svc, "F")
    svc.place_order(a.id, OrderRequest("F", "ask", 55 * CENT, 4 * C))
    before = _committed_orders(svc)
    calls = {"n": 0}
    write_outbox = svc.outbox.write

    def fail_first(*args, **kwargs):  # the disk fails once, inside the group
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return write_outbox(*args, **kwargs)

    monkeypatch.setattr(svc.outbox, "write", fail_first)

    def broken():
        raise RuntimeError("a bug in one command")

    results = svc.run_group([
        lambda: svc.place_order(b.id, OrderRequest("F", "bid", 10 * CENT, 1 * C)),  # rests; rolled back, then re-run
        lambda: svc.place_order(b.id, OrderRequest("F", "bid", 55 * CENT, 3 * C)),  # fills: its outbox write fails
        broken,
    ])
    assert calls["n"] >= 2
    first, _ = results[0]
    second, fills = results[1]
    assert isinstance(results[2], RuntimeError)
    assert first.status == "resting" and second.status == "executed" and sum(f.count for f in fills) == 3 * C
    # Each order once: the rolled-back attempts left nothing, in the database or in the book.
    assert _committed_orders(svc) == before + 2
    assert svc.orderbook("F").yes == [(10 * CENT, 1 * C)]
    assert svc.orderbook("F").no == [(45 * CENT, 1 * C)]
    _assert_memory_matches_disk(svc, db_url, "F")


def test_group_commit_groups_what_arrives_in_one_loop_turn(svc, db_url, monkeypatch):
    a, b, _poor = _setup(svc, "L")
    groups: list[int] = []
    run_group = svc.run_group

    def counting(commands):
        groups.append(len(commands))
        return run_group(commands)

    monkeypatch.setattr(svc, "run_group", counting)

    async def main():
        gc = GroupCommit(svc)
        places = [gc.run(lambda i=i: svc.place_order((a, b)[i % 2].id,
                                                      OrderRequest("L", "bid", (1 + i % 30) * CENT, 1 * C)))
                  for i in range(40)]
        placed = await asyncio.gather(*places)
        lone = await gc.run(lambda: svc.place_order(a.id, OrderRequest("L", "bid", 31 * CENT, 1 * C)))
        with pytest.raises(errors.NotFound):
            await gc.run(lambda: svc.cancel_order(a.id, "no-such-order"))
        cancels = await asyncio.gather(*(gc.run(lambda o=o: svc.cancel_order(o.user_id, o.order_id)) for o, _ in placed))
        return placed, lone, cancels

    placed, lone, cancels = asyncio.run(main())
    assert groups == [40, 1, 1, 40]
    assert all(o.status == "resting" for o, _ in placed) and lone[0].status == "resting"
    assert all(view.status == "canceled" and reduced == 1 * C for view, reduced in cancels)
    assert svc.orderbook("L").yes == [(31 * CENT, 1 * C)]
    _assert_memory_matches_disk(svc, db_url, "L")
