"""RFQs and quotes in the service (SQLite and PostgreSQL): a confirmed quote posts as one fill
through the order path (ledger, fees, positions, trade, fills, custody's outbox), refusals
write nothing, quotes lapse on the clock, and a restart keeps what executed."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from exchange import errors
from exchange.fees import ONE, taker_fee
from exchange.models import Fill, Order, Quote, Rfq, Trade
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService
from exchange.service import rfq as rfq_module

from .checks import check_ledger, check_outbox_gapless, funded_users, row_count

C = ONE
HOUR_MS = 3_600_000


def _market(svc, ticker="R"):
    svc.create_market(ticker, title="r", close_ms=int(time.time() * 1000) + HOUR_MS)
    return ticker


def test_confirmed_quote_posts_one_fill_through_the_ledger(svc):
    requester, maker = funded_users(svc, "requester", "maker")
    _market(svc)
    rfq_id = svc.create_rfq(requester.id, requester.id, "R", 10 * C, rest_remainder=False)
    quote_id = svc.create_quote(maker.id, maker.id, rfq_id, 400_000, 550_000, rest_remainder=False)
    svc.accept_quote(requester.id, quote_id, "yes")  # the maker buys YES at 0.40, the requester NO at 0.60
    trade_id = svc.confirm_quote(maker.id, quote_id)
    quote, rfq = svc.get_quote(requester.id, quote_id)
    assert (quote["status"], quote["trade_id"], rfq["status"]) == ("executed", trade_id, "closed")
    assert svc.positions(maker.id)[0].items[0].position == 10 * C
    assert svc.positions(requester.id)[0].items[0].position == -10 * C
    # Cash: the maker paid 4.00, the requester 6.00 and the taker fee (the
    # fills are priced at YES 0.40, as a CLOB match between the two would be).
    assert svc.balance(maker.id).cash == 1_000 * ONE - 4 * ONE  # the default schedule charges makers nothing
    assert svc.balance(requester.id).cash == 1_000 * ONE - 6 * ONE - taker_fee(10 * C, 400_000)
    with svc.db.reader.connect() as conn:
        trades = conn.execute(select(Trade.__table__)).mappings().all()
        fills = conn.execute(select(Fill.__table__).order_by(Fill.__table__.c.id)).mappings().all()
        orders = {r["order_id"]: r for r in conn.execute(select(Order.__table__)).mappings()}
    assert [(t["trade_id"], t["price"], t["count"], t["minted"]) for t in trades] == [(trade_id, 400_000, 10 * C, 10 * C)]
    assert sorted((f["user_id"], f["is_taker"], f["side"], f["book_side"]) for f in fills) == sorted(
        [(maker.id, False, "yes", "bid"), (requester.id, True, "no", "ask")])
    assert {o["status"] for o in orders.values()} == {"executed"}
    assert orders[quote["quote_order_id"]]["maker_fill_count"] == 10 * C
    assert orders[quote["rfq_order_id"]]["taker_fill_count"] == 10 * C
    assert svc.get_market("R").open_interest == 10 * C and svc.get_market("R").last_price == 400_000
    assert svc.orderbook("R").yes == [] and svc.orderbook("R").no == []  # never on the book
    check_ledger(svc)
    kinds = [k for _, k, _ in check_outbox_gapless(svc)["R"]]
    assert kinds == ["create_market", "custody_mint_set"]  # custody mints the new set, as for a CLOB match


def test_a_requester_sells_its_position_by_accepting_the_yes_bid(svc):
    requester, maker = funded_users(svc, "requester", "maker")
    _market(svc)
    # The requester holds 5 YES first (bought on the book from the maker).
    svc.place_order(maker.id, OrderRequest.legacy("R", "no", "buy", 5 * C, no_price=500_000))
    svc.place_order(requester.id, OrderRequest("R", "bid", 500_000, 5 * C))
    rfq_id = svc.create_rfq(requester.id, requester.id, "R", 5 * C, rest_remainder=False)
    quote_id = svc.create_quote(maker.id, maker.id, rfq_id, 550_000, 0, rest_remainder=False)
    with pytest.raises(errors.InvalidRequest):
        svc.accept_quote(requester.id, quote_id, "no")  # no NO bid on this quote
    svc.accept_quote(requester.id, quote_id, "yes")  # the maker buys YES at 0.55: the requester sells its YES
    svc.confirm_quote(maker.id, quote_id)
    assert svc.positions(requester.id)[0].items == []  # flat
    assert svc.positions(maker.id)[0].items == []  # its 5 NO came back: the set merged
    assert svc.get_market("R").open_interest == 0
    check_ledger(svc)
    kinds = [k for _, k, _ in check_outbox_gapless(svc)["R"]]
    assert kinds == ["create_market", "custody_mint_set", "custody_merge_set"]


def test_refusals_write_nothing(svc):
    requester, maker = funded_users(svc, "requester", "maker")
    (poor,) = funded_users(svc, "poor", cents=300)  # $3: cannot pay for 10 YES at 0.40
    _market(svc)
    rfq_id = svc.create_rfq(requester.id, requester.id, "R", 10 * C, rest_remainder=False)
    before = (row_count(svc, Rfq), row_count(svc, Quote), row_count(svc, Order), row_count(svc, Trade))
    cases = [
        (errors.InvalidRequest, lambda: svc.create_rfq(requester.id, requester.id, "R", 0, rest_remainder=False)),
        (errors.NotFound, lambda: svc.create_rfq(requester.id, requester.id, "NOPE", C, rest_remainder=False)),
        (errors.InvalidRequest, lambda: svc.create_quote(maker.id, maker.id, rfq_id, 0, 0, rest_remainder=False)),
        (errors.InvalidRequest, lambda: svc.create_quote(maker.id, maker.id, rfq_id, 405_000, 0, rest_remainder=False)),
        (errors.InvalidRequest, lambda: svc.create_quote(maker.id, maker.id, rfq_id, ONE, 0, rest_remainder=False)),
        (errors.InvalidRequest, lambda: svc.create_quote(requester.id, requester.id, rfq_id, 400_000, 0,
                                                         rest_remainder=False)),  # its own RFQ
        (errors.NotFound, lambda: svc.create_quote(maker.id, maker.id, "nope", 400_000, 0, rest_remainder=False)),
    ]
    for exc, call in cases:
        with pytest.raises(exc):
            call()
    assert (row_count(svc, Rfq), row_count(svc, Quote), row_count(svc, Order), row_count(svc, Trade)) == before
    # A maker that cannot pay: the confirm is refused and nothing moves; the quote stays accepted.
    quote_id = svc.create_quote(poor.id, poor.id, rfq_id, 400_000, 0, rest_remainder=False)
    svc.accept_quote(requester.id, quote_id, "yes")
    with pytest.raises(errors.InsufficientBalance):
        svc.confirm_quote(poor.id, quote_id)
    assert svc.get_quote(poor.id, quote_id)[0]["status"] == "accepted"
    assert row_count(svc, Trade) == 0 and row_count(svc, Order) == before[2] and row_count(svc, Fill) == 0
    assert svc.balance(poor.id).cash == 3 * ONE and svc.balance(requester.id).cash == 1_000 * ONE
    check_ledger(svc)


def test_roles_deletes_and_lapses(svc, monkeypatch):
    from exchange.service import clock

    now = {"ms": int(time.time() * 1000)}
    monkeypatch.setattr(clock, "wall_ms", lambda: now["ms"])
    requester, maker, stranger = funded_users(svc, "requester", "maker", "stranger")
    _market(svc)
    rfq_id = svc.create_rfq(requester.id, requester.id, "R", 2 * C, rest_remainder=False)
    quote_id = svc.create_quote(maker.id, maker.id, rfq_id, 400_000, 500_000, rest_remainder=False)
    with pytest.raises(errors.Forbidden):
        svc.accept_quote(maker.id, quote_id, "yes")  # only the RFQ's creator accepts
    with pytest.raises(errors.NotFound):
        svc.accept_quote(stranger.id, quote_id, "yes")  # a stranger does not even see it
    with pytest.raises(errors.InvalidRequest):
        svc.confirm_quote(maker.id, quote_id)  # not accepted yet
    svc.accept_quote(requester.id, quote_id, "yes")
    with pytest.raises(errors.Forbidden):
        svc.confirm_quote(requester.id, quote_id)  # only the quote's maker confirms
    # The confirmation window passes: the accepted quote lapses and is refused.
    now["ms"] += rfq_module.CONFIRM_WINDOW_MS
    with pytest.raises(errors.InvalidRequest) as err:
        svc.confirm_quote(maker.id, quote_id)
    assert err.value.code == "quote_expired"
    assert svc.get_quote(maker.id, quote_id)[0]["status"] == "cancelled"
    # An open quote lapses too.
    second = svc.create_quote(maker.id, maker.id, rfq_id, 400_000, 500_000, rest_remainder=False)
    now["ms"] += rfq_module.QUOTE_TTL_MS
    with pytest.raises(errors.InvalidRequest) as err:
        svc.accept_quote(requester.id, second, "yes")
    assert err.value.code == "quote_expired"
    # A deleted quote is refused; a new one replaces the maker's previous one.
    third = svc.create_quote(maker.id, maker.id, rfq_id, 400_000, 500_000, rest_remainder=False)
    fourth = svc.create_quote(maker.id, maker.id, rfq_id, 410_000, 500_000, rest_remainder=False)
    assert svc.get_quote(maker.id, third)[0]["cancellation_reason"] == "replaced"
    svc.delete_quote(maker.id, fourth)
    with pytest.raises(errors.InvalidRequest):
        svc.accept_quote(requester.id, fourth, "yes")
    # A deleted RFQ takes no quotes; only its creator deletes it.
    with pytest.raises(errors.NotFound):
        svc.delete_rfq(maker.id, rfq_id)
    svc.delete_rfq(requester.id, rfq_id)
    with pytest.raises(errors.InvalidRequest):
        svc.create_quote(maker.id, maker.id, rfq_id, 400_000, 500_000, rest_remainder=False)
    assert row_count(svc, Trade) == 0


def test_a_quote_on_a_market_that_stopped_trading_is_refused(svc):
    requester, maker = funded_users(svc, "requester", "maker")
    _market(svc)
    rfq_id = svc.create_rfq(requester.id, requester.id, "R", C, rest_remainder=False)
    quote_id = svc.create_quote(maker.id, maker.id, rfq_id, 400_000, 0, rest_remainder=False)
    svc.accept_quote(requester.id, quote_id, "yes")
    svc.halt("R")
    with pytest.raises(errors.MarketNotOpen):
        svc.create_quote(maker.id, maker.id, rfq_id, 400_000, 0, rest_remainder=False)
    with pytest.raises(errors.MarketNotOpen):
        svc.confirm_quote(maker.id, quote_id)
    assert row_count(svc, Trade) == 0


def test_restart_keeps_the_executed_quote(db_url):
    svc = ExchangeService(db_url)
    requester, maker = funded_users(svc, "requester", "maker")
    _market(svc)
    rfq_id = svc.create_rfq(requester.id, requester.id, "R", 3 * C, rest_remainder=False)
    quote_id = svc.create_quote(maker.id, maker.id, rfq_id, 300_000, 0, rest_remainder=False)
    svc.accept_quote(requester.id, quote_id, "yes")
    svc.confirm_quote(maker.id, quote_id)
    cash = svc.balance(maker.id).cash
    svc.close()
    again = ExchangeService(db_url)
    try:
        assert again.positions(maker.id)[0].items[0].position == 3 * C
        assert again.balance(maker.id).cash == cash
        assert again.orderbook("R").yes == []
        assert again.get_quote(maker.id, quote_id)[0]["status"] == "executed"
    finally:
        again.close()
