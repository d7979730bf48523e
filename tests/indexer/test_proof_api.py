"""`GET /v1/custody/proof` through the real API server (SQLite and PostgreSQL): each signed-in user
gets their own latest proof and nobody else's; 404 in Kalshi's shape when there is none.

The epoch is stored from a real ledger (users funded, a mint match) by indexer/epochs.py's own
build and store steps, with the custody figures filled in from the trees: what the chain says
is test_proof_epochs.py's part (localnet).
"""
from __future__ import annotations

import time
import uuid

import httpx
import pytest

from api.auth import sign
from chain.tokens import ONE
from exchange import ledger_queries as LQ
from exchange.db import connect
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService
from indexer import epochs as E
from indexer.db import migrate
from indexer.proof import Proof, verify_path
from tests.api.conftest import new_private_key, public_pem, start_server
from tests.api.test_errors_and_isolation import assert_kalshi_error
from tests.databases import BACKENDS, fresh_database

FAR = 4_102_444_800_000  # 2100-01-01 in ms
PATH = "/v1/custody/proof"


def store_epoch(url: str, epoch: int, slot: int) -> E.EpochSummary:
    db = connect(url)
    try:
        with LQ.snapshot(db) as conn:
            balances, tickers = LQ.custodial_balances(conn), LQ.market_tickers(conn)
        salts, trees = E._build(epoch, balances, tickers)
        roots = tuple(E.TreeRoot(t or None, a, tree.root_hash, tree.root_sum, tree.count, f"custody-{a}", tree.root_sum, True)
                      for (t, a), (*_, tree) in trees.items())
        summary = E.EpochSummary(epoch, slot, 1_700_000_000_000, roots)
        E._store(db, summary, salts, trees, 48)
        return summary
    finally:
        db.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def venue(request, tmp_path_factory):
    """alice holds 10 YES, bob 10 NO, carol only cash; an epoch stored; the API server on that database."""
    home = tmp_path_factory.mktemp(f"proofapi-{request.param}")
    with fresh_database(request.param, home, "proofapi") as url:
        svc = ExchangeService(url)
        migrate(url)
        ticker = "PA-" + uuid.uuid4().hex[:10].upper()
        svc.create_market(ticker, title="proof api", close_ms=FAR)
        users, keys = {}, {}
        for name in ("alice", "bob", "carol"):
            users[name] = svc.create_user(f"{name}-{uuid.uuid4().hex[:6]}").id
            private = new_private_key()
            keys[name] = (svc.create_api_key(users[name], public_pem(private)), private)
            svc.fund(users[name], cents=10_000)
        svc.place_order(users["alice"], OrderRequest(ticker, "bid", 400_000, 10 * ONE))  # buy YES at 0.40
        svc.place_order(users["bob"], OrderRequest(ticker, "ask", 400_000, 10 * ONE))  # buy NO at 0.60: a mint
        svc.close()
        server = start_server(url, home)
        try:
            yield server, url, ticker, users, keys
        finally:
            server.stop()


def headers(keys, name: str) -> dict:
    key_id, private = keys[name]
    return {"KALSHI-ACCESS-KEY": key_id, **sign(private, int(time.time() * 1000), "GET", PATH)}


async def test_before_any_epoch_there_is_no_proof(venue):
    server, url, ticker, users, keys = venue  # this module's first test: nothing stored yet
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        r = await http.get(PATH, params={"asset": "cash"}, headers=headers(keys, "alice"))
        assert_kalshi_error(r, 404, "proof_not_found")


async def test_each_user_gets_their_own_latest_proof(venue):
    server, url, ticker, users, keys = venue
    store_epoch(url, 5, 500)
    newest = store_epoch(url, 6, 600)
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        r = await http.get(PATH, params={"ticker": ticker, "asset": "yes"}, headers=headers(keys, "alice"))
        assert r.status_code == 200, r.text
        proof = Proof.from_json(r.json())
        verify_path(proof)
        root = next(x for x in newest.roots if (x.ticker, x.asset) == (ticker, "yes"))
        assert (proof.user_id, proof.balance, proof.epoch, proof.slot) == (users["alice"], 10 * ONE, 6, 600)
        assert (proof.root_hash, proof.root_sum, proof.custody_account) == (root.hash, root.sum, "custody-yes")

        r = await http.get(PATH, params={"ticker": ticker, "asset": "no"}, headers=headers(keys, "bob"))
        assert r.status_code == 200 and r.json()["user_id"] == users["bob"] and r.json()["balance"] == 10 * ONE
        for name in users:
            r = await http.get(PATH, params={"asset": "cash"}, headers=headers(keys, name))
            assert r.status_code == 200, r.text
            doc = r.json()
            assert doc["user_id"] == users[name] and doc["ticker"] is None and doc["asset"] == "cash"
            verify_path(Proof.from_json(doc))


async def test_no_proof_of_someone_elses_holding_and_bad_queries(venue):
    server, url, ticker, users, keys = venue
    store_epoch(url, 7, 700)
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        # carol holds no YES: no proof of hers, and alice's is not handed to her
        r = await http.get(PATH, params={"ticker": ticker, "asset": "yes"}, headers=headers(keys, "carol"))
        assert_kalshi_error(r, 404, "proof_not_found")
        r = await http.get(PATH, params={"ticker": "NO-SUCH", "asset": "no"}, headers=headers(keys, "alice"))
        assert_kalshi_error(r, 404, "proof_not_found")
        r = await http.get(PATH, params={"ticker": ticker, "asset": "maybe"}, headers=headers(keys, "alice"))
        assert_kalshi_error(r, 400, "invalid_parameters")
        r = await http.get(PATH, params={"ticker": ticker}, headers=headers(keys, "alice"))
        assert_kalshi_error(r, 400, "invalid_parameters")
        r = await http.get(PATH, params={"ticker": ticker, "asset": "cash"}, headers=headers(keys, "alice"))
        assert_kalshi_error(r, 400, "invalid_parameters")
        r = await http.get(PATH, params={"asset": "yes"}, headers=headers(keys, "alice"))
        assert_kalshi_error(r, 400, "invalid_ticker")
        r = await http.get(PATH, params={"ticker": "bad ticker", "asset": "yes"}, headers=headers(keys, "alice"))
        assert_kalshi_error(r, 400, "invalid_ticker")
        r = await http.get(PATH, params={"ticker": ticker, "asset": "yes"})
        assert_kalshi_error(r, 401)
