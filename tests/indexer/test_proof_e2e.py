"""Proof of backing end to end: the real `tandem indexer` publishes epochs over a real ledger whose
records reach a real chain (tests/indexer/applier.py plays the bridge), and a user's proof passes
`tandem verify-proof` against that chain; a ledger that claims more than custody holds fails it."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from solana.rpc.commitment import Finalized

from chain.tokens import ONE
from exchange import ledger_queries as LQ
from exchange.db import connect
from indexer.epochs import latest_proof

pytestmark = pytest.mark.localnet


def verify_proof_cli(path, rpc_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RPC_URL": rpc_url}
    env.pop("TANDEM_PROGRAM_ID", None)
    return subprocess.run([sys.executable, "-m", "tandem.cli", "verify-proof", str(path)], capture_output=True, text=True,
                          env=env, timeout=120)


def proof_of(stack, user: str, asset: str, after_epoch: int = -1):
    db = connect(stack.db_url)
    try:
        proof = latest_proof(db, user_id=stack.users[user], ticker=None if asset == "cash" else stack.ticker, asset=asset)
    finally:
        db.dispose()
    assert proof is not None and proof.epoch > after_epoch
    return proof


async def settle_and_finalize(stack) -> int:
    """Everything applied (the stack's Applier), then reported finalized once the chain finalized it,
    as the bridge reports it (mark_finalized): what an epoch waits for. Returns the last applied slot."""
    await stack.settle()
    reader = stack.applier.reader
    applied = {stream: [r for r in reader.records(stream) if r.status == "applied"] for stream in reader.streams()}
    last = max((r.slot or 0 for recs in applied.values() for r in recs), default=0)
    while (await stack.client.rpc.get_slot(commitment=Finalized)).value < last:
        await asyncio.sleep(0.05)
    for stream, recs in applied.items():
        reader.mark_finalized(stream, [r.seq for r in recs])
    return last


async def next_epoch(stack, after: int, what: str, min_slot: int = 0) -> dict:
    """The first epoch after `after` taken at `min_slot` or later (the indexer publishes epochs from its
    start: one taken before the test's positions were on chain has no roots for them)."""
    return await stack.wait_for(lambda b: b["epoch"] > after and b["slot"] >= min_slot, what, timeout=60,
                                path="/v1/proof/latest")


async def test_epochs_are_backed_and_a_users_proof_verifies_on_chain(indexer_stack, tmp_path):
    s = indexer_stack
    last = await settle_and_finalize(s)
    body = await next_epoch(s, -1, "a proof epoch over the test's positions", min_slot=last)
    roots = {(r["ticker"], r["asset"]): r for r in body["roots"]}
    assert roots[(s.ticker, "yes")]["sum"] == roots[(s.ticker, "no")]["sum"] == 10 * ONE  # stack: 10 sets of a and b
    db = connect(s.db_url)
    try:
        with LQ.snapshot(db) as conn:
            cash = LQ.custodial_totals(conn).cash()
    finally:
        db.dispose()
    assert roots[(None, "cash")]["sum"] == cash
    for root in roots.values():
        assert root["custody_balance_historical"] is True
        assert root["sum"] <= root["custody_balance"], root

    for user, asset in [("a", "yes"), ("b", "no"), ("a", "cash")]:
        proof = proof_of(s, user, asset)
        path = tmp_path / f"{user}-{asset}.json"
        path.write_text(json.dumps(proof.to_json()))
        out = verify_proof_cli(path, s.rpc_url)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "OK:" in out.stdout and f"held at slot {proof.slot}" in out.stdout


async def test_a_ledger_claiming_more_than_custody_holds_fails_verification(indexer_stack, tmp_path):
    s = indexer_stack
    await settle_and_finalize(s)
    before = await next_epoch(s, -1, "an epoch")
    s.tamper_ledger(5 * ONE)  # a's YES in the ledger grows behind the service's back; custody does not
    try:
        body = await next_epoch(s, before["epoch"], "an epoch over the tampered ledger")
        yes = next(r for r in body["roots"] if (r["ticker"], r["asset"]) == (s.ticker, "yes"))
        assert yes["sum"] == 15 * ONE and yes["custody_balance"] == 10 * ONE
        proof = proof_of(s, "a", "yes", after_epoch=before["epoch"])
        assert proof.balance == 15 * ONE
        path = tmp_path / "tampered.json"
        path.write_text(json.dumps(proof.to_json()))
        out = verify_proof_cli(path, s.rpc_url)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"FAILED: backing: root.sum {15 * ONE} exceeds the custody account's balance {10 * ONE}" in out.stdout
    finally:
        s.heal_ledger(5 * ONE)
