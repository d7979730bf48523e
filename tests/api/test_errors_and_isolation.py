"""Refusals: authentication, isolation between users, bad input (Kalshi's error shape, the
right status, nothing half-written), the operator role, halted markets, rate limits."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from kalshi_python_async import ApiException

from api.auth import sign
from tests.api.conftest import new_private_key, public_pem, sdk_client, start_server, unique

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
ORDERS = "/trade-api/v2/portfolio/events/orders"


def signed(trader, method: str, path: str, ts: int | None = None) -> dict:
    ts = int(time.time() * 1000) if ts is None else ts
    return {"KALSHI-ACCESS-KEY": trader.key_id, **sign(trader.private_key, ts, method, path)}


def assert_kalshi_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def error_of(exc: ApiException) -> dict:
    return json.loads(exc.body)["error"]


async def test_authentication_failures(server, make_trader):
    t = await make_trader()
    path = "/trade-api/v2/portfolio/balance"
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert_kalshi_error(await http.get(path), 401, "authentication_error")
        stale = signed(t, "GET", path, ts=int(time.time() * 1000) - 120_000)
        err = assert_kalshi_error(await http.get(path, headers=stale), 401)
        assert err["details"] == "stale timestamp"
        wrong_path = signed(t, "GET", "/trade-api/v2/portfolio/positions")
        assert_kalshi_error(await http.get(path, headers=wrong_path), 401)
        wrong_method = signed(t, "POST", path)
        assert_kalshi_error(await http.get(path, headers=wrong_method), 401)
        forged = {**signed(t, "GET", path), "KALSHI-ACCESS-SIGNATURE": signed(t, "GET", path + "x")["KALSHI-ACCESS-SIGNATURE"]}
        assert_kalshi_error(await http.get(path, headers=forged), 401)
        assert (await http.get(path, headers=signed(t, "GET", path))).json()["balance"] == 1_000_000
    # The SDK signed with a key the exchange does not know.
    async with sdk_client(server, "00000000-0000-0000-0000-000000000000", new_private_key()) as stranger:
        with pytest.raises(ApiException) as exc:
            await stranger.get_balance()
    assert exc.value.status == 401 and error_of(exc.value)["code"] == "authentication_error"


async def test_users_see_only_their_own_portfolio(make_trader, make_market):
    ticker = await make_market()
    alice, bob = await make_trader(), await make_trader()
    order = await alice.client.create_order_v2(ticker=ticker, side="bid", count="2.00", price="0.5000", **GTC)
    await bob.client.create_order_v2(ticker=ticker, side="ask", count="1.00", price="0.5000",
                                     time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
    for attempt in (lambda: bob.client.get_order(order_id=order.order_id),
                    lambda: bob.client.cancel_order_v2(order_id=order.order_id),
                    lambda: bob.client.decrease_order_v2(order_id=order.order_id, reduce_by="1.00"),
                    lambda: bob.client.amend_order_v2(order_id=order.order_id, ticker=ticker, side="bid",
                                                      price="0.4000", count="2.00")):
        with pytest.raises(ApiException) as exc:
            await attempt()
        assert exc.value.status == 404 and error_of(exc.value)["code"] == "order_not_found"
    assert (await alice.client.get_order(order_id=order.order_id)).order.remaining_count_fp == "1.00"
    alice_fills = (await alice.client.get_fills()).fills
    bob_fills = (await bob.client.get_fills()).fills
    assert {f.order_id for f in alice_fills} == {order.order_id}
    assert order.order_id not in {f.order_id for f in bob_fills}
    assert order.order_id not in {o.order_id for o in (await bob.client.get_orders()).orders}
    assert (await bob.client.get_positions()).market_positions[0].position_fp == "-1.00"
    assert (await alice.client.get_positions()).market_positions[0].position_fp == "1.00"
    await bob.client.cancel_all_orders()  # cancels nothing of alice's
    assert (await alice.client.get_order(order_id=order.order_id)).order.status.value == "resting"


async def test_bad_orders_are_refused_and_nothing_is_written(server, make_trader, make_market):
    ticker = await make_market()
    t = await make_trader(cents=1_000)  # $10
    before = (await t.client.get_balance()).balance
    cases = [
        ({"ticker": ticker, "side": "bid", "count": "1.00", "price": "0.555", **GTC}, 400, "invalid_price"),
        ({"ticker": ticker, "side": "bid", "count": "0.001", "price": "0.50", **GTC}, 400, "invalid_count"),
        ({"ticker": ticker, "side": "bid", "count": "1.00", "price": "1.00", **GTC}, 400, "invalid_price"),
        ({"ticker": ticker, "side": "bid", "count": "-1", "price": "0.50", **GTC}, 400, "invalid_count"),
        ({"ticker": ticker, "side": "bid", "count": "abc", "price": "0.50", **GTC}, 400, "invalid_parameters"),
        ({"ticker": ticker, "side": "buy", "count": "1", "price": "0.50", **GTC}, 400, "invalid_parameters"),
        ({"ticker": ticker, "side": "bid", "price": "0.50", **GTC}, 400, "invalid_parameters"),
        ({"ticker": ticker, "side": "bid", "count": "1", "price": "0.50", "time_in_force": "forever"}, 400,
         "invalid_parameters"),
        ({"ticker": "NO-SUCH", "side": "bid", "count": "1", "price": "0.50", **GTC}, 404, "market_not_found"),
        ({"ticker": ticker, "side": "bid", "count": "100.00", "price": "0.50", **GTC}, 400, "insufficient_balance"),
        ({"ticker": ticker, "side": "bid", "count": "1", "price": "0.50", "subaccount": 3, **GTC}, 404,
         "subaccount_not_found"),  # the user created none
        ({"ticker": ticker, "side": "bid", "count": "1", "price": "0.50", "subaccount": 64, **GTC}, 400,
         "invalid_parameters"),
        ({"ticker": ticker, "side": "bid", "count": "1", "price": "0.50", "client_order_id": "x" * 129, **GTC}, 400,
         "invalid_parameters"),
        ({"ticker": ticker, "side": "bid", "count": "1", "price": "0.50", "order_group_id": "no-such-group", **GTC},
         404, "order_group_not_found"),
    ]
    async with httpx.AsyncClient(base_url=server.base) as http:
        for body, status, code in cases:
            r = await http.post(ORDERS, json=body, headers=signed(t, "POST", ORDERS))
            assert_kalshi_error(r, status, code)
        r = await http.post(ORDERS, content=b"{not json", headers={**signed(t, "POST", ORDERS),
                                                                  "Content-Type": "application/json"})
        assert_kalshi_error(r, 400, "invalid_parameters")
        # A batch over 20 is refused whole, before anything is placed.
        batch = {"orders": [{"ticker": ticker, "side": "bid", "count": "0.01", "price": "0.01", **GTC}] * 21}
        path = ORDERS + "/batched"
        assert_kalshi_error(await http.post(path, json=batch, headers=signed(t, "POST", path)), 400, "invalid_parameters")
        legacy = "/trade-api/v2/portfolio/orders"
        bad_legacy = [{"ticker": ticker, "side": "yes", "action": "buy", "count": 1, "yes_price": 150},
                      {"ticker": ticker, "side": "yes", "action": "buy", "count": 1, "yes_price": 40, "no_price": 60},
                      {"ticker": ticker, "side": "maybe", "action": "buy", "count": 1, "yes_price": 40}]
        for body in bad_legacy:
            assert_kalshi_error(await http.post(legacy, json=body, headers=signed(t, "POST", legacy)), 400)
    assert (await t.client.get_balance()).balance == before
    assert (await t.client.get_orders()).orders == []
    book = await t.client.get_market_orderbook(ticker=ticker)
    assert book.orderbook_fp.yes_dollars == [] and book.orderbook_fp.no_dollars == []


async def test_out_of_range_values_are_400_and_store_nothing(server, operator, make_trader, make_market):
    """Numbers past what the ledger stores (64-bit integers) or what a timestamp can show (year
    9999) are refused at the edge: found by schemathesis as 500s, one of which had stored a
    market whose close time then failed every market listing."""
    ticker = await make_market()
    t = await make_trader(cents=1_000)
    huge = 10**30
    async with httpx.AsyncClient(base_url=server.base) as http:
        for path in (f"/trade-api/v2/markets?min_close_ts={huge}", f"/trade-api/v2/markets/trades?max_ts={huge}",
                     f"/trade-api/v2/portfolio/fills?min_ts={huge}", f"/trade-api/v2/portfolio/orders?max_ts={huge}",
                     "/trade-api/v2/markets?max_close_ts=-1", f"/trade-api/v2/portfolio/orders?cursor={huge}",
                     "/trade-api/v2/portfolio/orders?cursor=%C2%B2"):
            bare = path.split("?")[0]
            assert_kalshi_error(await http.get(path, headers=signed(t, "GET", bare)), 400, "invalid_parameters")
        bad_orders = [
            {"ticker": ticker, "side": "bid", "count": "1e30", "price": "0.50", **GTC},
            {"ticker": ticker, "side": "bid", "count": "1", "price": "1e999999999", **GTC},
            {"ticker": ticker, "side": "bid", "count": "1", "price": "0.50", "expiration_time": huge, **GTC},
        ]
        for body in bad_orders:
            assert_kalshi_error(await http.post(ORDERS, json=body, headers=signed(t, "POST", ORDERS)), 400,
                                "invalid_parameters")
        legacy = "/trade-api/v2/portfolio/orders"
        for extra in ({"count": huge}, {"count": 1, "buy_max_cost": huge}, {"count": 1, "sell_position_floor": huge}):
            body = {"ticker": ticker, "side": "yes", "action": "buy", "yes_price": 40, **extra}
            assert_kalshi_error(await http.post(legacy, json=body, headers=signed(t, "POST", legacy)), 400,
                                "invalid_parameters")
        groups = "/trade-api/v2/portfolio/order_groups/create"
        assert_kalshi_error(await http.post(groups, json={"contracts_limit": huge}, headers=signed(t, "POST", groups)),
                            400, "invalid_parameters")
    far = unique("FAR")
    for body in ({"ticker": far, "close_time": 10**15}, {"ticker": far, "close_time": "2099-01-01T00:00:00Z",
                                                         "fee_schedule_id": huge}):
        assert_kalshi_error(await operator.post("/operator/markets", json=body), 400, "invalid_parameters")
    for rates in ({"taker_rate": "1.5"}, {"taker_rate": "0.07", "maker_rebate": "-0.01"}):
        assert_kalshi_error(await operator.put(f"/operator/fee_schedules/{unique('FS')}", json=rates), 400,
                            "invalid_parameters")
    assert_kalshi_error(await operator.post(f"/operator/users/{huge}/fund", json={"cents": 1}), 404, "user_not_found")
    assert_kalshi_error(await operator.post("/operator/users/%C2%B2/fund", json={"cents": 1}), 404, "user_not_found")
    assert_kalshi_error(await operator.post(f"/operator/users/{t.user_id}/fund", json={"cents": huge}), 400,
                        "invalid_parameters")
    # Nothing was written: no market, no order, no cash; every listing still reads.
    markets = (await operator.get("/trade-api/v2/markets", params={"limit": 1000})).json()["markets"]
    assert far not in {m["ticker"] for m in markets} and ticker in {m["ticker"] for m in markets}
    assert (await t.client.get_balance()).balance == 1_000
    assert (await t.client.get_orders()).orders == []
    assert (await t.client.get_order_groups()).order_groups in (None, [])
    schedules = (await operator.get("/operator/fee_schedules")).json()["fee_schedules"]
    assert not any(s["name"].startswith("FS-") for s in schedules)


async def test_nul_bytes_never_fail_the_server(server, make_trader, make_market):
    """PostgreSQL text cannot hold NUL: such a value is a 400 there (SQLSTATE class 22, rolled
    back), and harmless on SQLite; on neither is it a 500, and a good order beside it stands."""
    ticker = await make_market()
    t = await make_trader()
    async with httpx.AsyncClient(base_url=server.base) as http:
        cancel = ORDERS + "/batched"
        r = await http.request("DELETE", cancel, json={"orders": [{"order_id": "a\x00b"}]},
                               headers=signed(t, "DELETE", cancel))
        assert r.status_code in (200, 400), r.text
        if r.status_code == 400:
            assert_kalshi_error(r, 400, "invalid_parameters")
        else:
            assert r.json()["orders"][0]["error"]["code"] == "order_not_found"
        bad = {"ticker": ticker, "side": "bid", "count": "1.00", "price": "0.10", "client_order_id": "x\x00y", **GTC}
        good = {"ticker": ticker, "side": "bid", "count": "1.00", "price": "0.11", **GTC}
        bad_r, good_r = await asyncio.gather(http.post(ORDERS, json=bad, headers=signed(t, "POST", ORDERS)),
                                             http.post(ORDERS, json=good, headers=signed(t, "POST", ORDERS)))
        assert bad_r.status_code in (201, 400), bad_r.text
        assert good_r.status_code == 201, good_r.text
    resting = {o.order_id for o in (await t.client.get_orders()).orders}
    assert good_r.json()["order_id"] in resting
    assert (bad_r.status_code == 201) == (len(resting) == 2)  # a refused order left nothing behind


async def test_read_only_key_cannot_trade(server, make_trader, make_market):
    ticker = await make_market()
    t = await make_trader()
    key = new_private_key()
    created = await t.client.create_api_key(name="viewer", public_key=public_pem(key), scopes=["read"])
    async with sdk_client(server, created.api_key_id, key) as viewer:
        assert (await viewer.get_balance()).balance == 1_000_000
        with pytest.raises(ApiException) as exc:
            await viewer.create_order_v2(ticker=ticker, side="bid", count="1.00", price="0.50", **GTC)
    assert exc.value.status == 403 and error_of(exc.value)["code"] == "forbidden"
    assert (await t.client.get_orders()).orders == []


async def test_operator_role(server, operator, make_trader):
    market = {"ticker": unique("OPS"), "close_time": "2099-01-01T00:00:00Z"}
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert_kalshi_error(await http.post("/operator/markets", json=market), 401)
        assert_kalshi_error(await http.post("/operator/markets", json=market,
                                            headers={"Authorization": "Bearer wrong"}), 401)
        # A signed request by an ordinary user is not an operator's.
        t = await make_trader(cents=0)
        assert_kalshi_error(await http.post("/operator/markets", json=market,
                                            headers=signed(t, "POST", "/operator/markets")), 403, "forbidden")
        # An operator user signs like anyone else.
        key = new_private_key()
        r = await operator.post("/operator/users", json={"name": unique("ops"), "kind": "operator",
                                                         "public_key": public_pem(key)})
        ops_key = r.json()["api_key_id"]
        headers = {"KALSHI-ACCESS-KEY": ops_key, **sign(key, int(time.time() * 1000), "POST", "/operator/markets")}
        assert (await http.post("/operator/markets", json=market, headers=headers)).status_code == 201
    assert_kalshi_error(await operator.post("/operator/markets", json=market), 409, "market_exists")
    assert_kalshi_error(await operator.post("/operator/markets", json={**market, "ticker": unique("X"),
                                                                       "close_time": "soon"}), 400)
    assert_kalshi_error(await operator.post("/operator/markets", json={"ticker": unique("X")}), 400,
                        "invalid_parameters")
    assert_kalshi_error(await operator.post("/operator/markets", json={**market, "ticker": unique("X"), "title": "t" * 501}),
                        400, "invalid_parameters")
    assert_kalshi_error(await operator.post("/operator/series", json={"ticker": unique("S"), "tags": ["a,b"]}), 400)
    assert_kalshi_error(await operator.post(f"/operator/markets/{market['ticker']}/determine",
                                            json={"yes_payout_dollars": "1.5"}), 400)
    assert_kalshi_error(await operator.post(f"/operator/markets/{market['ticker']}/finalize"), 400)
    assert_kalshi_error(await operator.post("/operator/users/999999/fund", json={"cents": 5}), 404)
    assert_kalshi_error(await operator.post("/operator/users/1/fund", json={"cents": 5, "amount_dollars": "1"}), 400)
    r = await operator.get("/trade-api/v2/markets", params={"tickers": market["ticker"]})
    assert r.json()["markets"][0]["status"] == "active"  # the refused lifecycle calls changed nothing


async def test_halt_resume_close_and_cash(operator, make_trader, make_market):
    ticker = await make_market()
    t = await make_trader(cents=10_000)
    resting = await t.client.create_order_v2(ticker=ticker, side="bid", count="1.00", price="0.20", **GTC)
    assert (await operator.post(f"/operator/markets/{ticker}/halt")).json()["market"]["status"] == "inactive"
    with pytest.raises(ApiException) as exc:
        await t.client.create_order_v2(ticker=ticker, side="bid", count="1.00", price="0.20", **GTC)
    assert exc.value.status == 400 and error_of(exc.value)["code"] == "trading_is_paused"
    assert (await operator.post(f"/operator/markets/{ticker}/resume")).json()["market"]["status"] == "active"
    await t.client.create_order_v2(ticker=ticker, side="bid", count="1.00", price="0.20", **GTC)
    closed = await operator.post(f"/operator/markets/{ticker}/close")
    assert closed.json()["market"]["status"] == "closed"
    assert (await t.client.get_order(order_id=resting.order_id)).order.status.value == "canceled"
    assert (await t.client.get_markets(tickers=ticker, status="closed")).markets[0].ticker == ticker

    r = await operator.post(f"/operator/users/{t.user_id}/debit", json={"amount_dollars": "25.50"})
    assert r.status_code == 200 and r.json()["balance"] == 10_000 - 2_550
    assert_kalshi_error(await operator.post(f"/operator/users/{t.name}/debit", json={"cents": 10_000}), 400,
                        "insufficient_balance")
    assert (await t.client.get_balance()).balance == 10_000 - 2_550


async def test_fee_schedules_and_builders(operator, make_trader, make_market):
    ticker = await make_market()
    name = unique("fees")
    r = await operator.put(f"/operator/fee_schedules/{name}", json={"taker_rate": "0.07", "maker_rate": "0.0175",
                                                                    "ticker": ticker})
    assert r.status_code == 200 and r.json()["fee_schedule"]["maker_rate"] == "0.0175", r.text
    code = unique("bld")
    assert (await operator.post("/operator/builders", json={"code": code, "share": "0.25"})).status_code == 201
    assert_kalshi_error(await operator.post("/operator/builders", json={"code": code, "share": "0.25"}), 409)
    maker, taker = await make_trader(), await make_trader()
    await maker.client.create_order_v2(ticker=ticker, side="ask", count="10.00", price="0.50", **GTC)
    async with httpx.AsyncClient(base_url=operator.base_url) as http:
        body = {"ticker": ticker, "side": "bid", "count": "10.00", "price": "0.50", "builder_code": code,
                "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross"}
        r = await http.post(ORDERS, json=body, headers=signed(taker, "POST", ORDERS))
        assert r.status_code == 201 and r.json()["fill_count"] == "10.00", r.text
    # Taker fee: ceil to the cent of 0.07 x 10 x 0.5 x 0.5 = $0.175 -> $0.18; maker fee 0.0175 -> $0.05.
    assert (await taker.client.get_fills(ticker=ticker)).fills[0].fee_cost == "0.1800"
    assert (await maker.client.get_fills(ticker=ticker)).fills[0].fee_cost == "0.0500"
    builders = {b["code"]: b for b in (await operator.get("/operator/builders")).json()["builders"]}
    assert builders[code]["balance_dollars"] == "0.0450"  # a quarter of the taker's $0.18


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("api-limited")
    srv = start_server(f"sqlite:///{home / 'tandem.db'}", home, TANDEM_API_RATE_READ="2", TANDEM_API_RATE_WRITE="1")
    yield srv
    srv.stop()


async def test_rate_limit_is_per_key_429(limited_server):
    from tests.api.conftest import OPERATOR_TOKEN

    async with httpx.AsyncClient(base_url=limited_server.base,
                                 headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}) as op:
        keys = []
        for _ in range(2):
            key = new_private_key()
            r = await op.post("/operator/users", json={"name": unique("rl"), "public_key": public_pem(key)})
            keys.append((r.json()["api_key_id"], key))
    path = "/trade-api/v2/portfolio/balance"
    async with httpx.AsyncClient(base_url=limited_server.base) as http:
        def h(k):
            return {"KALSHI-ACCESS-KEY": k[0], **sign(k[1], int(time.time() * 1000), "GET", path)}
        statuses = [(await http.get(path, headers=h(keys[0]))).status_code for _ in range(6)]
        assert statuses[:4] == [200] * 4 and 429 in statuses[4:]
        r = await http.get(path, headers=h(keys[0]))
        err = assert_kalshi_error(r, 429, "too_many_requests")
        assert int(r.headers["Retry-After"]) >= 1 and "rate limit" in err["message"]
        assert (await http.get(path, headers=h(keys[1]))).status_code == 200  # another key has its own bucket
