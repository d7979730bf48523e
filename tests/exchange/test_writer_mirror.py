"""The PostgreSQL writer's deferred writes and write-through mirror (exchange/db.py,
exchange/mirror.py, exchange/statements.py): a rolled-back command leaves the mirror equal to
the database, a balance another process changed is never committed on (the guard), and the
API's group commit runs such a command again on fresh reads. Both backends (SQLite has no
mirror: the same commands must leave it as consistent)."""
from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from api.group_commit import GroupCommit
from exchange import errors
from exchange import statements as Q
from exchange.fees import ONE
from exchange.mirror import StaleMirror
from exchange.models import LedgerAccount, LedgerBalance, Order
from exchange.models import ledger as L
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService

from tests.databases import BACKENDS, fresh_database
from tests.exchange.checks import check_ledger

C = ONE
CENT = ONE // 100
_balances, _accounts, _orders = LedgerBalance.__table__, LedgerAccount.__table__, Order.__table__


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path, "mirror") as url:
        yield url


def _setup(svc):
    a, b = svc.create_user("a"), svc.create_user("b")
    svc.fund(a.id, cents=100_00)
    svc.fund(b.id, cents=100_00)
    svc.create_market("M", close_ms=int(time.time() * 1000) + 3_600_000)
    return a.id, b.id


def _db_balances(svc) -> dict[tuple[int, str], int]:
    with svc.db.reader.connect() as conn:
        return {(a, s): v for a, s, v in conn.execute(select(_balances.c.account_id, _balances.c.asset, _balances.c.amount))}


def _cash(svc, user_id: int) -> int:
    with svc.db.reader.connect() as conn:
        account = conn.execute(select(_accounts.c.id).where(_accounts.c.kind == L.USER,
                                                           _accounts.c.ref == str(user_id))).scalar_one()
    return _db_balances(svc).get((account, L.CASH), 0)


def assert_mirror_matches_db(svc) -> None:
    """Every balance and order row the mirror holds is the database's (PostgreSQL); on both
    backends the service's balances are the database's."""
    db = _db_balances(svc)
    mirror = svc.db.mirror
    if mirror is not None:
        for key, amount in mirror.balances.items():
            assert db.get(key, 0) == amount, key
        with svc.db.reader.connect() as conn:
            for order_id, row in mirror.orders.items():
                stored = conn.execute(select(_orders).where(_orders.c.order_id == order_id)).mappings().one()
                assert {k: stored[k] for k in row} == row, order_id
                assert stored["status"] == "resting"
    for user_id in (1, 2):
        assert svc.balance(user_id).cash == _cash(svc, user_id)


@pytest.mark.parametrize("db_url", [BACKENDS[1]], indirect=True)  # the mirror is PostgreSQL's writer only
def test_postgres_mirror_is_warm_and_a_command_is_one_round_trip(svc):
    """What the mirror is for: after one order a user's holdings and resting orders come from
    it (no read), and they are what the database holds."""
    a, _b = _setup(svc)
    order, _ = svc.place_order(a, OrderRequest("M", "bid", 40 * CENT, 1 * C))
    svc.place_order(a, OrderRequest("M", "bid", 30 * CENT, 1 * C))
    assert svc.db.mirror is not None
    assert order.order_id in svc.db.mirror.orders
    assert len(svc.db.mirror.balances) >= 3  # cash, YES and NO of the user in M
    view, _ = svc.cancel_order(a, order.order_id)
    assert view.status == "canceled" and view.remaining_count == 0 and view.initial_count == 1 * C
    assert order.order_id not in svc.db.mirror.orders
    assert_mirror_matches_db(svc)


def test_a_failing_command_leaves_the_mirror_equal_to_the_database(svc, monkeypatch):
    a, b = _setup(svc)
    maker, _ = svc.place_order(a, OrderRequest("M", "bid", 40 * CENT, 2 * C))
    svc.place_order(b, OrderRequest("M", "bid", 10 * CENT, 1 * C))  # b's holdings in the mirror too
    assert_mirror_matches_db(svc)
    before = _db_balances(svc)

    # b's crossing ask moves both users' cash and positions and fills a's order, then fails
    # before its transaction commits.
    insert_order = Q.INSERT_ORDER.executemany

    def failing(conn, rows):
        insert_order(conn, rows)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Q.INSERT_ORDER, "executemany", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        svc.place_order(b, OrderRequest("M", "ask", 40 * CENT, 1 * C))
    monkeypatch.undo()

    assert _db_balances(svc) == before
    assert_mirror_matches_db(svc)
    # The same trade now commits, from what the mirror (or the database) says.
    _, fills = svc.place_order(b, OrderRequest("M", "ask", 40 * CENT, 1 * C))
    assert len(fills) == 1
    assert_mirror_matches_db(svc)
    again = ExchangeService(svc.db.url)
    try:
        assert again.get_order(a, maker.order_id).remaining_count == 1 * C
    finally:
        again.close()
    check_ledger(svc)


def test_a_group_rolled_back_leaves_the_mirror_equal_to_the_database(svc):
    a, b = _setup(svc)
    svc.place_order(a, OrderRequest("M", "bid", 40 * CENT, 2 * C))

    def boom():
        raise RuntimeError("not a refusal")

    results = svc.run_group([lambda: svc.place_order(b, OrderRequest("M", "ask", 40 * CENT, 1 * C)), boom,
                             lambda: svc.place_order(b, OrderRequest("M", "bid", 5 * CENT, 1 * C))])
    assert isinstance(results[1], RuntimeError)
    assert len(results[0][1]) == 1 and results[2][0].status == "resting"  # re-run alone, committed
    assert_mirror_matches_db(svc)
    check_ledger(svc)


def test_a_balance_changed_by_another_process_is_never_committed_on(db_url, svc):
    """Another service on the same database (as `tandem fund` is) debits a's cash behind the
    first one's mirror: an order the stale figure would allow but the database does not is
    refused, never committed; one it allows commits."""
    a, _b = _setup(svc)
    svc.place_order(a, OrderRequest("M", "bid", 10 * CENT, 1 * C))  # a's cash now mirrored
    other = ExchangeService(db_url, restore=False)
    try:
        other.debit(a, cents=95_00)  # $5 left, of which 10 cents held
    finally:
        other.close()
    order = OrderRequest("M", "bid", 50 * CENT, 10 * C)  # needs $5 + fees: more than is left
    if svc.db.mirror is not None:
        with pytest.raises(StaleMirror):  # a direct caller sees the rollback
            svc.place_order(a, order)
        assert not svc.db.mirror.balances  # dropped: the next read asks the database
    with pytest.raises(errors.InsufficientBalance):
        svc.place_order(a, OrderRequest("M", "bid", 50 * CENT, 10 * C))
    placed, _ = svc.place_order(a, OrderRequest("M", "bid", 20 * CENT, 1 * C))
    assert placed.status == "resting"
    assert_mirror_matches_db(svc)
    check_ledger(svc)


def test_group_commit_runs_a_command_again_on_fresh_balances(db_url, svc):
    """Through the API's group commit a stale mirror costs nothing visible: a lone order on
    stale cash that is now too low is refused, one refused on stale cash that is now enough
    is placed (the refusal's rollback made the mirror forget it, and the command ran again)."""
    a, _b = _setup(svc)

    async def main():
        gc = GroupCommit(svc)
        await gc.run(lambda: svc.place_order(a, OrderRequest("M", "bid", 10 * CENT, 1 * C)))
        other = ExchangeService(db_url, restore=False)
        try:
            other.debit(a, cents=95_00)
            with pytest.raises(errors.InsufficientBalance):
                await gc.run(lambda: svc.place_order(a, OrderRequest("M", "bid", 50 * CENT, 10 * C)))
            await gc.run(lambda: svc.place_order(a, OrderRequest("M", "bid", 10 * CENT, 1 * C)))  # mirrored: ~$4.80
            other.fund(a, cents=1_000_00)
        finally:
            other.close()
        placed, _ = await gc.run(lambda: svc.place_order(a, OrderRequest("M", "bid", 50 * CENT, 100 * C)))
        return placed

    placed = asyncio.run(main())
    assert placed.status == "resting" and placed.remaining_count == 100 * C
    assert_mirror_matches_db(svc)
    check_ledger(svc)


def test_an_order_written_behind_the_mirror_is_answered_by_the_database(svc):
    """decrease_order updates the row with a SQLAlchemy statement the mirror does not follow
    (initial_count shrinks): the cancel that follows must answer the row as stored."""
    a, _b = _setup(svc)
    order, _ = svc.place_order(a, OrderRequest("M", "bid", 40 * CENT, 3 * C))
    svc.decrease_order(a, order.order_id, reduce_by=1 * C)
    view, reduced = svc.cancel_order(a, order.order_id)
    assert reduced == 2 * C
    assert view.initial_count == 2 * C and view.status == "canceled" and view.remaining_count == 0
    assert_mirror_matches_db(svc)
