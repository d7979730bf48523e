"""The indexer with the real bridge (`tandem bridge`): custodial traffic of every match kind and
a withdrawal reconcile to ok; the bridge killed -> the lag shows as a break; restarted -> it clears."""
from __future__ import annotations

import pytest
from solders.keypair import Keypair

from chain import instructions as ix
from chain.tokens import ata
from tests.indexer.conftest import ONE, open_breaks

pytestmark = pytest.mark.localnet


async def test_real_bridge_traffic_reconciles_then_a_killed_bridge_lags(bridged_stack):
    s = bridged_stack
    s.user("c")
    for _ in range(2):
        s.order("a", s.ticker, "yes", "buy", 10, 60)   # rests
        s.order("b", s.ticker, "no", "buy", 10, 40)    # mint: 10 sets
        s.order("a", s.ticker, "yes", "sell", 4, 62)   # rests
        s.order("c", s.ticker, "yes", "buy", 4, 62)    # transfer a -> c
        s.order("c", s.ticker, "yes", "sell", 3, 55)   # rests
        s.order("b", s.ticker, "no", "sell", 3, 45)    # merge: 3 sets
    wallet = Keypair().pubkey()
    s.svc.withdraw_position(s.users["c"], s.ticker, "yes", 1 * ONE, str(wallet))
    body = await s.settle(timeout=60)
    row = s.row(body)
    assert body["ok"], body["breaks"]
    assert row["custody_yes"] == row["ledger_yes"] and row["custody_no"] == row["ledger_no"]
    assert row["sets"] == row["yes_supply"] == (10 + 2 * 7) * ONE
    assert await s.client.token_balance(ata(wallet, ix.market_of(s.client, s.ticker).yes_mint)) == ONE, "the withdrawal reached the wallet"

    s.bridge.kill9()
    s.mint_sets(s.ticker, 1)
    body = await s.wait_for(lambda b: open_breaks(b, "bridge_lag", s.ticker), "a bridge_lag break while the bridge is down")
    assert s.row(body)["outbox_seq"] > s.row(body)["applied_seq"] and not open_breaks(body, "custody_yes")
    s.bridge.start()
    body = await s.settle(timeout=60)
    body = await s.wait_for(lambda b: b["ok"], "every break cleared after the bridge came back")
    assert s.get("/v1/bridge")["landed_total"] >= 6
