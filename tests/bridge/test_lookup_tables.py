"""v0 transactions with the market's address lookup table (created and extended by the bridge)."""
from __future__ import annotations

import pytest
from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from .harness import run_bridge_until_applied, trade_mix

pytestmark = pytest.mark.localnet


async def test_v0_transactions_with_a_lookup_table_per_market(world):
    w = world
    ticker = w.market("L")
    trade_mix(w, ticker, rounds=3)
    bridge = await run_bridge_until_applied(w, lookup_tables=True)
    await w.check()
    table = bridge.store.lookup_table(ticker)
    assert table is not None and table[1], "the bridge made no lookup table for the market"
    sent = [VersionedTransaction.from_bytes(r.raw) for r in bridge.store.rows(ticker) if r.raw]
    v0 = [t for t in sent if isinstance(t.message, MessageV0) and t.message.address_table_lookups]
    assert v0, "no v0 transaction used the lookup table"
    assert all(str(t.message.address_table_lookups[0].account_key) == table[0] for t in v0)
