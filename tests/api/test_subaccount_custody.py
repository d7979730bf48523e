"""Custody endpoints of a subaccount (`?subaccount=N`): its own deposit reference, withdrawals
from its own cash (refused beyond it, nothing written), read back only through it."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.test_errors_and_isolation import assert_kalshi_error
from tests.api.test_wallet_endpoints import WALLET, signed


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        yield client


async def test_a_subaccounts_custody(http, make_trader):
    t = await make_trader(cents=10_000)
    await t.client.create_subaccount()
    await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=1,
                                             amount_cents=2_000)
    ref = "/v1/custody/deposit_reference"
    primary = (await http.get(ref, headers=signed(t, "GET", ref))).json()["reference"]
    sub = (await http.get(f"{ref}?subaccount=1", headers=signed(t, "GET", ref))).json()["reference"]
    assert len(sub) == 32 and sub != primary  # a deposit naming it credits subaccount 1
    assert (await http.get(f"{ref}?subaccount=1", headers=signed(t, "GET", ref))).json()["reference"] == sub

    path = "/v1/custody/withdrawals"
    body = {"side": "cash", "count": "20.01", "wallet": WALLET}
    assert_kalshi_error(await http.post(f"{path}?subaccount=1", json=body, headers=signed(t, "POST", path)),
                        400, "insufficient_balance")  # $20 in subaccount 1, though the primary has $80
    assert_kalshi_error(await http.post(f"{path}?subaccount=2", json=body, headers=signed(t, "POST", path)),
                        404, "subaccount_not_found")
    assert_kalshi_error(await http.post(f"{path}?subaccount=64", json=body, headers=signed(t, "POST", path)),
                        400, "invalid_parameters")
    assert (await t.client.get_balance(subaccount=1)).balance == 2_000 and (await t.client.get_balance()).balance == 8_000
    r = await http.post(f"{path}?subaccount=1", json={**body, "count": "5.00"}, headers=signed(t, "POST", path))
    assert r.status_code == 201, r.text
    wid = r.json()["withdrawal_id"]
    assert (await t.client.get_balance(subaccount=1)).balance == 1_500 and (await t.client.get_balance()).balance == 8_000
    listed = (await http.get(f"{path}?subaccount=1", headers=signed(t, "GET", path))).json()["withdrawals"]
    assert [(w["withdrawal_id"], w["count"]) for w in listed] == [(wid, "5.0000")]
    assert (await http.get(path, headers=signed(t, "GET", path))).json()["withdrawals"] == []
    one = f"{path}/{wid}"
    assert (await http.get(f"{one}?subaccount=1", headers=signed(t, "GET", one))).json()["status"] == "pending"
    assert_kalshi_error(await http.get(one, headers=signed(t, "GET", one)), 404, "withdrawal_not_found")


async def test_market_positions_follow_custody_moves(server, http, operator, make_trader, make_market):
    """A withdrawal of YES to a wallet and a YES deposit from one each send the position (a
    subaccount's, on its parent's connection)."""
    from tests.api.test_ws import connect
    from tests.api.test_ws_channels import subscribe

    ticker = await make_market()
    t, seller = await make_trader(cents=10_000), await make_trader()
    await t.client.create_subaccount()
    await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=1,
                                             amount_cents=5_000)
    await seller.client.create_order_v2(ticker=ticker, side="ask", count="5.00", price="0.4000",
                                        time_in_force="good_till_canceled", self_trade_prevention_type="taker_at_cross")
    await t.client.create_order_v2(ticker=ticker, side="bid", count="5.00", price="0.4000", subaccount=1,
                                   time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
    client = await connect(server, t)
    try:
        sid = await subscribe(client, "market_positions", market_tickers=[ticker])
        path = "/v1/custody/withdrawals"
        r = await http.post(f"{path}?subaccount=1", json={"ticker": ticker, "side": "yes", "count": "2.00", "wallet": WALLET},
                            headers=signed(t, "POST", path))
        assert r.status_code == 201, r.text
        msg = await client.recv_type("market_position")
        assert msg["sid"] == sid
        assert (msg["msg"]["market_ticker"], msg["msg"]["position_fp"], msg["msg"]["subaccount"]) == (ticker, "3.00", 1)
        # volume: the contracts traded (5 bought), which custody moves do not change
        assert (msg["msg"]["volume"], msg["msg"]["volume_fp"]) == (5, "5.00")
        assert msg["msg"]["user_id"] == str(t.user_id)

        ref = "/v1/custody/deposit_reference"
        reference = (await http.get(f"{ref}?subaccount=1", headers=signed(t, "GET", ref))).json()["reference"]
        deposit = {"signature": "sig-" + uuid.uuid4().hex, "ix_index": 0, "reference": reference, "asset": "yes",
                   "ticker": ticker, "amount": 4_000_000}
        r = await operator.post("/v1/wallet/relay/deposited", json=deposit)
        assert r.status_code == 200 and r.json()["credited"], r.text
        msg = await client.recv_type("market_position")
        assert (msg["msg"]["position_fp"], msg["msg"]["subaccount"], msg["msg"]["volume_fp"]) == ("7.00", 1, "5.00")
        assert [p.position_fp for p in (await t.client.get_positions(subaccount=1)).market_positions] == ["7.00"]
        # A repeat of the same deposit credits nothing and sends nothing.
        r = await operator.post("/v1/wallet/relay/deposited", json=deposit)
        assert r.status_code == 200 and not r.json()["credited"]
        assert [m for m in await client.quiet() if m["type"] == "market_position"] == []
    finally:
        await client.ws.close()
