"""Custodial traffic mirrored onto the chain, exactly once (localnet, SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest

from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair

from bridge import store as S
from chain import pdas
from chain.client import ChainClient
from exchange import outbox as O

from .harness import ONE, run_bridge_until_applied, trade_mix

pytestmark = pytest.mark.localnet


async def test_custodial_trades_reach_custody(world):
    w = world
    ticker = w.market()
    trade_mix(w, ticker, rounds=3)
    bridge = await run_bridge_until_applied(w)
    await w.check()
    kinds = {r.kind for s in w.reader().streams() for r in w.reader().records(s, 0, 10_000)}
    assert {"create_market", "custody_fund", "custody_mint_set", "custody_merge_set"} <= kinds
    latest = {}
    for row in bridge.store.rows():  # a later row for a seq supersedes an expired or failed one
        for seq in row.seqs:
            latest[(row.stream, seq)] = row.status
    assert latest and all(status in S.DONE for status in latest.values())


async def test_restart_sends_nothing_twice(world):
    """A second bridge on the same database finds everything applied and sends nothing."""
    w = world
    ticker = w.market()
    trade_mix(w, ticker, rounds=1)
    first = await run_bridge_until_applied(w)
    before = len(first.store.rows())
    trade_mix(w, ticker, rounds=1)
    second = await run_bridge_until_applied(w)
    rows = second.store.rows()
    assert len(rows) > before
    await w.check()


async def test_settlement_redeems_custody_on_chain(world):
    """Finalize pays custodial holders in the ledger; custody must redeem their tokens on chain
    (`custody_redeem`), or custody keeps tokens nobody holds and its collateral falls short of
    the cash the settlement credited (w.check: custody YES/NO == ledger, collateral >= cash)."""
    w = world
    ticker = w.market()
    trade_mix(w, ticker, rounds=2)
    await run_bridge_until_applied(w)
    w.svc.close_market(ticker)
    w.svc.determine(ticker, 700_000)  # YES pays $0.70, NO $0.30
    w.svc.finalize(ticker)
    await run_bridge_until_applied(w)
    await w.check()
    records = w.reader().records(ticker, 0, 10_000)
    redeem = [r for r in records if r.kind == "custody_redeem"]
    assert len(redeem) == 1 and redeem[0].status == O.APPLIED and redeem[0].signature
    yes, no = redeem[0].record.yes_amount, redeem[0].record.no_amount
    assert yes > 0 and no > 0  # custodial YES and NO were held at settlement
    assert redeem[0].record.payout == (yes * 700_000 + no * 300_000) // ONE
    assert records[-1].seq == redeem[0].seq and records[-2].kind == "finalize"  # after the lifecycle barrier
    async with ChainClient(w.rpc_url, Keypair()) as c:
        market = await c.fetch("Market", pdas.market(c.program_id, ticker), commitment=Confirmed)
        assert type(market.status).__name__ == "Finalized"
