"""api/fast_lane.py serves the hottest order routes itself; FastAPI still serves the same
routes for any request the lane passes on (a query string, say). Both ways must answer the
same: same statuses, same bodies, same refusals."""
from __future__ import annotations

import time

import httpx
import pytest

from api.auth import sign
from api.fast_lane import FastLane
from tests.api.conftest import OPERATOR_TOKEN, new_private_key, public_pem

ORDERS = "/trade-api/v2/portfolio/events/orders"
CANCEL = ORDERS + "/batched"  # POST: batched create, DELETE: batched cancel
LEGACY = "/trade-api/v2/portfolio/orders"
GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
VOLATILE = {"order_id", "ts_ms", "created_time", "last_update_time", "queue_position", "queue_position_fp"}  # per order


def _signed(trader, method: str, path: str) -> dict:
    return {"KALSHI-ACCESS-KEY": trader.key_id, **sign(trader.private_key, int(time.time() * 1000), method, path)}


def _stable(body):
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


async def test_the_lane_and_fastapi_answer_alike(server, make_trader, make_market):
    ticker = await make_market()
    t = await make_trader(cents=1_000)
    good = {"ticker": ticker, "side": "bid", "count": "1.00", "price": "0.10", **GTC}
    cases = [
        ("POST", ORDERS, good),
        ("POST", ORDERS, {**good, "price": "0.555"}),  # off tick
        ("POST", ORDERS, {**good, "count": "1e30"}),  # out of range
        ("POST", ORDERS, {k: v for k, v in good.items() if k != "count"}),  # missing field
        ("POST", ORDERS, {**good, "count": "1000.00"}),  # more than the cash
        ("POST", ORDERS, {**good, "ticker": "NO-SUCH"}),
        ("DELETE", CANCEL, {"orders": [{"order_id": "no-such-order"}]}),
        ("DELETE", CANCEL, {"orders": []}),
        ("POST", CANCEL, {"orders": [good, {**good, "price": "0.555"}, {**good, "count": "abc"}]}),
        ("POST", CANCEL, {"orders": [good] * 21}),  # over Kalshi's 20
        ("POST", LEGACY, {"ticker": ticker, "side": "yes", "action": "buy", "count": 1, "yes_price": 10}),
        ("POST", LEGACY, {"ticker": ticker, "side": "yes", "action": "buy", "count": 1, "yes_price": 150}),
        ("POST", LEGACY, {"ticker": ticker, "side": "no", "action": "buy", "count_fp": "1.00", "no_price_dollars": "0.90"}),
    ]
    async with httpx.AsyncClient(base_url=server.base) as http:
        for method, path, body in cases:
            # "?via=fastapi": the lane passes any request with a query string on to FastAPI.
            lane = await http.request(method, path, json=body, headers=_signed(t, method, path))
            api = await http.request(method, path + "?via=fastapi", json=body, headers=_signed(t, method, path))
            assert (lane.status_code, _stable(lane.json())) == (api.status_code, _stable(api.json())), (path, body)
        # Bodies that are not JSON, and requests that are not signed: the same refusals.
        for kwargs in ({"content": b"{not json", "headers": {**_signed(t, "POST", ORDERS), "Content-Type": "application/json"}},
                       {"json": good}):
            lane = await http.post(ORDERS, **kwargs)
            api = await http.post(ORDERS + "?via=fastapi", **kwargs)
            assert lane.status_code == api.status_code and lane.json()["error"]["code"] == api.json()["error"]["code"]
        # Orders placed either way are one book: the lane cancels what FastAPI placed, and back.
        placed = (await http.post(ORDERS + "?via=fastapi", json=good, headers=_signed(t, "POST", ORDERS))).json()
        r = await http.request("DELETE", CANCEL, json={"orders": [{"order_id": placed["order_id"]}]},
                               headers=_signed(t, "DELETE", CANCEL))
        assert r.status_code == 200 and r.json()["orders"][0]["reduced_by"] == "1.00"
    assert (await t.client.get_order(order_id=placed["order_id"])).order.status.value == "canceled"


async def test_the_lane_serves_only_its_routes(tmp_path, monkeypatch):
    """In-process, on a real service: the lane answers its two routes without the app behind
    it, and hands every other request to that app."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'lane.db'}")
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path))
    monkeypatch.setenv("TANDEM_OPERATOR_TOKEN", OPERATOR_TOKEN)
    from api.app import create_app
    from tandem.settings import Settings

    app = create_app(Settings())
    # The server's app carries the lane (so the equivalence test above compares it with FastAPI).
    assert [m.cls for m in app.user_middleware] == [FastLane]
    passed_on: list[str] = []

    async def behind(scope, receive, send):
        passed_on.append(scope["path"])
        await app(scope, receive, send)

    lane = FastLane(behind)
    async with app.router.lifespan_context(app):
        async def call(scope, receive, send):  # the app in scope, as Starlette sets it
            await lane({**scope, "app": app} if scope["type"] == "http" else scope, receive, send)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=call), base_url="http://lane") as http:
            op = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
            key = new_private_key()
            user = (await http.post("/operator/users", json={"name": "lane", "public_key": public_pem(key)}, headers=op)).json()
            await http.post(f"/operator/users/{user['user_id']}/fund", json={"cents": 10_000}, headers=op)
            await http.post("/operator/markets", json={"ticker": "LANE", "close_time": "2099-01-01T00:00:00Z"}, headers=op)
            passed_on.clear()

            class Trader:
                key_id, private_key = user["api_key_id"], key

            r = await http.post(ORDERS, json={"ticker": "LANE", "side": "bid", "count": "2", "price": "0.40", **GTC},
                                headers=_signed(Trader, "POST", ORDERS))
            assert r.status_code == 201 and r.json()["remaining_count"] == "2.00"
            r = await http.request("DELETE", CANCEL, json={"orders": [{"order_id": r.json()["order_id"]}]},
                                   headers=_signed(Trader, "DELETE", CANCEL))
            assert r.status_code == 200 and r.json()["orders"][0]["reduced_by"] == "2.00"
            assert passed_on == []  # both served by the lane
            r = await http.get("/trade-api/v2/portfolio/orders", headers=_signed(Trader, "GET", "/trade-api/v2/portfolio/orders"))
            assert r.status_code == 200 and passed_on == ["/trade-api/v2/portfolio/orders"]


@pytest.mark.parametrize("size", [2 << 20])
async def test_an_oversized_body_is_413_unread(server, make_trader, size):
    t = await make_trader(cents=0)
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post(ORDERS, content=b" " * size, headers={**_signed(t, "POST", ORDERS),
                                                                  "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
