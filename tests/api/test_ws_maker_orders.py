"""`user_orders` hears of a resting (maker) order each time it fills, as Kalshi sends it: the
maker's connection gets its order with the new remaining and fill counts, the taker's its own."""
from __future__ import annotations

from tests.api.test_ws import GTC, connect


async def test_a_resting_order_that_fills_is_published_to_its_owner(server, make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    m, t = await connect(server, maker), await connect(server, taker)
    for c in (m, t):
        await c.send("subscribe", channels=["user_orders"])
        assert (await c.recv())["type"] == "subscribed"
    resting = await maker.client.create_order_v2(ticker=ticker, side="bid", count="5.00", price="0.4000", **GTC)
    placed = await m.recv_type("user_order")
    assert placed["msg"]["order_id"] == resting.order_id and placed["msg"]["remaining_count_fp"] == "5.00"

    # A partial fill: the maker's order is still resting with 3 left.
    await taker.client.create_order_v2(ticker=ticker, side="ask", count="2.00", price="0.4000", **GTC)
    update = await m.recv_type("user_order")
    assert update["msg"]["order_id"] == resting.order_id
    assert update["msg"]["status"] == "resting"
    assert update["msg"]["remaining_count_fp"] == "3.00" and update["msg"]["fill_count_fp"] == "2.00"
    assert update["msg"]["maker_fill_cost_dollars"] == "0.8000"
    # The taker hears of its own order only, never of the maker's.
    taker_updates = [x["msg"] for x in await t.quiet() if x["type"] == "user_order"]
    assert [u["order_id"] for u in taker_updates] and resting.order_id not in [u["order_id"] for u in taker_updates]

    # The rest fills: the maker's order is executed, nothing left.
    await taker.client.create_order_v2(ticker=ticker, side="ask", count="4.00", price="0.3500", **GTC)
    update = await m.recv_type("user_order")
    assert update["msg"]["order_id"] == resting.order_id
    assert update["msg"]["status"] == "executed"
    assert update["msg"]["remaining_count_fp"] == "0.00" and update["msg"]["fill_count_fp"] == "5.00"
    # The maker's connection hears nothing of the taker's orders.
    assert [x for x in await m.quiet() if x["type"] == "user_order"] == []
    for c in (m, t):
        await c.ws.close()
