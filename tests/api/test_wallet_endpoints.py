"""The wallet and custody endpoints at the edge, through the real server (SQLite and
PostgreSQL): every refusal is a clear 4xx in Kalshi's error shape that writes nothing; the
relay's hand-over routes are the operator's only; custody routes are signed Kalshi requests.
What needs a chain (a built transaction, a wallet without SOL, order status) is in
tests/api/test_wallet_chain.py."""
from __future__ import annotations

import time

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from api.auth import sign
from tests.api.test_errors_and_isolation import assert_kalshi_error

WALLET = str(Keypair().pubkey())
PDA = str(Pubkey.find_program_address([b"not-a-wallet"], Pubkey.default())[0])


def signed(trader, method: str, path: str) -> dict:
    return {"KALSHI-ACCESS-KEY": trader.key_id, **sign(trader.private_key, int(time.time() * 1000), method, path)}


def order_body(market: str, **over) -> dict:
    return {"wallet": WALLET, "ticker": market, "side": "yes", "action": "buy", "count": "10.00", "price": "0.40", **over}


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        yield client


async def test_wallet_order_bad_input_is_a_clear_400(http, make_market):
    ticker = await make_market()
    cases = [
        ({"wallet": "not-base58-0OIl"}, 400, "invalid_wallet"),
        ({"wallet": "1" * 50}, 400, "invalid_wallet"),
        ({"wallet": PDA}, 400, "invalid_wallet"),  # a program address cannot sign
        ({"ticker": "lower-case"}, 400, "invalid_ticker"),
        ({"ticker": "NO-SUCH-MARKET"}, 404, "market_not_found"),
        ({"count": "1.005"}, 400, "invalid_count"),
        ({"count": "0"}, 400, "invalid_count"),
        ({"price": "0.455"}, 400, "invalid_price"),
        ({"price": "1.00"}, 400, "invalid_price"),
        ({"side": "maybe"}, 400, "invalid_parameters"),
        ({"action": "hold"}, 400, "invalid_parameters"),
    ]
    for over, status, code in cases:
        r = await http.post("/v1/wallet/orders", json=order_body(ticker, **over))
        assert_kalshi_error(r, status, code)
    r = await http.get("/v1/wallet/orders/xyz")
    assert_kalshi_error(r, 400, "invalid_parameters")
    r = await http.post("/v1/wallet/orders/xyz/cancel")
    assert_kalshi_error(r, 400, "invalid_parameters")


async def test_wallet_order_on_a_closed_market_is_refused(http, make_market, operator):
    ticker = await make_market()
    assert (await operator.post(f"/operator/markets/{ticker}/halt")).status_code == 200
    r = await http.post("/v1/wallet/orders", json=order_body(ticker))
    assert_kalshi_error(r, 400, "market_closed")


async def test_relay_routes_are_the_operators_only(http, operator, make_market):
    ticker = await make_market()
    placed = {"order": str(Keypair().pubkey()), "ticker": ticker, "owner": WALLET, "side": "yes", "action": "buy",
              "limit_price": 400_000, "size": 2_000_000, "max_fee": 50_000, "escrowed": 850_000, "order_id": 3}
    assert_kalshi_error(await http.post("/v1/wallet/relay/placed", json=placed), 401)
    r = await operator.post("/v1/wallet/relay/placed", json=placed)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "resting" and first["clob_count"] == 2_000_000
    assert (await operator.post("/v1/wallet/relay/placed", json=placed)).json() == first  # seen twice: once
    book = (await http.get(f"/trade-api/v2/markets/{ticker}/orderbook")).json()
    assert book["orderbook_fp"]["yes_dollars"] == [["0.4000", "2.00"]]
    bad = {**placed, "escrowed": 1}  # not what the program escrows for this order
    assert_kalshi_error(await operator.post("/v1/wallet/relay/placed", json=bad), 400, "invalid_parameters")
    ref = {"order": placed["order"], "order_id": 3}
    r = await operator.post("/v1/wallet/relay/cancel_requested", json=ref)
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    unknown = {"order": str(Keypair().pubkey()), "order_id": 1}
    assert_kalshi_error(await operator.post("/v1/wallet/relay/cancel_requested", json=unknown), 404, "order_not_found")


async def test_deposit_reference_is_signed_and_stable(http, make_trader):
    trader = await make_trader()
    path = "/v1/custody/deposit_reference"
    assert_kalshi_error(await http.get(path), 401)
    first = (await http.get(path, headers=signed(trader, "GET", path))).json()
    assert len(first["reference"]) == 32 and int(first["reference"], 16) >= 0
    again = (await http.get(path, headers=signed(trader, "GET", path))).json()
    assert again == first
    other = await make_trader()
    assert (await http.get(path, headers=signed(other, "GET", path))).json() != first


async def test_withdrawal_refusals_write_nothing_and_a_cash_withdrawal_is_pending(http, make_trader, make_market):
    trader = await make_trader(cents=10_000)  # $100, no positions
    ticker = await make_market()
    path = "/v1/custody/withdrawals"

    async def post(body: dict) -> httpx.Response:
        return await http.post(path, json=body, headers=signed(trader, "POST", path))

    cases = [
        ({"ticker": ticker, "side": "yes", "count": "1.00", "wallet": "nope"}, 400, "invalid_wallet"),
        ({"ticker": ticker, "side": "yes", "count": "1.00", "wallet": PDA}, 400, "invalid_wallet"),
        ({"ticker": "NO-SUCH-MARKET", "side": "yes", "count": "1.00", "wallet": WALLET}, 404, "market_not_found"),
        ({"ticker": None, "side": "no", "count": "1.00", "wallet": WALLET}, 400, "invalid_ticker"),
        ({"ticker": ticker, "side": "yes", "count": "1.005", "wallet": WALLET}, 400, "invalid_count"),
        ({"ticker": ticker, "side": "yes", "count": "1.00", "wallet": WALLET}, 400, "insufficient_balance"),  # no position
        ({"side": "cash", "count": "100.01", "wallet": WALLET}, 400, "insufficient_balance"),
        ({"side": "cash", "count": "0.0000001", "wallet": WALLET}, 400, "invalid_parameters"),
        ({"side": "gold", "count": "1", "wallet": WALLET}, 400, "invalid_parameters"),
    ]
    for body, status, code in cases:
        assert_kalshi_error(await post(body), status, code)
    assert_kalshi_error(await http.post(path, json=cases[0][0]), 401)
    balance = await trader.client.get_balance()
    assert balance.balance == 10_000  # nothing was held or debited
    r = await post({"ticker": ticker, "side": "cash", "count": "12.50", "wallet": WALLET})  # ticker ignored for cash
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "pending" and created["withdrawal_id"]
    assert (await trader.client.get_balance()).balance == 10_000 - 1_250
    one = f"{path}/{created['withdrawal_id']}"
    got = await http.get(one, headers=signed(trader, "GET", one))
    assert got.status_code == 200 and got.json() == {"status": "pending", "signature": None}, got.text
    other = await make_trader()
    assert_kalshi_error(await http.get(one, headers=signed(other, "GET", one)), 404, "withdrawal_not_found")
