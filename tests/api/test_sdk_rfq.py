"""RFQs and quotes (Kalshi's communications API) through the official SDK, and the
`communications` WebSocket channel: create, quote, accept, confirm → both users' positions,
balances and fills; refusals in Kalshi's error shape that write nothing."""
from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from kalshi_python_async import ApiException

from tests.api.test_ws import connect


def _code(err) -> tuple[int, str]:
    return err.value.status, json.loads(err.value.body)["error"]["code"]


async def _cash(trader) -> Decimal:
    return Decimal((await trader.client.get_balance()).balance) / 100  # cents → dollars


async def test_rfq_quote_accept_confirm_trades_between_the_two(make_trader, make_market):
    ticker = await make_market()
    requester, maker = await make_trader(), await make_trader()
    before = await _cash(requester), await _cash(maker)
    rfq_id = (await requester.client.create_rfq(market_ticker=ticker, contracts_fp="10.00", rest_remainder=False)).id
    rfq = (await maker.client.get_rfq(rfq_id)).rfq
    assert (rfq.market_ticker, rfq.contracts_fp, rfq.status) == (ticker, "10.00", "open")
    assert rfq.creator_id == (await requester.client.get_communications_id()).communications_id
    assert rfq.creator_user_id is None  # private to its creator
    assert rfq_id in [r.id for r in (await maker.client.get_rfqs(market_ticker=ticker)).rfqs]

    quote_id = (await maker.client.create_quote(rfq_id=rfq_id, yes_bid="0.4000", no_bid="0.5500",
                                                rest_remainder=False)).id
    seen = (await requester.client.get_quotes(rfq_id=rfq_id)).quotes
    assert [(q.id, q.yes_bid_dollars, q.no_bid_dollars, q.status) for q in seen] == [(quote_id, "0.4000", "0.5500", "open")]
    await requester.client.accept_quote(quote_id, accepted_side="yes")
    assert (await maker.client.get_quote(quote_id)).quote.status == "accepted"
    await maker.client.confirm_quote(quote_id)

    quote = (await maker.client.get_quote(quote_id)).quote
    assert (quote.status, quote.accepted_side) == ("executed", "yes") and quote.creator_order_id
    assert (await requester.client.get_rfq(rfq_id)).rfq.status == "closed"
    # The maker bought 10 YES at 0.40, the requester 10 NO at 0.60 (a trade between them).
    maker_fills = (await maker.client.get_fills(ticker=ticker)).fills
    requester_fills = (await requester.client.get_fills(ticker=ticker)).fills
    assert [(f.side, f.action, f.is_taker, f.count_fp, f.yes_price_dollars) for f in maker_fills] == [
        ("yes", "buy", False, "10.00", "0.4000")]
    assert [(f.side, f.action, f.is_taker, f.count_fp, f.no_price_dollars) for f in requester_fills] == [
        ("no", "buy", True, "10.00", "0.6000")]
    assert maker_fills[0].trade_id == requester_fills[0].trade_id
    assert [t.trade_id for t in (await maker.client.get_trades(ticker=ticker)).trades] == [maker_fills[0].trade_id]
    positions = {t.name: (await t.client.get_positions(ticker=ticker)).market_positions for t in (requester, maker)}
    assert positions[maker.name][0].position_fp == "10.00"
    assert positions[requester.name][0].position_fp == "-10.00"
    fee = Decimal(requester_fills[0].fee_cost)
    assert fee > 0
    assert before[0] - await _cash(requester) == Decimal("6.00") + fee
    assert before[1] - await _cash(maker) == Decimal("4.00") + Decimal(maker_fills[0].fee_cost)


async def test_who_may_do_what_and_bad_input(make_trader, make_market, operator):
    ticker = await make_market()
    requester, maker, stranger = await make_trader(), await make_trader(), await make_trader()
    rfq_id = (await requester.client.create_rfq(market_ticker=ticker, contracts=2, rest_remainder=False)).id
    quote_id = (await maker.client.create_quote(rfq_id=rfq_id, yes_bid="0.40", no_bid="0.50", rest_remainder=False)).id
    refusals = [
        (maker.client.accept_quote(quote_id, accepted_side="yes"), (403, "forbidden")),  # only the RFQ's creator
        (stranger.client.accept_quote(quote_id, accepted_side="yes"), (404, "quote_not_found")),
        (stranger.client.get_quote(quote_id), (404, "quote_not_found")),  # quotes are private
        (maker.client.confirm_quote(quote_id), (400, "quote_not_accepted")),
        (requester.client.create_quote(rfq_id=rfq_id, yes_bid="0.40", no_bid="0", rest_remainder=False),
         (400, "self_quote")),
        (maker.client.create_quote(rfq_id=rfq_id, yes_bid="0.405", no_bid="0", rest_remainder=False), (400, "invalid_price")),
        (maker.client.create_quote(rfq_id=rfq_id, yes_bid="0", no_bid="0", rest_remainder=False), (400, "invalid_price")),
        (maker.client.create_quote(rfq_id=rfq_id, yes_bid="abc", no_bid="0", rest_remainder=False),
         (400, "invalid_parameters")),
        (requester.client.create_rfq(market_ticker=ticker, contracts_fp="1.00", contracts=2, rest_remainder=False),
         (400, "invalid_parameters")),
        (requester.client.create_rfq(market_ticker=ticker, target_cost_dollars="5.00", rest_remainder=False),
         (400, "invalid_parameters")),
        (requester.client.create_rfq(market_ticker="NO-SUCH-MARKET", contracts=1, rest_remainder=False),
         (404, "market_not_found")),
        (maker.client.delete_rfq(rfq_id), (404, "rfq_not_found")),  # only its creator closes it
    ]
    for call, expected in refusals:
        with pytest.raises(ApiException) as err:
            await call
        assert _code(err) == expected
    await requester.client.accept_quote(quote_id, accepted_side="no")
    with pytest.raises(ApiException) as err:
        await requester.client.confirm_quote(quote_id)  # only the quote's maker confirms
    assert _code(err) == (403, "forbidden")
    # A deleted quote is refused; so is a quote on a deleted RFQ.
    await maker.client.delete_quote(quote_id)
    with pytest.raises(ApiException) as err:
        await maker.client.confirm_quote(quote_id)
    assert _code(err) == (400, "quote_not_open")
    await requester.client.delete_rfq(rfq_id)
    with pytest.raises(ApiException) as err:
        await maker.client.create_quote(rfq_id=rfq_id, yes_bid="0.40", no_bid="0", rest_remainder=False)
    assert _code(err) == (400, "rfq_not_open")
    # A closed market takes no RFQ and no quote.
    second = (await requester.client.create_rfq(market_ticker=ticker, contracts=1, rest_remainder=False)).id
    r = await operator.post(f"/operator/markets/{ticker}/halt")
    assert r.status_code == 200, r.text
    for call in (maker.client.create_quote(rfq_id=second, yes_bid="0.40", no_bid="0", rest_remainder=False),
                 requester.client.create_rfq(market_ticker=ticker, contracts=1, rest_remainder=False)):
        with pytest.raises(ApiException) as err:
            await call
        assert _code(err) == (400, "market_closed")
    # Nothing traded.
    for t in (requester, maker):
        assert (await t.client.get_fills(ticker=ticker)).fills == []


async def test_communications_channel(server, make_trader, make_market):
    ticker = await make_market()
    requester, maker, stranger = await make_trader(), await make_trader(), await make_trader()
    conns = {t.name: await connect(server, t) for t in (requester, maker, stranger)}
    for c in conns.values():
        await c.send("subscribe", channels=["communications"])
        assert (await c.recv())["type"] == "subscribed"
    rfq_id = (await requester.client.create_rfq(market_ticker=ticker, contracts_fp="3.00", rest_remainder=False)).id
    for name in (maker.name, stranger.name):  # RFQs are broadcast to makers
        msg = await conns[name].recv_type("rfq_created")
        assert (msg["msg"]["id"], msg["msg"]["market_ticker"], msg["msg"]["contracts_fp"]) == (rfq_id, ticker, "3.00")
    quote_id = (await maker.client.create_quote(rfq_id=rfq_id, yes_bid="0.30", no_bid="0.60", rest_remainder=False)).id
    msg = await conns[requester.name].recv_type("quote_created")
    assert (msg["msg"]["quote_id"], msg["msg"]["yes_bid_dollars"], msg["msg"]["no_bid_dollars"]) == (quote_id, "0.3000", "0.6000")
    await requester.client.accept_quote(quote_id, accepted_side="no")
    msg = await conns[maker.name].recv_type("quote_accepted")
    assert (msg["msg"]["quote_id"], msg["msg"]["accepted_side"], msg["msg"]["contracts_accepted_fp"]) == (quote_id, "no", "3.00")
    await maker.client.confirm_quote(quote_id)
    executed = (await maker.client.get_quote(quote_id)).quote
    for t in (requester, maker):
        msg = await conns[t.name].recv_type("quote_executed")
        assert msg["msg"]["quote_id"] == quote_id and msg["msg"]["trade_id"]
        own = [o.order_id for o in (await t.client.get_orders(ticker=ticker)).orders]
        assert [msg["msg"]["order_id"]] == own  # its own order, executed
    assert executed.creator_order_id and executed.rfq_creator_order_id is None  # private to the requester
    heard = []  # the stranger, until the RFQ closed with the execution: nothing of the quote
    while not heard or heard[-1]["type"] != "rfq_deleted":
        heard.append(await conns[stranger.name].recv())
    assert heard[-1]["msg"]["id"] == rfq_id
    assert [m["type"] for m in heard + await conns[stranger.name].quiet() if m["type"].startswith("quote_")] == []
    # Accepting "no" at 0.60: the maker bought NO at 0.60, the requester YES at 0.40.
    fills = (await requester.client.get_fills(ticker=ticker)).fills
    assert [(f.side, f.yes_price_dollars, f.count_fp) for f in fills] == [("yes", "0.4000", "3.00")]
    for c in conns.values():
        await c.ws.close()


async def test_rfq_scoped_paths_and_subaccounts(make_trader, make_market):
    """The /rfqs/{rfq_id}/quotes/{quote_id} forms check the quote belongs to the RFQ; an RFQ and
    a quote made for subaccounts trade those subaccounts' cash and positions."""
    ticker = await make_market()
    requester, maker = await make_trader(cents=10_000), await make_trader(cents=10_000)
    for t in (requester, maker):
        assert (await t.client.create_subaccount()).subaccount_number == 1
        await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=1,
                                                 amount_cents=5_000)
    rfq_id = (await requester.client.create_rfq(market_ticker=ticker, contracts=4, rest_remainder=False,
                                                subaccount=1)).id
    other_rfq = (await requester.client.create_rfq(market_ticker=ticker, contracts=1, rest_remainder=False)).id
    quote_id = (await maker.client.create_quote(rfq_id=rfq_id, yes_bid="0.25", no_bid="0", rest_remainder=False,
                                                subaccount=1)).id
    mine = (await requester.client.get_rfqs(subaccount=1)).rfqs
    assert [r.id for r in mine] == [rfq_id] and mine[0].creator_subaccount == 1
    with pytest.raises(ApiException) as err:
        await requester.client.accept_rfq_quote(other_rfq, quote_id, accepted_side="yes")
    assert _code(err) == (404, "quote_not_found")
    assert (await maker.client.get_rfq_quote(rfq_id, quote_id)).quote.creator_subaccount == 1
    await requester.client.accept_rfq_quote(rfq_id, quote_id, accepted_side="yes")
    await maker.client.confirm_rfq_quote(rfq_id, quote_id)
    assert (await maker.client.get_rfq_quote(rfq_id, quote_id)).quote.status == "executed"
    assert (await maker.client.get_positions(subaccount=1, ticker=ticker)).market_positions[0].position_fp == "4.00"
    assert (await requester.client.get_positions(subaccount=1, ticker=ticker)).market_positions[0].position_fp == "-4.00"
    for t in (requester, maker):  # the primary accounts did not trade
        assert (await t.client.get_positions(ticker=ticker)).market_positions == []
        assert (await t.client.get_balance()).balance == 5_000
    assert (await maker.client.get_balance(subaccount=1)).balance == 5_000 - 100  # 4 YES at 0.25
