"""indexer/epochs.py and the proof routes, on the session localnet and a real database (SQLite and PostgreSQL).

A real exchange ledger (custodial users funded, a mint match between two of them) and real
custody accounts on chain. The bridge's part is played in the open by the test: it puts the
custodial YES and NO into custody on chain with `deposit_tokens`, then records in the outbox
that the chain has applied and finalized the exchange's records (what the bridge writes after
its transactions land), so the epoch's trees are held against balances really on chain.
"""
from __future__ import annotations

import time
import uuid

import httpx
import pytest
from solana.rpc.commitment import Finalized
from solders.keypair import Keypair

from api.auth import sign
from chain import instructions as ix
from chain.client import ChainClient
from chain.instructions import Outcome
from chain.tokens import ONE
from exchange import ledger_queries as LQ
from exchange.db import connect
from exchange.outbox_reader import OutboxReader
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService
from indexer.db import migrate
from indexer.epochs import latest_epoch, latest_proof, proof_epochs, proof_trees, publish_epoch
from indexer.proof import verify_path
from indexer.verify import custody_account_for, verify_document
from tests.api.conftest import new_private_key, public_pem, start_server
from tests.api.test_errors_and_isolation import assert_kalshi_error
from tests.chain.world import World
from tests.databases import BACKENDS, fresh_database

pytestmark = pytest.mark.localnet

FAR = 4_102_444_800_000  # 2100-01-01 in ms


@pytest.fixture(scope="module")
async def world(localnet, chain_setup):
    payer = Keypair()
    async with ChainClient(localnet.url, payer, poll_seconds=0.02) as client:
        await client.airdrop(payer.pubkey(), 100 * 10**9)
        yield World(client, chain_setup)


async def finalized_slot(w: World) -> int:
    return (await w.c.rpc.get_slot(commitment=Finalized)).value


@pytest.fixture(scope="module", params=BACKENDS)
async def venue(request, world, tmp_path_factory):
    """An exchange database with alice (10 YES), bob (10 NO), carol (cash only), and custody holding their YES/NO."""
    w = world
    home = tmp_path_factory.mktemp(f"proof-{request.param}")
    with fresh_database(request.param, home, "proof") as url:
        svc = ExchangeService(url)
        migrate(url)
        ticker = "PB-" + uuid.uuid4().hex[:10].upper()
        await ix.create_market(w.c, w.keys.admin, ticker=ticker, close_time=await w.c.chain_time() + 3600,
                               collateral_mint=w.mint)
        svc.create_market(ticker, title="proof of backing", close_ms=FAR)
        users = {name: svc.create_user(f"{name}-{uuid.uuid4().hex[:6]}").id for name in ("alice", "bob", "carol")}
        for user_id in users.values():
            svc.fund(user_id, cents=10_000)
        svc.place_order(users["alice"], OrderRequest(ticker, "bid", 400_000, 10 * ONE))  # buy YES at 0.40
        svc.place_order(users["bob"], OrderRequest(ticker, "ask", 400_000, 10 * ONE))  # buy NO at 0.60: a mint
        db = connect(url)
        try:
            yield svc, db, url, ticker, users, home
        finally:
            db.dispose()
            svc.close()


async def play_the_bridge(w: World, svc: ExchangeService, ticker: str) -> int:
    """Custody gets the custodial YES and NO on chain; the outbox says every record is applied and final."""
    wallet = await w.user(10 * ONE)
    await w.outcome_accounts(wallet, ticker)
    await ix.mint_set(w.c, wallet.kp, ticker, 10 * ONE, user_collateral=wallet.collateral)
    yes = await ix.deposit_tokens(w.c, wallet.kp, ticker, Outcome.YES, 10 * ONE, bytes(16))
    no = await ix.deposit_tokens(w.c, wallet.kp, ticker, Outcome.NO, 10 * ONE, bytes(16))
    await w.c.wait_for([yes.signature, no.signature], commitment=Finalized)
    reader = OutboxReader(svc)
    for stream, last in reader.streams().items():
        seqs = range(1, last + 1)
        reader.mark_applied(stream, seqs, str(no.signature), no.slot)
        reader.mark_finalized(stream, seqs)
    return no.slot


async def test_an_epoch_waits_for_the_bridge_then_every_user_can_prove_their_balance(world, venue, localnet):
    w = world
    svc, db, url, ticker, users, _ = venue
    slot = await finalized_slot(w)
    assert await publish_epoch(db, w.c.rpc, finalized_slot=slot, epoch_slots=1, program_id=w.c.program_id) is None
    assert latest_epoch(db) is None, "records still in flight: the ledger is ahead of custody, no epoch"

    applied_at = await play_the_bridge(w, svc, ticker)
    slot = max(await finalized_slot(w), applied_at)
    summary = await publish_epoch(db, w.c.rpc, finalized_slot=slot, epoch_slots=1, program_id=w.c.program_id)
    assert summary is not None and summary.epoch == 1 and summary.slot == slot
    assert latest_epoch(db) == summary
    roots = {(r.ticker, r.asset): r for r in summary.roots}
    with LQ.snapshot(db) as conn:
        totals = LQ.custodial_totals(conn)
    assert (roots[(ticker, "yes")].sum, roots[(ticker, "yes")].leaves) == (10 * ONE, 1)
    assert (roots[(ticker, "no")].sum, roots[(ticker, "no")].leaves) == (10 * ONE, 1)
    assert (roots[(None, "cash")].sum, roots[(None, "cash")].leaves) == (totals.cash(), 3)
    for key in [(ticker, "yes"), (ticker, "no")]:
        root = roots[key]
        assert root.custody_account == str(custody_account_for(w.c.program_id, *key))
        assert (root.custody_balance, root.custody_historical, root.backed) == (10 * ONE, True, True)
    assert roots[(None, "cash")].custody_account == str(custody_account_for(w.c.program_id, None, "cash"))

    alice = latest_proof(db, user_id=users["alice"], ticker=ticker, asset="yes")
    assert alice.balance == 10 * ONE and alice.epoch == 1 and alice.slot == slot
    report = await verify_document(alice.to_json(), rpc_url=localnet.url, program_id=w.c.program_id)
    assert report.ok, report.checks
    bob = latest_proof(db, user_id=users["bob"], ticker=ticker, asset="no")
    assert (await verify_document(bob.to_json(), rpc_url=localnet.url, program_id=w.c.program_id)).ok
    assert latest_proof(db, user_id=users["bob"], ticker=ticker, asset="yes") is None
    for user_id in users.values():
        cash = latest_proof(db, user_id=user_id, ticker=None, asset="cash")
        verify_path(cash)
        assert cash.ticker is None and cash.root_sum == totals.cash()
    assert alice.commit == latest_proof(db, user_id=users["alice"], ticker=None, asset="cash").commit, \
        "one salt per user and epoch"

    assert await publish_epoch(db, w.c.rpc, finalized_slot=slot, epoch_slots=1, program_id=w.c.program_id) is None


async def test_old_epochs_are_pruned(world, venue):
    w = world
    svc, db, url, ticker, users, _ = venue
    first = latest_epoch(db)
    assert first is not None  # the previous test published one
    slot = await finalized_slot(w)
    while slot <= first.slot:
        time.sleep(0.05)
        slot = await finalized_slot(w)
    # a larger epoch_slots puts this slot in the window of the last epoch: not due yet
    assert await publish_epoch(db, w.c.rpc, finalized_slot=first.slot + 1, epoch_slots=1 << 40,
                               program_id=w.c.program_id) is None
    second = await publish_epoch(db, w.c.rpc, finalized_slot=slot, epoch_slots=1, program_id=w.c.program_id, keep_epochs=1)
    assert second.epoch == first.epoch + 1
    with db.reader.connect() as conn:
        assert [r.epoch for r in conn.execute(proof_epochs.select())] == [second.epoch]
        assert {r.epoch for r in conn.execute(proof_trees.select())} == {second.epoch}
    assert latest_proof(db, user_id=users["alice"], ticker=ticker, asset="yes").epoch == second.epoch


def signed(key_id: str, private_key, path: str) -> dict:
    return {"KALSHI-ACCESS-KEY": key_id, **sign(private_key, int(time.time() * 1000), "GET", path)}


async def test_the_api_serves_each_user_their_own_latest_proof(world, venue, localnet):
    w = world
    svc, db, url, ticker, users, home = venue
    assert latest_epoch(db) is not None
    alice_key, carol_key = new_private_key(), new_private_key()
    alice_id = svc.create_api_key(users["alice"], public_pem(alice_key))
    carol_id = svc.create_api_key(users["carol"], public_pem(carol_key))
    server = start_server(url, home)
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            path = "/v1/custody/proof"
            r = await http.get(path, params={"ticker": ticker, "asset": "yes"}, headers=signed(alice_id, alice_key, path))
            assert r.status_code == 200, r.text
            doc = r.json()
            assert doc["user_id"] == users["alice"] and doc["balance"] == 10 * ONE and doc["ticker"] == ticker
            report = await verify_document(doc, rpc_url=localnet.url, program_id=w.c.program_id)
            assert report.ok, report.checks

            r = await http.get(path, params={"asset": "cash"}, headers=signed(carol_id, carol_key, path))
            assert r.status_code == 200 and r.json()["user_id"] == users["carol"] and r.json()["ticker"] is None

            # carol holds no YES: there is no proof of hers, and nobody else's is handed out
            r = await http.get(path, params={"ticker": ticker, "asset": "yes"}, headers=signed(carol_id, carol_key, path))
            assert_kalshi_error(r, 404, "proof_not_found")
            r = await http.get(path, params={"ticker": "NO-SUCH", "asset": "no"}, headers=signed(alice_id, alice_key, path))
            assert_kalshi_error(r, 404, "proof_not_found")
            r = await http.get(path, params={"ticker": ticker, "asset": "maybe"}, headers=signed(alice_id, alice_key, path))
            assert_kalshi_error(r, 400, "invalid_parameters")
            r = await http.get(path, params={"ticker": ticker, "asset": "cash"}, headers=signed(alice_id, alice_key, path))
            assert_kalshi_error(r, 400, "invalid_parameters")
            r = await http.get(path, params={"ticker": "bad ticker", "asset": "yes"}, headers=signed(alice_id, alice_key, path))
            assert_kalshi_error(r, 400, "invalid_ticker")
            r = await http.get(path, params={"ticker": ticker, "asset": "yes"})
            assert r.status_code == 401 and "error" in r.json()
    finally:
        server.stop()
