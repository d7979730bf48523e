"""Orders and the portfolio through the official SDK, unchanged: the V2 endpoints with the
SDK's methods, the legacy /portfolio/orders ones with the SDK's own ApiClient and models."""
from __future__ import annotations

import json

import pytest
from kalshi_python_async import ApiException
from kalshi_python_async.models import (
    AmendOrderRequest,
    BatchCancelOrdersRequest,
    BatchCreateOrdersRequest,
    CreateOrderRequest,
    CreateOrderV2Response,
    GetOrderResponse,
)

from tests.api.sdk import call

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}


async def bid(client, ticker, count, price, **kw):
    return await client.create_order_v2(ticker=ticker, side="bid", count=count, price=price, **{**GTC, **kw})


async def ask(client, ticker, count, price, **kw):
    return await client.create_order_v2(ticker=ticker, side="ask", count=count, price=price, **{**GTC, **kw})


async def test_v2_create_amend_decrease_cancel(make_trader, make_market):
    ticker = await make_market()
    t = await make_trader(cents=100_000)  # $1,000
    created = await bid(t.client, ticker, "10.00", "0.3000", client_order_id="my-1")
    assert isinstance(created, CreateOrderV2Response)
    assert (created.client_order_id, created.fill_count, created.remaining_count) == ("my-1", "0.00", "10.00")
    order = (await t.client.get_order(order_id=created.order_id)).order
    assert (order.status.value, order.book_side.value, order.yes_price_dollars, order.no_price_dollars) == \
        ("resting", "bid", "0.3000", "0.7000")
    assert order.user_id == str(t.user_id)
    # $3.00 (plus the worst-case taker fee) held by the resting bid.
    held = 100_000 - (await t.client.get_balance()).balance
    assert 300 <= held <= 320

    dec = await t.client.decrease_order_v2(order_id=created.order_id, reduce_by="4.00")
    assert (dec.order_id, dec.remaining_count) == (created.order_id, "6.00")
    dec = await t.client.decrease_order_v2(order_id=created.order_id, reduce_to="5.00")
    assert dec.remaining_count == "5.00"

    amended = await t.client.amend_order_v2(order_id=created.order_id, ticker=ticker, side="bid", price="0.3500",
                                            count="8.00", updated_client_order_id="my-2")
    assert amended.order_id != created.order_id and amended.remaining_count == "8.00"
    old = (await t.client.get_order(order_id=created.order_id)).order
    assert old.status.value == "canceled"
    new = (await t.client.get_order(order_id=amended.order_id)).order
    assert (new.yes_price_dollars, new.remaining_count_fp, new.client_order_id) == ("0.3500", "8.00", "my-2")

    cancelled = await t.client.cancel_order_v2(order_id=amended.order_id)
    assert (cancelled.order_id, cancelled.reduced_by) == (amended.order_id, "8.00")
    assert (await t.client.get_balance()).balance == 100_000
    with pytest.raises(ApiException) as err:
        await t.client.cancel_order_v2(order_id=amended.order_id)
    assert err.value.status == 400 and json.loads(err.value.body)["error"]["code"] == "order_not_resting"


async def test_v2_batches_cancel_all_and_queue_positions(make_trader, make_market):
    ticker = await make_market()
    a, b = await make_trader(), await make_trader()
    first = await bid(a.client, ticker, "2.00", "0.5000")
    batch = await b.client.batch_create_orders_v2(orders=[
        {"ticker": ticker, "side": "bid", "count": "3.00", "price": "0.5000", **GTC},
        {"ticker": ticker, "side": "bid", "count": "1.00", "price": "1.5000", **GTC},  # refused alone
        {"ticker": ticker, "side": "ask", "count": "4.00", "price": "0.6000", **GTC},
    ])
    ok_first, bad, ok_last = batch.orders
    assert ok_first.order_id and ok_first.remaining_count == "3.00" and ok_first.error is None
    assert bad.order_id is None and bad.error.code == "invalid_price"
    assert ok_last.order_id and ok_last.error is None

    queue = await b.client.get_order_queue_positions(market_tickers=ticker)
    positions = {q.order_id: q.queue_position_fp for q in queue.queue_positions}
    assert positions[ok_first.order_id] == "2.00"  # a's 2 contracts are ahead at 0.50
    one = await b.client.get_order_queue_position(order_id=ok_first.order_id)
    assert one.queue_position_fp == "2.00"
    # 3 at 0.50 held by b's resting bid (the ask holds nothing in cash terms beyond its NO cost).
    resting_value = await b.client.get_portfolio_resting_order_total_value()
    assert resting_value.total_resting_order_value >= 150

    cancelled = await b.client.batch_cancel_orders_v2(orders=[{"order_id": ok_first.order_id},
                                                              {"order_id": first.order_id}])  # not b's own
    assert cancelled.orders[0].reduced_by == "3.00" and cancelled.orders[0].error is None
    assert cancelled.orders[1].error.code == "order_not_found"
    await b.client.cancel_all_orders()
    assert (await b.client.get_orders(status="resting")).orders == []
    assert len((await a.client.get_orders(status="resting")).orders) == 1  # a's order untouched


async def test_matching_fills_positions_and_fees(make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    resting = await ask(maker.client, ticker, "10.00", "0.6000")  # sells YES at 0.60 (mint: maker buys NO)
    hit = await bid(taker.client, ticker, "4.00", "0.6500", time_in_force="immediate_or_cancel")
    assert (hit.fill_count, hit.remaining_count, hit.average_fill_price) == ("4.00", "0.00", "0.6000")

    fills = (await taker.client.get_fills(ticker=ticker)).fills
    assert len(fills) == 1 and fills[0].is_taker and fills[0].count_fp == "4.00" and fills[0].yes_price_dollars == "0.6000"
    maker_fills = (await maker.client.get_fills(order_id=resting.order_id)).fills
    assert len(maker_fills) == 1 and not maker_fills[0].is_taker and maker_fills[0].trade_id == fills[0].trade_id

    pos = await taker.client.get_positions()
    [mp] = pos.market_positions
    assert (mp.ticker, mp.position_fp, mp.market_exposure_dollars) == (ticker, "4.00", "2.4000")
    [ep] = pos.event_positions
    assert ep.event_ticker == ticker and ep.total_cost_shares_fp == "4.00"
    maker_pos = (await maker.client.get_positions(ticker=ticker)).market_positions
    assert maker_pos[0].position_fp == "-4.00"  # Kalshi sign: NO is negative
    # Kalshi's taker fee: ceil to the cent of 0.07 x 4 x 0.6 x 0.4 = $0.0672 -> $0.07.
    assert fills[0].fee_cost == "0.0700"
    order = (await taker.client.get_order(order_id=hit.order_id)).order
    assert order.status.value == "executed" and order.taker_fees_dollars == "0.0700"
    balance = await taker.client.get_balance()
    assert balance.balance == 1_000_000 - 240 - 7
    assert balance.balance_dollars == "9997.5300"


async def test_settlement_after_determine_and_finalize(operator, make_trader, make_market):
    ticker = await make_market()
    yes_holder, no_holder = await make_trader(), await make_trader()
    await ask(no_holder.client, ticker, "5.00", "0.3000")
    await bid(yes_holder.client, ticker, "5.00", "0.3000")
    r = await operator.post(f"/operator/markets/{ticker}/determine", json={"result": "yes"})
    assert r.status_code == 200 and r.json()["market"]["status"] == "determined", r.text
    r = await operator.post(f"/operator/markets/{ticker}/finalize")
    assert r.status_code == 200 and r.json()["market"]["result"] == "yes", r.text
    [s] = (await yes_holder.client.get_settlements()).settlements
    assert (s.ticker, s.market_result, s.yes_count_fp, s.revenue) == (ticker, "yes", "5.00", 500)
    [s] = (await no_holder.client.get_settlements(ticker=ticker)).settlements
    assert (s.market_result, s.no_count_fp, s.revenue) == ("yes", "5.00", 0)
    market = (await yes_holder.client.get_market(ticker=ticker)).market
    assert (market.status, market.result, market.settlement_value_dollars) == ("finalized", "yes", "1.0000")
    assert (await yes_holder.client.get_positions(ticker=ticker)).market_positions == []


async def test_legacy_orders_through_the_sdk_models(make_trader, make_market):
    ticker = await make_market()
    t, other = await make_trader(), await make_trader()
    create = lambda **kw: call(t.client, "POST", "/portfolio/orders", CreateOrderRequest(ticker=ticker, **kw),
                               {"201": "CreateOrderResponse"})
    # Cents, dollars and fixed-point counts, YES and NO prices.
    yes_bid = (await create(side="yes", action="buy", count=3, yes_price=40, client_order_id="leg-1")).order
    assert (yes_bid.book_side.value, yes_bid.yes_price_dollars, yes_bid.initial_count_fp) == ("bid", "0.4000", "3.00")
    no_bid = (await create(side="no", action="buy", count_fp="2.50", no_price_dollars="0.5500")).order
    assert (no_bid.book_side.value, no_bid.yes_price_dollars, no_bid.side, no_bid.outcome_side) == ("ask", "0.4500", "no", "no")

    got = await call(t.client, "GET", f"/portfolio/orders/{yes_bid.order_id}", types={"200": "GetOrderResponse"})
    assert isinstance(got, GetOrderResponse) and got.order.client_order_id == "leg-1"
    listed = await t.client.get_orders(ticker=ticker)
    assert {o.order_id for o in listed.orders} == {yes_bid.order_id, no_bid.order_id}

    amended = await call(t.client, "POST", f"/portfolio/orders/{yes_bid.order_id}/amend",
                         AmendOrderRequest(ticker=ticker, side="yes", action="buy", yes_price=41, count=3),
                         {"200": "AmendOrderResponse"})
    assert amended.old_order.status.value == "canceled" and amended.order.yes_price_dollars == "0.4100"
    decreased = await call(t.client, "POST", f"/portfolio/orders/{amended.order.order_id}/decrease", {"reduce_by": 1},
                           {"200": "GetOrderResponse"})
    assert decreased.order.remaining_count_fp == "2.00"

    batch = await call(t.client, "POST", "/portfolio/orders/batched", BatchCreateOrdersRequest(orders=[
        CreateOrderRequest(ticker=ticker, side="yes", action="buy", count=1, yes_price=10),
        CreateOrderRequest(ticker="NO-SUCH-MARKET", side="yes", action="buy", count=1, yes_price=10),
    ]), {"201": "BatchCreateOrdersResponse"})
    assert batch.orders[0].order.yes_price_dollars == "0.1000" and batch.orders[0].error is None
    assert batch.orders[1].order is None and batch.orders[1].error.code == "market_not_found"

    # Another user's order id is simply not found.
    with pytest.raises(ApiException) as err:
        await call(other.client, "DELETE", f"/portfolio/orders/{no_bid.order_id}", types={"200": None})
    assert err.value.status == 404

    cancelled = await call(t.client, "DELETE", "/portfolio/orders/batched",
                           BatchCancelOrdersRequest(ids=[batch.orders[0].order.order_id, no_bid.order_id]),
                           {"200": "BatchCancelOrdersResponse"})
    assert [c.reduced_by_fp for c in cancelled.orders] == ["1.00", "2.50"]
    response = await t.client.api_client.call_api(*t.client.api_client.param_serialize(
        method="DELETE", resource_path=f"/portfolio/orders/{amended.order.order_id}", auth_settings=[]))
    body = json.loads(await response.read())
    assert response.status == 200 and body["reduced_by_fp"] == "2.00" and body["order"]["status"] == "canceled"


async def test_legacy_market_order_and_buy_max_cost(make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    await ask(maker.client, ticker, "10.00", "0.5000")
    order = (await call(taker.client, "POST", "/portfolio/orders",
                        CreateOrderRequest(ticker=ticker, side="yes", action="buy", count=10, buy_max_cost=150),
                        {"201": "CreateOrderResponse"})).order
    # A market buy (no price) capped at $1.50 of cost buys what $1.50 buys at the maker's price
    # (3 at 50¢), not what it would buy at the market order's worst price, and rests nothing.
    assert order.type == "market" and order.status.value == "executed"
    assert (order.fill_count_fp, order.taker_fill_cost_dollars, order.remaining_count_fp) == ("3.00", "1.5000", "0.00")
    fills = (await taker.client.get_fills(order_id=order.order_id)).fills
    assert {f.yes_price_dollars for f in fills} == {"0.5000"}


async def test_order_groups(make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    created = await maker.client.create_order_group(contracts_limit=5)
    group_id = created.order_group_id
    first = await bid(maker.client, ticker, "4.00", "0.4000", order_group_id=group_id)
    second = await bid(maker.client, ticker, "4.00", "0.3900", order_group_id=group_id)
    group = await maker.client.get_order_group(order_group_id=group_id)
    assert sorted(group.orders) == sorted([first.order_id, second.order_id]) and group.contracts_limit_fp == "5.00"
    assert [g.id for g in (await maker.client.get_order_groups()).order_groups] == [group_id]
    # Fills of 5 reach the limit: new orders in the group are refused until it is reset.
    await ask(taker.client, ticker, "5.00", "0.3900", time_in_force="immediate_or_cancel")
    assert (await maker.client.get_order_group(order_group_id=group_id)).is_auto_cancel_enabled
    with pytest.raises(ApiException) as err:
        await bid(maker.client, ticker, "1.00", "0.3000", order_group_id=group_id)
    assert err.value.status == 400
    await maker.client.reset_order_group(order_group_id=group_id)
    # Trigger on demand: the group's orders are cancelled and new ones refused until a reset.
    doomed = await bid(maker.client, ticker, "1.00", "0.3000", order_group_id=group_id)
    await maker.client.trigger_order_group(order_group_id=group_id)
    assert (await maker.client.get_order(order_id=doomed.order_id)).order.status.value == "canceled"
    with pytest.raises(ApiException) as err:
        await bid(maker.client, ticker, "1.00", "0.3000", order_group_id=group_id)
    assert err.value.status == 400
    await maker.client.reset_order_group(order_group_id=group_id)
    # A new limit (fp or whole contracts): the 5 matched above are before the reset, so 2 is fine.
    await maker.client.update_order_group_limit(order_group_id=group_id, contracts_limit_fp="2.00")
    group = await maker.client.get_order_group(order_group_id=group_id)
    assert group.contracts_limit_fp == "2.00" and not group.is_auto_cancel_enabled
    with pytest.raises(ApiException) as err:
        await maker.client.update_order_group_limit(order_group_id=group_id, contracts_limit_fp="0.00")
    assert err.value.status == 400
    again = await bid(maker.client, ticker, "1.00", "0.3000", order_group_id=group_id)
    await maker.client.delete_order_group(order_group_id=group_id)
    assert (await maker.client.get_order(order_id=again.order_id)).order.status.value == "canceled"
    with pytest.raises(ApiException) as err:
        await maker.client.get_order_group(order_group_id=group_id)
    assert err.value.status == 404


async def test_order_group_limit_cancels_the_groups_resting_orders(make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    group_id = (await maker.client.create_order_group(contracts_limit=5)).order_group_id
    await bid(maker.client, ticker, "4.00", "0.4000", order_group_id=group_id)
    second = await bid(maker.client, ticker, "4.00", "0.3900", order_group_id=group_id)
    await ask(taker.client, ticker, "5.00", "0.3900", time_in_force="immediate_or_cancel")
    assert (await maker.client.get_order(order_id=second.order_id)).order.status.value == "canceled"


async def test_api_keys(server, make_trader):
    from tests.api.conftest import new_private_key, public_pem, sdk_client

    t = await make_trader(cents=0)
    key = new_private_key()
    created = await t.client.create_api_key(name="bot", public_key=public_pem(key))
    generated = await t.client.generate_api_key(name="generated")
    assert "PRIVATE KEY" in generated.private_key
    names = {k.api_key_id: k.name for k in (await t.client.get_api_keys()).api_keys}
    assert names[created.api_key_id] == "bot" and names[generated.api_key_id] == "generated" and len(names) == 3
    # The new key signs for the same user.
    async with sdk_client(server, created.api_key_id, key) as bot:
        assert (await bot.get_balance()).balance == 0
        await t.client.delete_api_key(api_key=created.api_key_id)
        with pytest.raises(ApiException) as err:
            await bot.get_balance()
        assert err.value.status == 401
