"""Deposit and withdrawal history through the official SDK (GET /portfolio/deposits and
/portfolio/withdrawals) and custody's own lists (GET /v1/custody/deposits, /withdrawals)."""
from __future__ import annotations

import httpx
import pytest
from kalshi_python_async.models import GetDepositsResponse, GetWithdrawalsResponse
from solders.keypair import Keypair

from tests.api.test_errors_and_isolation import assert_kalshi_error, signed

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
WALLET = str(Keypair().pubkey())


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        yield client


async def test_cash_history_through_the_sdk(http, operator, make_trader, make_market):
    ticker = await make_market()
    t = await make_trader(cents=10_000)  # $100 funded by the operator
    seller = await make_trader()
    r = await operator.post(f"/operator/users/{t.user_id}/fund", json={"cents": 2_550})
    assert r.status_code == 200, r.text
    r = await operator.post(f"/operator/users/{t.user_id}/debit", json={"cents": 1_000})
    assert r.status_code == 200, r.text
    # Two YES bought, one withdrawn to a wallet; $12.50 withdrawn to the wallet.
    await seller.client.create_order_v2(ticker=ticker, side="ask", count="2.00", price="0.5000", **GTC)
    await t.client.create_order_v2(ticker=ticker, side="bid", count="2.00", price="0.5000", **GTC)
    path = "/v1/custody/withdrawals"
    made = []
    for body in ({"side": "cash", "count": "12.50", "wallet": WALLET},
                 {"ticker": ticker, "side": "yes", "count": "1.00", "wallet": WALLET}):
        r = await http.post(path, json=body, headers=signed(t, "POST", path))
        assert r.status_code == 201, r.text
        made.append(r.json()["withdrawal_id"])

    deposits = await t.client.get_deposits()
    assert isinstance(deposits, GetDepositsResponse)
    assert [(d.type, d.status, d.amount_cents, d.fee_cents) for d in deposits.deposits] == \
        [("wire", "applied", 2_550, 0), ("wire", "applied", 10_000, 0)]
    assert deposits.deposits[0].created_ts >= deposits.deposits[1].created_ts and deposits.cursor == ""
    first = await t.client.get_deposits(limit=1)
    assert len(first.deposits) == 1 and first.cursor
    second = await t.client.get_deposits(limit=1, cursor=first.cursor)
    assert [d.id for d in first.deposits + second.deposits] == [d.id for d in deposits.deposits]
    assert second.cursor == ""

    withdrawals = await t.client.get_withdrawals()
    assert isinstance(withdrawals, GetWithdrawalsResponse)
    assert [(w.id, w.type, w.status, w.amount_cents, w.finalized_ts) for w in withdrawals.withdrawals][0] == \
        (made[0], "crypto", "pending", 1_250, None)
    assert [(w.type, w.status, w.amount_cents) for w in withdrawals.withdrawals[1:]] == [("wire", "applied", 1_000)]

    # Custody's lists: every asset, with what the chain will show.
    got = await http.get(path, headers=signed(t, "GET", path))
    assert got.status_code == 200, got.text
    assert [(w["withdrawal_id"], w["side"], w["ticker"], w["count"], w["status"], w["wallet"], w["signature"])
            for w in got.json()["withdrawals"]] == \
        [(made[1], "yes", ticker, "1.00", "pending", WALLET, None), (made[0], "cash", None, "12.5000", "pending", WALLET, None)]
    dep = "/v1/custody/deposits"
    got = await http.get(dep, headers=signed(t, "GET", dep))
    assert got.status_code == 200 and got.json() == {"deposits": [], "cursor": ""}  # none seen on chain

    # Someone else sees none of it; unsigned is 401; bad paging is 400 in Kalshi's shape.
    other = await make_trader(cents=0)
    assert (await other.client.get_deposits()).deposits == []
    assert (await other.client.get_withdrawals()).withdrawals == []
    assert (await http.get(path, headers=signed(other, "GET", path))).json()["withdrawals"] == []
    assert_kalshi_error(await http.get(path), 401)
    assert_kalshi_error(await http.get("/trade-api/v2/portfolio/deposits"), 401)
    for query in ("?cursor=nope", "?limit=0", "?limit=1001"):
        p = "/trade-api/v2/portfolio/withdrawals"
        assert_kalshi_error(await http.get(p + query, headers=signed(t, "GET", p)), 400)
        assert_kalshi_error(await http.get(dep + query, headers=signed(t, "GET", dep)), 400)
