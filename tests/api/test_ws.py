"""The WebSocket at /trade-api/ws/v2 with the `websockets` library: signed handshake,
subscribe / unsubscribe / update_subscription, orderbook snapshot then gapless deltas,
trades, tickers, private fills (only the owner's)."""
from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import pytest
import websockets

from api.auth import sign
from tests.api.conftest import new_private_key

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
WS_PATH = "/trade-api/ws/v2"


def ws_headers(trader) -> dict:
    return {"KALSHI-ACCESS-KEY": trader.key_id, **sign(trader.private_key, int(time.time() * 1000), "GET", WS_PATH)}


class Client:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0

    async def send(self, cmd: str, **params) -> int:
        self.next_id += 1
        await self.ws.send(json.dumps({"id": self.next_id, "cmd": cmd, "params": params}))
        return self.next_id

    async def recv(self, timeout: float = 5.0) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_type(self, *types: str, timeout: float = 5.0) -> dict:
        while True:
            msg = await self.recv(timeout)
            if msg["type"] in types:
                return msg

    async def quiet(self, seconds: float = 0.3) -> list[dict]:
        """Whatever arrives within `seconds` (expected: nothing)."""
        out = []
        try:
            while True:
                out.append(await self.recv(seconds))
        except asyncio.TimeoutError:
            return out


async def connect(server, trader=None) -> Client:
    headers = ws_headers(trader) if trader else None
    return Client(await websockets.connect(server.ws_url, additional_headers=headers))


def apply(book: dict, msg: dict) -> None:
    m = msg["msg"]
    levels = book[m["side"]]
    levels[m["price_dollars"]] = levels.get(m["price_dollars"], Decimal(0)) + Decimal(m["delta_fp"])
    if levels[m["price_dollars"]] == 0:
        del levels[m["price_dollars"]]


async def test_orderbook_snapshot_then_gapless_deltas(server, make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    await maker.client.create_order_v2(ticker=ticker, side="bid", count="3.00", price="0.4000", **GTC)
    c = await connect(server, maker)
    cmd = await c.send("subscribe", channels=["orderbook_delta"], market_ticker=ticker)
    ack = await c.recv()
    assert ack["type"] == "subscribed" and ack["id"] == cmd and ack["msg"]["channel"] == "orderbook_delta"
    sid = ack["msg"]["sid"]
    snap = await c.recv()
    assert snap["type"] == "orderbook_snapshot" and snap["sid"] == sid and snap["seq"] == 1
    assert snap["msg"]["market_ticker"] == ticker
    assert snap["msg"]["yes_dollars_fp"] == [["0.4000", "3.00"]] and snap["msg"]["no_dollars_fp"] == []
    book = {"yes": {p: Decimal(c_) for p, c_ in snap["msg"]["yes_dollars_fp"]},
            "no": {p: Decimal(c_) for p, c_ in snap["msg"]["no_dollars_fp"]}}

    ask = await maker.client.create_order_v2(ticker=ticker, side="ask", count="2.00", price="0.6000", **GTC)
    await taker.client.create_order_v2(ticker=ticker, side="ask", count="1.00", price="0.4000",
                                       time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
    await maker.client.cancel_order_v2(order_id=ask.order_id)
    seq = snap["seq"]
    for _ in range(3):
        msg = await c.recv_type("orderbook_delta")
        assert msg["sid"] == sid and msg["seq"] == seq + 1 and msg["msg"]["market_ticker"] == ticker
        seq = msg["seq"]
        apply(book, msg)
    # The local book built from snapshot + deltas is the REST book.
    rest = (await maker.client.get_market_orderbook(ticker=ticker)).orderbook_fp
    assert book["yes"] == {p: Decimal(c_) for p, c_ in rest.yes_dollars} == {"0.4000": Decimal("2.00")}
    assert book["no"] == {p: Decimal(c_) for p, c_ in rest.no_dollars} == {}
    await c.ws.close()


async def test_trades_tickers_and_private_fills(server, make_trader, make_market):
    ticker = await make_market()
    maker, taker, watcher = await make_trader(), await make_trader(), await make_trader()
    maker_ws, watcher_ws, public_ws = await connect(server, maker), await connect(server, watcher), await connect(server)
    await maker_ws.send("subscribe", channels=["fill"])
    await watcher_ws.send("subscribe", channels=["fill", "trade"], market_tickers=[ticker])
    await public_ws.send("subscribe", channels=["ticker", "trade"], market_ticker=ticker)
    for c, n in ((maker_ws, 1), (watcher_ws, 2), (public_ws, 2)):
        for _ in range(n):
            assert (await c.recv())["type"] == "subscribed"

    order = await maker.client.create_order_v2(ticker=ticker, side="ask", count="5.00", price="0.5500", **GTC)
    ticker_msg = await public_ws.recv_type("ticker")
    assert ticker_msg["msg"]["market_ticker"] == ticker and ticker_msg["msg"]["yes_ask_dollars"] == "0.5500"
    await taker.client.create_order_v2(ticker=ticker, side="bid", count="2.00", price="0.6000",
                                       time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
    fill = await maker_ws.recv_type("fill")
    assert fill["msg"]["order_id"] == order.order_id and fill["msg"]["count_fp"] == "2.00"
    assert fill["msg"]["yes_price_dollars"] == "0.5500" and fill["msg"]["is_taker"] is False
    trade = await public_ws.recv_type("trade")
    assert trade["msg"]["market_ticker"] == ticker and trade["msg"]["count_fp"] == "2.00"
    assert trade["msg"]["taker_side"] == "yes"
    assert (await watcher_ws.recv_type("trade"))["msg"]["trade_id"] == trade["msg"]["trade_id"]
    # The watcher subscribed to fills but made none: it sees no one else's.
    assert [m for m in await watcher_ws.quiet() if m["type"] == "fill"] == []
    for c in (maker_ws, watcher_ws, public_ws):
        await c.ws.close()


async def test_commands_unsubscribe_update_and_errors(server, make_trader, make_market):
    first, second = await make_market(), await make_market()
    t = await make_trader()
    c = await connect(server, t)
    await c.send("subscribe", channels=["orderbook_delta"], market_tickers=[first])
    sid = (await c.recv())["msg"]["sid"]
    assert (await c.recv())["type"] == "orderbook_snapshot"

    cmd = await c.send("update_subscription", sids=[sid], market_tickers=[second], action="add_markets")
    snap = await c.recv()
    assert snap["type"] == "orderbook_snapshot" and snap["msg"]["market_ticker"] == second
    ok = await c.recv()
    assert ok["type"] == "ok" and ok["id"] == cmd and sorted(ok["msg"]["market_tickers"]) == sorted([first, second])
    await t.client.create_order_v2(ticker=second, side="bid", count="1.00", price="0.1000", **GTC)
    delta = await c.recv_type("orderbook_delta")
    assert delta["msg"]["market_ticker"] == second and delta["seq"] == ok["seq"] + 1

    await c.send("update_subscription", sids=[sid], market_tickers=[second], action="delete_markets")
    assert (await c.recv())["type"] == "ok"
    await t.client.create_order_v2(ticker=second, side="bid", count="1.00", price="0.1100", **GTC)
    assert await c.quiet() == []

    listed_id = await c.send("list_subscriptions")
    listed = await c.recv()
    assert listed["id"] == listed_id and listed["msg"] == [{"channel": "orderbook_delta", "sid": sid}]
    cmd = await c.send("unsubscribe", sids=[sid])
    assert (await c.recv()) | {"seq": None} == {"id": cmd, "sid": sid, "seq": None, "type": "unsubscribed"}

    errors = [
        (("subscribe",), {"channels": ["nope"]}, 8),
        (("subscribe",), {}, 3),
        (("subscribe",), {"channels": ["orderbook_delta"]}, 11),
        (("subscribe",), {"channels": ["trade"], "market_tickers": ["NO-SUCH-MARKET"]}, 14),
        (("unsubscribe",), {"sids": [987654]}, 7),
        (("update_subscription",), {"sids": [1, 2], "action": "add_markets", "market_tickers": [first]}, 4),
        (("frobnicate",), {}, 5),
    ]
    for (name,), params, code in errors:
        cmd = await c.send(name, **params)
        msg = await c.recv()
        assert msg["type"] == "error" and msg["id"] == cmd, msg
        if name != "update_subscription":
            assert msg["msg"]["code"] == code, msg
    await c.ws.send("not json")
    assert (await c.recv())["msg"]["code"] == 1
    await c.ws.close()


async def test_handshake_auth(server, make_trader):
    t = await make_trader(cents=0)
    # Unsigned: public channels only.
    anon = await connect(server)
    await anon.send("subscribe", channels=["fill"])
    msg = await anon.recv()
    assert msg["type"] == "error" and msg["msg"]["code"] == 9
    await anon.ws.close()
    # A bad signature, a stale one or an unknown key: the handshake is refused with 401.
    bad = [{**ws_headers(t), "KALSHI-ACCESS-SIGNATURE": ws_headers(t)["KALSHI-ACCESS-SIGNATURE"][:-4] + "AAA="},
           {"KALSHI-ACCESS-KEY": t.key_id, **sign(t.private_key, int(time.time() * 1000) - 600_000, "GET", WS_PATH)},
           {"KALSHI-ACCESS-KEY": "unknown", **sign(new_private_key(), int(time.time() * 1000), "GET", WS_PATH)},
           {"KALSHI-ACCESS-KEY": t.key_id, **sign(t.private_key, int(time.time() * 1000), "GET", "/trade-api/v2")}]
    for headers in bad:
        with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
            await websockets.connect(server.ws_url, additional_headers=headers)
        assert exc.value.response.status_code == 401
        assert json.loads(exc.value.response.body)["error"]["code"] == "authentication_error"


async def test_user_orders_and_market_lifecycle(server, operator, make_trader, make_market):
    ticker = await make_market()
    t, other = await make_trader(), await make_trader()
    mine, theirs, public = await connect(server, t), await connect(server, other), await connect(server)
    await mine.send("subscribe", channels=["user_orders"])
    await theirs.send("subscribe", channels=["user_orders"])
    await public.send("subscribe", channels=["market_lifecycle_v2"], market_ticker=ticker)
    for c in (mine, theirs, public):
        assert (await c.recv())["type"] == "subscribed"
    order = await t.client.create_order_v2(ticker=ticker, side="bid", count="1.00", price="0.2500", **GTC)
    update = await mine.recv_type("user_order")
    assert update["msg"]["order_id"] == order.order_id and update["msg"]["status"] == "resting"
    assert update["msg"]["yes_price_dollars"] == "0.2500"
    assert [m for m in await theirs.quiet() if m["type"] == "user_order"] == []
    await t.client.cancel_order_v2(order_id=order.order_id)
    update = await mine.recv_type("user_order")
    assert update["msg"]["order_id"] == order.order_id and update["msg"]["status"] == "canceled"
    await operator.post(f"/operator/markets/{ticker}/halt")
    halted = await public.recv_type("market_lifecycle_v2")
    assert halted["msg"]["market_ticker"] == ticker and halted["msg"]["event_type"] == "deactivated"
    await operator.post(f"/operator/markets/{ticker}/determine", json={"result": "no"})
    kinds = []
    while "determined" not in kinds:
        kinds.append((await public.recv_type("market_lifecycle_v2"))["msg"]["event_type"])
    assert kinds == ["closed", "determined"]
    for c in (mine, theirs, public):
        await c.ws.close()
