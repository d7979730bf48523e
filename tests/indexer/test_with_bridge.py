"""The indexer with the real bridge (`tandem bridge`): custodial traffic of every match kind and
a withdrawal reconcile to ok; the bridge killed -> the lag shows as a break; restarted -> it clears."""
from __future__ import annotations

import pytest
from solders.keypair import Keypair

from chain import instructions as ix
from chain.tokens import ata, create_ata_ix
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
    assert row["sets"] == row["yes_supply"] == row["no_supply"] > 10 * ONE
    assert await s.client.token_balance(ata(wallet, ix.market_of(s.client, s.ticker).yes_mint)) == ONE, "the withdrawal reached the wallet"

    s.bridge.kill9()
    s.mint_sets(s.ticker, 1)
    body = await s.wait_for(lambda b: open_breaks(b, "bridge_lag", s.ticker), "a bridge_lag break while the bridge is down")
    assert s.row(body)["outbox_seq"] > s.row(body)["applied_seq"] and not open_breaks(body, "custody_yes")
    s.bridge.start()
    body = await s.settle(timeout=60)
    body = await s.wait_for(lambda b: b["ok"], "every break cleared after the bridge came back")
    assert s.get("/v1/bridge")["landed_total"] >= 6


async def test_a_bridge_instruction_outside_the_ledger_is_caught(bridged_stack):
    """The bridge key used behind the ledger's back (a fill the CLOB never made): the indexer
    sees a sequenced event with no ledger record, and custody short of the custodial positions;
    the wallet order and every balance it moved are still derived right from the events."""
    from chain import pdas
    from tests.indexer.conftest import funded_wallet

    s = bridged_stack
    await s.settle(timeout=60)
    kp, collateral = await funded_wallet(s)
    c, m = s.client, ix.market_of(s.client, s.ticker)
    yes = ata(kp.pubkey(), m.yes_mint)
    await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), kp.pubkey(), m.yes_mint)])
    placed = await ix.place_order(c, kp, s.ticker, nonce=5, side=ix.OrderSide.BUY_YES, limit_price=500_000, size=2 * ONE,
                                  max_fee=40_000, collateral_mint=s.collateral_mint, source=collateral)
    order, order_id = placed.events[0].data.order, placed.events[0].data.order_id
    market = await c.fetch("Market", m.market)
    rogue_seq = market.window.highest + 200  # far from the bridge's next seqs, inside the window
    fill = await ix.settle_fill(c, s.keys.bridge, ticker=s.ticker, order=order, order_id=order_id, side=ix.OrderSide.BUY_YES,
                                seq=rogue_seq, size=ONE, price=450_000, fee=10_000, wallet_account=yes)
    assert [e.name for e in fill.events] == ["FillSettled"]
    body = await s.wait_for(lambda b: open_breaks(b, "seq_unknown", s.ticker) and open_breaks(b, "custody_yes", s.ticker),
                            "seq_unknown and custody_yes for the rogue fill")
    assert f"{rogue_seq} (FillSettled on chain, no ledger record)" in open_breaks(body, "seq_unknown", s.ticker)[0]["detail"]
    assert "1000000 short" in open_breaks(body, "custody_yes", s.ticker)[0]["detail"]
    assert not open_breaks(body, "wallet_limit"), "within the order's limit, size and fee budget"
    orders = s.get("/v1/wallet_orders")
    (o,) = [x for x in orders["orders"] if x["order"] == str(order)]
    assert (o["status"], o["filled"]) == ("open", ONE)
    escrow = str(pdas.escrow(c.program_id, order))
    check = await s.wait_for(lambda ch: ch["slot"] >= fill.slot, "a balance check after the fill", path="/v1/balance_checks/latest")
    assert not {d["account"] for d in check["detail"]} & {escrow, str(m.custody_yes), str(pdas.custody_collateral(c.program_id))}, check
    mine = {b["account"]: b for b in s.get("/v1/balances", owner=str(kp.pubkey()))["balances"]}
    assert mine[str(yes)]["from_events"] == ONE == await c.token_balance(yes)
