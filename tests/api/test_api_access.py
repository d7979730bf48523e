"""API access through the official SDK: a builder bound to an API key (the SDK cannot send
builder_code), and the account's API usage tier, endpoint costs and token-bucket limits."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from tests.api.conftest import unique
from tests.api.test_errors_and_isolation import assert_kalshi_error

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
IOC = {"time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross"}


async def _builder_balance(operator, code: str) -> Decimal:
    builders = {b["code"]: b for b in (await operator.get("/operator/builders")).json()["builders"]}
    return Decimal(builders[code]["balance_dollars"])


async def test_a_builder_bound_to_an_api_key_is_credited(operator, make_trader, make_market):
    ticker = await make_market()
    name = unique("fees")
    r = await operator.put(f"/operator/fee_schedules/{name}", json={"taker_rate": "0.07", "maker_rate": "0",
                                                                    "ticker": ticker})
    assert r.status_code == 200, r.text
    code, other_code = unique("bld"), unique("bld")
    for c in (code, other_code):
        assert (await operator.post("/operator/builders", json={"code": c, "share": "0.5"})).status_code == 201
    maker, taker, plain = await make_trader(), await make_trader(), await make_trader()
    r = await operator.put(f"/operator/api_keys/{taker.key_id}/builder", json={"builder_code": code})
    assert r.status_code == 200 and r.json() == {"api_key_id": taker.key_id, "builder_code": code}, r.text

    await maker.client.create_order_v2(ticker=ticker, side="ask", count="30.00", price="0.5000", **GTC)
    await taker.client.create_order_v2(ticker=ticker, side="bid", count="10.00", price="0.5000", **IOC)
    fee = Decimal((await taker.client.get_fills(ticker=ticker)).fills[0].fee_cost)
    assert fee == Decimal("0.18")  # ceil to the cent of 0.07 x 10 x 0.5 x 0.5
    assert await _builder_balance(operator, code) == fee / 2
    # Another key, not bound: nothing for the builder.
    await plain.client.create_order_v2(ticker=ticker, side="bid", count="10.00", price="0.5000", **IOC)
    assert await _builder_balance(operator, code) == fee / 2
    # Rebound, then unbound: the credit follows the binding from the next order on.
    r = await operator.put(f"/operator/api_keys/{taker.key_id}/builder", json={"builder_code": other_code})
    assert r.status_code == 200, r.text
    await taker.client.create_order_v2(ticker=ticker, side="bid", count="10.00", price="0.5000", **IOC)
    assert await _builder_balance(operator, other_code) == fee / 2
    r = await operator.put(f"/operator/api_keys/{taker.key_id}/builder", json={"builder_code": None})
    assert r.status_code == 200, r.text
    before = await _builder_balance(operator, other_code)
    await maker.client.create_order_v2(ticker=ticker, side="ask", count="10.00", price="0.5000", **GTC)
    await taker.client.create_order_v2(ticker=ticker, side="bid", count="10.00", price="0.5000", **IOC)
    assert await _builder_balance(operator, other_code) == before

    assert_kalshi_error(await operator.put("/operator/api_keys/no-such-key/builder", json={"builder_code": code}),
                        404, "api_key_not_found")
    assert_kalshi_error(await operator.put(f"/operator/api_keys/{taker.key_id}/builder",
                                           json={"builder_code": "NO-SUCH-BUILDER"}), 404, "builder_not_found")
    assert_kalshi_error(await operator.put(f"/operator/api_keys/{taker.key_id}/builder", json={}), 400)


async def test_account_limits_tiers_and_endpoint_costs(operator, make_trader, make_market):
    from kalshi_python_async import ApiException
    from kalshi_python_async.models import GetAccountApiLimitsResponse, GetAccountEndpointCostsResponse

    t = await make_trader()
    limits = await t.client.get_account_api_limits()
    assert isinstance(limits, GetAccountApiLimitsResponse)
    # The test server's default tier: 1000 requests/s each way at the default cost of 10 tokens.
    assert (limits.usage_tier, limits.read.refill_rate, limits.read.bucket_capacity, limits.write.refill_rate) == \
        ("default", 10_000, 20_000, 10_000)
    costs = await t.client.get_account_endpoint_costs()
    assert isinstance(costs, GetAccountEndpointCostsResponse) and costs.default_cost == 10
    listed = {(c.method, c.path): c.cost for c in costs.endpoint_costs}
    assert listed[("DELETE", "/portfolio/events/orders/{order_id}")] == 2

    r = await operator.put(f"/operator/users/{t.user_id}/api_tier", json={"tier": "basic"})
    assert r.status_code == 200 and r.json()["usage_tier"] == "basic", r.text
    limits = await t.client.get_account_api_limits()
    assert (limits.usage_tier, limits.read.refill_rate, limits.read.bucket_capacity, limits.write.refill_rate,
            limits.write.bucket_capacity) == ("basic", 200, 400, 100, 200)

    # Basic: 100 write tokens/s, 200 in the bucket. A batch bills every order: 20 orders take
    # the whole bucket, so a second batch right after is refused: at its first order's 10 tokens,
    # or, if a few ms refilled those, at the other 19 orders' 190 (billed once, the first batch
    # would have left 190 tokens and both would pass).
    ticker = await make_market()
    from kalshi_python_async.models import CreateOrderV2Request

    orders = [CreateOrderV2Request(ticker=ticker, side="bid", count="1.00", price="0.0100", **GTC) for _ in range(20)]
    first = await t.client.batch_create_orders_v2(orders=orders)
    assert len(first.orders) == 20
    with pytest.raises(ApiException) as err:
        await t.client.batch_create_orders_v2(orders=orders)
    assert err.value.status == 429
    body = json.loads(err.value.body)["error"]
    assert body["code"] == "too_many_requests" and "basic tier" in body["message"]
    assert body["message"].endswith(("costs 10", "costs 190"))
    # Reads are a separate bucket: still fine.
    assert (await t.client.get_balance()).balance > 0
    # Back to the default tier: its 10,000 tokens/s refill the bucket within milliseconds
    # (basic's 100/s would take 2 s), and the same batch passes.
    r = await operator.put(f"/operator/users/{t.user_id}/api_tier", json={"tier": None})
    assert r.status_code == 200 and r.json()["usage_tier"] == "default", r.text
    await asyncio.sleep(0.1)
    again = await t.client.batch_create_orders_v2(orders=orders)
    assert len(again.orders) == 20

    assert_kalshi_error(await operator.put(f"/operator/users/{t.user_id}/api_tier", json={"tier": "gold"}), 400)
    assert_kalshi_error(await operator.put("/operator/users/999999999/api_tier", json={"tier": "basic"}), 404,
                        "user_not_found")
