"""The indexer killed (kill -9) and restarted while program traffic flows: afterwards every
event is stored exactly once, finalized, and what it derived from them equals the chain."""
from __future__ import annotations

import asyncio
import random

import pytest
from solana.rpc.commitment import Finalized
from sqlalchemy import create_engine, func, select

from chain import instructions as ix
from chain.follower import ProgramFollower
from chain.tokens import ata, create_ata_ix
from indexer import models as T
from tests.indexer.conftest import ONE

pytestmark = pytest.mark.localnet


async def traffic(s, kp, collateral, n: int) -> None:
    """`n` wallet transactions (mint and merge sets), with custodial trades applied in between."""
    m = ix.market_of(s.client, s.ticker)
    yes, no = ata(kp.pubkey(), m.yes_mint), ata(kp.pubkey(), m.no_mint)
    await s.client.send_and_confirm([create_ata_ix(s.client.payer.pubkey(), kp.pubkey(), m.yes_mint),
                                     create_ata_ix(s.client.payer.pubkey(), kp.pubkey(), m.no_mint)])
    for i in range(n):
        if i % 3 == 2:
            await ix.merge_set(s.client, kp, s.ticker, ONE, user_collateral=collateral, user_yes=yes, user_no=no)
        else:
            # two program instructions in one transaction: distinct instruction indexes
            await s.client.send_and_confirm([
                ix.mint_set_ix(s.client, user=kp.pubkey(), ticker=s.ticker, amount=ONE, user_collateral=collateral, user_yes=yes, user_no=no),
                ix.mint_set_ix(s.client, user=kp.pubkey(), ticker=s.ticker, amount=ONE, user_collateral=collateral, user_yes=yes, user_no=no),
            ], [kp])
        if i % 10 == 0:
            s.mint_sets(s.ticker, 1)
            await s.applier.apply_all()


async def test_kill9_mid_stream_loses_nothing_and_counts_nothing_twice(indexer_stack, wallet):
    s = indexer_stack
    kp, collateral = wallet
    rng = random.Random(7)
    load = asyncio.create_task(traffic(s, kp, collateral, 36))
    kills = 0
    while not load.done():
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        s.indexer.kill9()
        kills += 1
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        s.indexer.start()
    await load
    assert kills >= 2
    last = (await s.client.rpc.get_slot()).value

    # what the chain says, read afresh from the first program transaction
    follower = ProgramFollower.from_client(s.client, Finalized)
    expected: set[tuple[str, int, int]] = set()
    while True:
        expected.clear()
        synced = 0
        async for batch in follower.pass_once(None):
            expected |= {(tx.signature, ev.instruction_index, ev.event_index) for tx in batch.txs for ev in tx.events}
            synced = batch.synced_slot or synced
        if synced >= last:
            break
        await asyncio.sleep(0.1)
    await s.wait_for(lambda st: st["checkpoints"]["finalized"]["synced_slot"] >= synced, "the indexer to catch up", path="/v1/status", timeout=60)

    engine = create_engine(s.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(T.events.c.signature, T.events.c.instruction_index, T.events.c.event_index, T.events.c.finalized)
                                .where(T.events.c.slot <= synced)).all()
            sequenced = conn.execute(select(func.count()).select_from(T.events).where(T.events.c.seq > 0, T.events.c.slot <= synced)).scalar_one()
    finally:
        engine.dispose()
    stored = [(sig, i, e) for sig, i, e, _ in rows]
    assert len(stored) == len(set(stored)), "an event stored twice"
    assert set(stored) == expected, f"missing {len(expected - set(stored))}, extra {len(set(stored) - expected)}"
    assert all(fin for *_, fin in rows), "every event at or below the finalized checkpoint is finalized"
    two = [k for k in expected if k[1] == 1]
    assert two, "transactions with two program instructions were indexed by instruction"

    # derived state applied exactly once: the wallet's YES/NO from events alone equal the chain
    m = ix.market_of(s.client, s.ticker)
    yes, no = ata(kp.pubkey(), m.yes_mint), ata(kp.pubkey(), m.no_mint)
    balances = {b["account"]: b for b in s.get("/v1/balances", owner=str(kp.pubkey()))["balances"]}
    for account in (yes, no):
        assert balances[str(account)]["from_events"] == await s.client.token_balance(account, Finalized)
    body = await s.settle()
    assert body["ok"], body["breaks"]
    assert s.get("/v1/bridge")["landed_total"] >= sequenced
    # invariant 3's progress survives restarts: every seq of the streams verified, and stored
    streams = s.applier.reader.streams()
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        engine = create_engine(s.db_url)
        try:
            with engine.connect() as conn:
                progress = dict(conn.execute(select(T.seq_progress.c.stream, T.seq_progress.c.verified_through)).all())
        finally:
            engine.dispose()
        if all(progress.get(st) == last for st, last in streams.items()) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert {st: progress.get(st) for st in streams} == streams
