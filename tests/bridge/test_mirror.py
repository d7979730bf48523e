"""Custodial traffic mirrored onto the chain, exactly once (localnet, SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest

from bridge import store as S
from exchange import outbox as O

from .harness import run_bridge_until_applied, trade_mix

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
