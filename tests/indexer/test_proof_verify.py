"""`tandem verify-proof` against the session localnet: custody's balance at the proof's slot, read over RPC."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from solana.rpc.commitment import Finalized
from solders.keypair import Keypair
from starlette.responses import JSONResponse

from chain import instructions as ix
from chain.client import ChainClient
from chain.instructions import Outcome
from chain.tokens import ONE
from indexer.proof import build_tree, make_proof
from indexer.verify import custody_account_for, verify_document
from tests.chain.world import World
from tests.indexer.rpc_proxy import FaultyRpc

pytestmark = pytest.mark.localnet


@pytest.fixture(scope="module")
async def world(localnet, chain_setup):
    payer = Keypair()
    async with ChainClient(localnet.url, payer, poll_seconds=0.02) as client:
        await client.airdrop(payer.pubkey(), 100 * 10**9)
        yield World(client, chain_setup)


@pytest.fixture(scope="module")
async def custody_history(world):
    """A market whose custody YES account held 3 contracts from slot s1 on, then 5 from slot s2 on."""
    w = world
    ticker = await w.market()
    alice = await w.user(10 * ONE)
    await w.outcome_accounts(alice, ticker)
    await ix.mint_set(w.c, alice.kp, ticker, 10 * ONE, user_collateral=alice.collateral)
    first = await ix.deposit_tokens(w.c, alice.kp, ticker, Outcome.YES, 3 * ONE, bytes(16))
    second = await ix.deposit_tokens(w.c, alice.kp, ticker, Outcome.YES, 2 * ONE, bytes(16))
    await w.c.wait_for([first.signature, second.signature], commitment=Finalized)
    assert second.slot > first.slot
    return ticker, first.slot, second.slot


def proof_doc(w: World, ticker: str, slot: int, balances: dict[int, int], *, user_id: int = 7, asset: str = "yes") -> dict:
    salts = {u: os.urandom(32) for u in balances}
    users = sorted(balances)
    tree = build_tree(slot // 10, users, [salts[u] for u in users], [balances[u] for u in users])
    account = custody_account_for(w.c.program_id, ticker, asset)
    return make_proof(tree, user_id=user_id, salt=salts[user_id], slot=slot, ticker=ticker, asset=asset,
                      custody_account=str(account)).to_json()


def checks(report) -> dict[str, bool]:
    return {c.name: c.ok for c in report.checks}


async def test_backed_at_the_proofs_slot(world, custody_history, localnet):
    ticker, s1, s2 = custody_history
    report = await verify_document(proof_doc(world, ticker, s1, {7: 2 * ONE, 8: ONE}), rpc_url=localnet.url,
                                   program_id=world.c.program_id)
    assert report.ok, report.checks
    assert checks(report) == {"format": True, "leaf": True, "path": True, "custody_account": True, "backing": True}
    assert f"held at slot {s1}" in report.checks[-1].detail and f"at slot {s1})" in report.checks[-1].detail


async def test_a_root_sum_above_custodys_balance_at_that_slot_fails(world, custody_history, localnet):
    """5 contracts are in custody now, but only 3 were at s1: a tree of 5 dated s1 is not backed."""
    ticker, s1, s2 = custody_history
    doc = proof_doc(world, ticker, s1, {7: 4 * ONE, 8: ONE})
    report = await verify_document(doc, rpc_url=localnet.url, program_id=world.c.program_id)
    assert not report.ok and report.failed.name == "backing"
    assert f"root.sum {5 * ONE} exceeds the custody account's balance {3 * ONE}" in report.failed.detail
    later = await verify_document(proof_doc(world, ticker, s2, {7: 4 * ONE, 8: ONE}), rpc_url=localnet.url,
                                  program_id=world.c.program_id)
    assert later.ok, later.checks
    before = await verify_document(proof_doc(world, ticker, s1 - 1, {7: 1}), rpc_url=localnet.url,
                                   program_id=world.c.program_id)
    assert before.failed.name == "backing" and "balance 0" in before.failed.detail


async def test_a_proof_pointing_at_another_custody_account_fails(world, custody_history, localnet):
    ticker, s1, _ = custody_history
    doc = proof_doc(world, ticker, s1, {7: ONE})
    doc["custody_account"] = str(custody_account_for(world.c.program_id, ticker, "no"))
    report = await verify_document(doc, rpc_url=localnet.url, program_id=world.c.program_id)
    assert report.failed.name == "custody_account" and "is not custody's account for YES of" in report.failed.detail


class NoHistoryRpc(FaultyRpc):
    """The real chain behind a node that keeps no transaction history: it answers history reads
    as a validator without --enable-rpc-transaction-history does (-32011)."""

    async def _handle(self, request):
        body = await request.json()
        if isinstance(body, dict) and body.get("method") in ("getSignaturesForAddress", "getTransaction"):
            return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": {
                "code": -32011, "message": "Transaction history is not available from this node"}})
        return await super()._handle(request)


async def test_without_history_the_current_balance_is_used_and_said(world, custody_history, localnet):
    ticker, s1, _ = custody_history
    proxy = NoHistoryRpc(localnet.url).start()
    try:
        report = await verify_document(proof_doc(world, ticker, s1, {7: 5 * ONE}), rpc_url=proxy.url,
                                       program_id=world.c.program_id)
    finally:
        proxy.stop()
    assert report.ok, report.checks  # 5 are there now (3 were at s1: only history could tell)
    assert f"held NOW, not at slot {s1}: the RPC cannot serve that history" in report.checks[-1].detail


def verify_proof_cli(path, rpc_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RPC_URL": rpc_url}
    env.pop("TANDEM_PROGRAM_ID", None)
    return subprocess.run([sys.executable, "-m", "tandem.cli", "verify-proof", str(path)], capture_output=True, text=True,
                          env=env, timeout=120)


async def test_the_command(world, custody_history, localnet, tmp_path):
    ticker, s1, s2 = custody_history
    good = proof_doc(world, ticker, s2, {7: 3 * ONE, 9: 2 * ONE})
    (tmp_path / "good.json").write_text(json.dumps(good))
    out = verify_proof_cli(tmp_path / "good.json", localnet.url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK:" in out.stdout and f"root.sum {5 * ONE} <= {5 * ONE} held at slot {s2}" in out.stdout

    changed_balance = {**good, "balance": good["balance"] + 1}
    (tmp_path / "balance.json").write_text(json.dumps(changed_balance))
    out = verify_proof_cli(tmp_path / "balance.json", localnet.url)
    assert out.returncode == 1 and "FAILED: path: the path does not rebuild root.hash" in out.stdout

    changed_sibling = json.loads(json.dumps(good))
    changed_sibling["path"][0]["sum"] -= 1
    (tmp_path / "sibling.json").write_text(json.dumps(changed_sibling))
    out = verify_proof_cli(tmp_path / "sibling.json", localnet.url)
    assert out.returncode == 1 and "FAILED: path" in out.stdout

    too_much = proof_doc(world, ticker, s1, {7: 3 * ONE, 9: 2 * ONE})
    (tmp_path / "too_much.json").write_text(json.dumps(too_much))
    out = verify_proof_cli(tmp_path / "too_much.json", localnet.url)
    assert out.returncode == 1 and "FAILED: backing: root.sum" in out.stdout

    (tmp_path / "junk.json").write_text("{not json")
    out = verify_proof_cli(tmp_path / "junk.json", localnet.url)
    assert out.returncode == 1 and "FAILED: format" in out.stdout


async def test_a_slot_the_chain_has_not_finalized_is_not_judged(world, custody_history, localnet):
    ticker, _, s2 = custody_history
    future = (await world.c.rpc.get_slot(commitment=Finalized)).value + 10_000
    report = await verify_document(proof_doc(world, ticker, future, {7: ONE}), rpc_url=localnet.url,
                                   program_id=world.c.program_id)
    assert report.failed.name == "backing" and f"the proof's slot {future} is not finalized yet" in report.failed.detail


async def test_fields_outside_the_hashes_are_bound_by_the_chain(world, custody_history, localnet):
    """ticker and asset are not hashed: changing either makes custody_account the wrong PDA."""
    ticker, s1, _ = custody_history
    doc = proof_doc(world, ticker, s1, {7: ONE})
    for change in ({"asset": "no"}, {"ticker": "OTHER-MARKET"}, {"asset": "cash", "ticker": None}):
        report = await verify_document({**doc, **change}, rpc_url=localnet.url, program_id=world.c.program_id)
        assert report.failed.name == "custody_account", (change, report.checks)
