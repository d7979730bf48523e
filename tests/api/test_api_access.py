"""API access through the official SDK: a builder bound to an API key (the SDK cannot send
builder_code), and the account's API usage tier, endpoint costs and token-bucket limits."""
from __future__ import annotations

from decimal import Decimal

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
