"""The WebSocket channels ticker_v2, market_positions and order_group_updates, driven by the
SDK's orders (and the operator's settlement) and read with `websockets`."""
from __future__ import annotations

from decimal import Decimal

from tests.api.test_ws import GTC, connect

IOC = {"time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross"}


async def subscribe(client, channel: str, **params) -> int:
    cmd = await client.send("subscribe", channels=[channel], **params)
    msg = await client.recv_type("subscribed", "error")
    assert msg["type"] == "subscribed" and msg["id"] == cmd, msg
    return msg["msg"]["sid"]


async def test_ticker_v2_sends_only_what_changed(server, make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    await maker.client.create_order_v2(ticker=ticker, side="bid", count="10.00", price="0.4000", **GTC)
    anonymous = await connect(server)  # a public channel
    try:
        sid = await subscribe(anonymous, "ticker_v2", market_tickers=[ticker])
        # A new best ask: only the top of book moved.
        await maker.client.create_order_v2(ticker=ticker, side="ask", count="6.00", price="0.4500", **GTC)
        msg = await anonymous.recv_type("ticker_v2")
        assert msg["sid"] == sid and msg["seq"] == 1
        body = msg["msg"]
        assert body["market_ticker"] == ticker
        assert (body["yes_bid_dollars"], body["yes_ask_dollars"], body["yes_ask_size_fp"]) == ("0.4000", "0.4500", "6.00")
        assert "price_dollars" not in body and "volume_delta_fp" not in body and "open_interest_delta_fp" not in body
        # A trade: the price, the top of book, the volume and open interest moved by exactly it.
        await taker.client.create_order_v2(ticker=ticker, side="bid", count="2.50", price="0.4500", **IOC)
        body = (await anonymous.recv_type("ticker_v2"))["msg"]
        assert body["price_dollars"] == "0.4500" and body["yes_ask_size_fp"] == "3.50"
        assert body["volume_delta_fp"] == "2.50" and body["open_interest_delta_fp"] == "2.50"  # a new set minted
        # Selling back into the bid: the maker's YES meets the taker's: 2.5 sets retired.
        await taker.client.create_order_v2(ticker=ticker, side="ask", count="2.50", price="0.4000", **IOC)
        body = (await anonymous.recv_type("ticker_v2"))["msg"]
        assert body["price_dollars"] == "0.4000" and body["volume_delta_fp"] == "2.50"
        market = (await taker.client.get_market(ticker=ticker)).market
        assert Decimal(market.open_interest_fp) == Decimal("2.50") + Decimal(body.get("open_interest_delta_fp", "0"))
        # Another market's changes are not this subscription's.
        other = await make_market()
        await maker.client.create_order_v2(ticker=other, side="bid", count="1.00", price="0.1000", **GTC)
        assert [m for m in await anonymous.quiet() if m["type"] == "ticker_v2"] == []
    finally:
        await anonymous.ws.close()


async def test_market_positions_follow_fills_and_settlement(server, operator, make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    client = await connect(server, taker)
    spy = await connect(server, maker)
    try:
        sid = await subscribe(client, "market_positions", market_tickers=[ticker])
        unauth = await connect(server)
        await unauth.send("subscribe", channels=["market_positions"])
        err = await unauth.recv_type("error")
        assert err["msg"]["code"] == 9  # authentication required
        await unauth.ws.close()

        await maker.client.create_order_v2(ticker=ticker, side="ask", count="5.00", price="0.3000", **GTC)
        await taker.client.create_order_v2(ticker=ticker, side="bid", count="3.00", price="0.3000", **IOC)
        msg = await client.recv_type("market_position")
        assert msg["sid"] == sid
        body = msg["msg"]
        assert (body["user_id"], body["market_ticker"], body["position_fp"], body["position"]) == \
            (str(taker.user_id), ticker, "3.00", 3)
        rest = (await taker.client.get_positions(ticker=ticker)).market_positions[0]
        assert body["position_cost_dollars"] == rest.market_exposure_dollars
        assert body["fees_paid_dollars"] == rest.fees_paid_dollars
        assert body["position_cost"] == int(Decimal(rest.market_exposure_dollars) * 10_000)  # centi-cents
        # The maker has no market_positions subscription: nothing for it.
        assert [m for m in await spy.quiet() if m["type"] == "market_position"] == []

        # Settlement pays the YES out: the position closes, the P&L is realized.
        for step, body_ in (("close", {}), ("determine", {"result": "yes"}), ("finalize", {})):
            r = await operator.post(f"/operator/markets/{ticker}/{step}", json=body_)
            assert r.status_code == 200, r.text
        body = (await client.recv_type("market_position"))["msg"]
        settled = (await taker.client.get_positions(ticker=ticker, settlement_status="settled")).market_positions[0]
        assert body["position_fp"] == settled.position_fp == "0.00"
        assert (body["realized_pnl_dollars"], body["position_cost_dollars"]) == \
            (settled.realized_pnl_dollars, settled.market_exposure_dollars)
    finally:
        await client.ws.close()
        await spy.ws.close()


async def test_order_group_updates(server, make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    client = await connect(server, maker)
    try:
        sid = await subscribe(client, "order_group_updates")
        created = await maker.client.create_order_group(contracts_limit=5)
        group_id = created.order_group_id

        async def event() -> dict:
            msg = await client.recv_type("order_group_updates")
            assert msg["sid"] == sid and msg["msg"]["order_group_id"] == group_id
            return msg

        first = await event()
        assert (first["msg"]["event_type"], first["msg"]["contracts_limit_fp"], first["seq"]) == ("created", "5.00", 1)
        await maker.client.create_order_v2(ticker=ticker, side="bid", count="4.00", price="0.4000",
                                           order_group_id=group_id, **GTC)
        await maker.client.create_order_v2(ticker=ticker, side="bid", count="4.00", price="0.3900",
                                           order_group_id=group_id, **GTC)
        # Fills reach the limit: the group triggers (once, though two of its orders changed).
        await taker.client.create_order_v2(ticker=ticker, side="ask", count="5.00", price="0.3900", **IOC)
        msg = await event()
        assert (msg["msg"]["event_type"], msg["seq"]) == ("triggered", 2)
        assert [m for m in await client.quiet() if m["type"] == "order_group_updates"] == []
        await maker.client.reset_order_group(order_group_id=group_id)
        assert (await event())["msg"]["event_type"] == "reset"
        await maker.client.update_order_group_limit(order_group_id=group_id, contracts_limit=7)
        msg = await event()
        assert (msg["msg"]["event_type"], msg["msg"]["contracts_limit_fp"]) == ("limit_updated", "7.00")
        await maker.client.trigger_order_group(order_group_id=group_id)
        assert (await event())["msg"]["event_type"] == "triggered"
        await maker.client.delete_order_group(order_group_id=group_id)
        assert (await event())["msg"]["event_type"] == "deleted"
        # Someone else's groups are not this user's.
        await taker.client.create_order_group(contracts_limit=1)
        assert [m for m in await client.quiet() if m["type"] == "order_group_updates"] == []
    finally:
        await client.ws.close()


async def test_multivariate_market_lifecycle_is_accepted_and_silent(server, make_market):
    client = await connect(server)
    try:
        await subscribe(client, "multivariate_market_lifecycle")
        await make_market()  # a (plain) market's lifecycle is market_lifecycle_v2's, not this channel's
        assert [m for m in await client.quiet() if m["type"] == "multivariate_market_lifecycle"] == []
    finally:
        await client.ws.close()


async def test_a_subaccounts_fills_and_positions_reach_the_parents_connection(server, operator, make_trader,
                                                                             make_market):
    import uuid

    ticker = await make_market()
    parent, seller = await make_trader(), await make_trader()
    assert (await parent.client.create_subaccount()).subaccount_number == 1
    await parent.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0,
                                                  to_subaccount=1, amount_cents=1_000)
    client = await connect(server, parent)
    try:
        await subscribe(client, "fill")
        await subscribe(client, "market_positions")
        await parent.client.create_order_v2(ticker=ticker, side="bid", count="2.00", price="0.4000", subaccount=1, **GTC)
        await seller.client.create_order_v2(ticker=ticker, side="ask", count="2.00", price="0.4000", **IOC)
        fill = (await client.recv_type("fill"))["msg"]
        assert (fill["market_ticker"], fill["count_fp"], fill["subaccount"]) == (ticker, "2.00", 1)
        position = (await client.recv_type("market_position"))["msg"]
        assert (position["user_id"], position["subaccount"], position["position_fp"]) == (str(parent.user_id), 1, "2.00")
        # Settlement: the subaccount's position closes, and the parent hears of it.
        for step, body in (("close", {}), ("determine", {"result": "no"}), ("finalize", {})):
            r = await operator.post(f"/operator/markets/{ticker}/{step}", json=body)
            assert r.status_code == 200, r.text
        settled = (await client.recv_type("market_position"))["msg"]
        assert (settled["subaccount"], settled["position_fp"]) == (1, "0.00")
    finally:
        await client.ws.close()
