"""exchange/ledger_queries.py on real databases (SQLite and PostgreSQL): the aggregates the
indexer reconciles with equal what the exchange's own views say."""
from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import text

from exchange import ledger_queries as LQ
from exchange import outbox as X
from exchange.outbox_reader import OutboxReader
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService
from tests.databases import BACKENDS, fresh_database

ONE = 1_000_000
CENT = 10_000


@pytest.fixture(params=BACKENDS)
def svc(request, tmp_path):
    with fresh_database(request.param, tmp_path, "lq") as url:
        service = ExchangeService(url)
        try:
            yield service
        finally:
            service.close()


def order(svc, uid, ticker, side, action, count, cents):
    req = OrderRequest.legacy(ticker, side, action, count * ONE, yes_price=cents * CENT if side == "yes" else None,
                              no_price=cents * CENT if side == "no" else None)
    return svc.place_order(uid, req)


def test_custodial_sums_progress_and_records(svc):
    ticker = "LQ-" + uuid.uuid4().hex[:8].upper()
    svc.create_market(ticker, title="lq", close_ms=int(time.time() * 1000) + 3_600_000)
    a, b = (svc.create_user(f"{n}-{uuid.uuid4().hex[:6]}").id for n in "ab")
    for uid in (a, b):
        svc.fund(uid, cents=10_000)
    wallet = svc.ensure_wallet("11111111111111111111111111111111").id  # not custodial: never summed
    svc.fund(wallet, cents=500)
    order(svc, a, ticker, "yes", "buy", 10, 60)
    order(svc, b, ticker, "no", "buy", 10, 40)  # a mint of 10 sets
    with LQ.snapshot(svc.db) as conn:
        totals = LQ.custodial_totals(conn)
        progress = LQ.stream_progress(conn)
        assert LQ.market_tickers(conn) == [ticker]
        recs = LQ.records(conn, ticker)
    assert totals.yes(ticker) == 10 * ONE and totals.no(ticker) == 10 * ONE
    cash = svc.balance(a).cash + svc.balance(b).cash
    assert totals.cash() == cash, "the wallet account's cash is not custodial"
    assert 2 * 100 * ONE - 10 * ONE - 2 * CENT * 10 < cash < 2 * 100 * ONE - 10 * ONE, "the sets' price and the taker fee paid"
    assert [r.kind for r in recs][0] == "create_market" and recs[-1].kind == "custody_mint_set"
    p = progress[ticker]
    assert (p.outbox_seq, p.applied_seq) == (recs[-1].seq, 0) and p.oldest_pending_ms == recs[0].created_ms
    assert progress[X.EXCHANGE_STREAM].outbox_seq == 2, "custody_fund for the two custodial users only"

    # incremental: the entries added since equal the difference of two full sums
    order(svc, a, ticker, "yes", "sell", 4, 70)
    order(svc, b, ticker, "no", "sell", 4, 30)  # a merge of 4
    with LQ.snapshot(svc.db) as conn:
        delta = LQ.custodial_deltas(conn, totals.last_entry_id)
        again = LQ.custodial_totals(conn)
    assert totals.plus(delta).by_asset == again.by_asset and again.yes(ticker) == 6 * ONE
    with LQ.snapshot(svc.db) as conn:
        assert LQ.custodial_deltas(conn, again.last_entry_id).by_asset == {}

    # the bridge's word: applied_seq and what is still pending
    reader = OutboxReader(svc)
    reader.mark_applied(ticker, [r.seq for r in recs], "sig", 7)
    with LQ.snapshot(svc.db) as conn:
        p = LQ.stream_progress(conn)[ticker]
        pending = LQ.not_applied(conn, ticker)
    assert p.applied_seq == recs[-1].seq == reader.applied_seq(ticker)
    assert [r.kind for r in pending] == ["custody_merge_set"] and p.oldest_pending_ms == pending[0].created_ms

    # for the proof of backing: per-user balances, and which streams the chain has not settled
    with LQ.snapshot(svc.db) as conn:
        balances = LQ.custodial_balances(conn)
        assert {u for u, _, _ in balances} == {a, b}
        assert sum(v for u, asset, v in balances if asset == f"YES:{ticker}") == 6 * ONE
        assert LQ.unsettled_streams(conn, 100) == {ticker, X.EXCHANGE_STREAM}
    reader.mark_applied(ticker, [pending[0].seq], "sig2", 8)
    reader.mark_applied(X.EXCHANGE_STREAM, [1, 2], "sig3", 9)
    reader.mark_finalized(ticker, [r.seq for r in recs] + [pending[0].seq])
    reader.mark_finalized(X.EXCHANGE_STREAM, [1, 2])
    with LQ.snapshot(svc.db) as conn:
        assert LQ.unsettled_streams(conn, 100) == set()
        assert LQ.unsettled_streams(conn, 8) == {X.EXCHANGE_STREAM}, "applied at slot 9, after 8"


def test_a_ledger_row_changed_behind_the_back_shows_in_the_full_sum(svc):
    """What the reconciliation's full pass catches: ledger_balances edited directly."""
    ticker = "LQ-" + uuid.uuid4().hex[:8].upper()
    svc.create_market(ticker, title="lq", close_ms=int(time.time() * 1000) + 3_600_000)
    a, b = (svc.create_user(f"{n}-{uuid.uuid4().hex[:6]}").id for n in "ab")
    for uid in (a, b):
        svc.fund(uid, cents=10_000)
    order(svc, a, ticker, "yes", "buy", 5, 50)
    order(svc, b, ticker, "no", "buy", 5, 50)
    with svc.db.writer.begin() as conn:
        conn.execute(text("UPDATE ledger_balances SET amount = amount + 7 WHERE asset = :a"), {"a": f"YES:{ticker}"})
    with LQ.snapshot(svc.db) as conn:
        assert LQ.custodial_totals(conn).yes(ticker) == 5 * ONE + 7
