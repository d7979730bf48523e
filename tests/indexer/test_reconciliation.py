"""The real `tandem indexer` on localnet and a real exchange database: each break made to
happen for real appears with its kind (and the slot first seen), then clears when healed.

The chain is the stack's own (tests/indexer/conftest.py); the bridge is the test applier
(tests/indexer/applier.py), which the tests stop, or make skip or lie about a record. Every
test runs on SQLite and on PostgreSQL (the exchange's and the indexer's tables in one database).
"""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import TransferCheckedParams, transfer_checked

from chain import instructions as ix
from chain import pdas
from chain.tokens import DECIMALS, ata, create_ata_ix
from tests.indexer.conftest import ONE, open_breaks

pytestmark = pytest.mark.localnet


async def test_reconciliation_is_served_exactly_as_designed_and_agrees(any_stack):
    s = any_stack
    body = await s.settle()
    assert set(body) == {"slot", "ok", "markets", "cash", "breaks"}
    assert body["ok"] is True and body["breaks"] == []
    row = s.row(body)
    assert set(row) == {"ticker", "yes_supply", "no_supply", "sets", "vault", "custody_yes", "custody_no", "ledger_yes",
                        "ledger_no", "outbox_seq", "applied_seq"}
    assert row["yes_supply"] == row["no_supply"] == row["sets"] == row["vault"] == 10 * ONE
    assert row["custody_yes"] == row["ledger_yes"] == 10 * ONE and row["custody_no"] == row["ledger_no"] == 10 * ONE
    assert row["outbox_seq"] == row["applied_seq"] == s.applier.reader.streams()[s.ticker]
    assert set(body["cash"]) == {"custody", "ledger"} and body["cash"]["custody"] >= body["cash"]["ledger"] > 0
    custody_cash = await s.client.token_balance(pdas.custody_collateral(s.client.program_id))
    assert body["cash"]["custody"] <= custody_cash, "read at finalized: never ahead of confirmed"


async def test_custody_equals_ledger_while_the_bridge_lags(any_stack):
    """The ledger is taken back to what the chain applied: pending records are no break."""
    s = any_stack
    s.mint_sets(s.ticker, 3)  # ledger moves first; chain not yet
    body = await s.wait_for(lambda b: s.row(b)["outbox_seq"] > s.row(b)["applied_seq"], "a pending record")
    row = s.row(body)
    assert row["ledger_yes"] == row["custody_yes"], row
    # (a bridge_lag break may open if this takes longer than the test's 3 s lag limit: not what is checked here)
    assert not [b for b in body["breaks"] if b["kind"] != "bridge_lag"], body["breaks"]
    body = await s.settle()
    assert s.row(body)["custody_yes"] == s.row(body)["ledger_yes"] == 13 * ONE and body["ok"]


async def test_a_ledger_row_changed_behind_the_back_breaks_custody_then_heals(any_stack):
    s = any_stack
    await s.settle()
    start = (await s.client.rpc.get_slot()).value
    s.tamper_ledger(7 * ONE)
    body = await s.wait_for(lambda b: open_breaks(b, "custody_yes", s.ticker), "a custody_yes break")
    (b,) = open_breaks(body, "custody_yes", s.ticker)
    assert b["first_slot"] >= start - 64 and "7000000 short" in b["detail"] and not body["ok"]
    assert s.row(body)["ledger_yes"] == s.row(body)["custody_yes"] + 7 * ONE
    first = b["first_slot"]
    await asyncio.sleep(1.0)
    still = open_breaks(s.get("/v1/reconciliation"), "custody_yes", s.ticker)
    assert still and still[0]["first_slot"] == first, "a lasting break keeps the slot it was first seen"
    s.heal_ledger(7 * ONE)
    body = await s.wait_for(lambda b: not open_breaks(b, "custody_yes", s.ticker), "the break to clear")
    history = s.get("/v1/breaks")["breaks"]
    cleared = [h for h in history if h["kind"] == "custody_yes" and h["ticker"] == s.ticker and h["first_slot"] == first]
    assert cleared and cleared[0]["cleared_slot"] >= first
    posted = [w for w in s.webhook.received if w["kind"] == "custody_yes" and w["first_slot"] == first]
    assert [w["state"] for w in posted] == ["open", "cleared"], "the webhook heard both transitions"


async def test_cash_changed_behind_the_back_breaks_cash_backing(any_stack):
    s = any_stack
    body = await s.settle()
    excess = body["cash"]["custody"] - body["cash"]["ledger"]
    s.tamper_ledger(excess + 5, user="b", asset="USD")
    body = await s.wait_for(lambda b: open_breaks(b, "cash"), "a cash break")
    (b,) = open_breaks(body, "cash")
    assert b["ticker"] is None and "5 short" in b["detail"]
    s.heal_ledger(excess + 5, user="b", asset="USD")
    await s.wait_for(lambda b: not open_breaks(b, "cash"), "the cash break to clear")


async def test_a_skipped_bridge_record_is_missing_until_it_lands(any_stack):
    s = any_stack
    await s.settle()
    s.mint_sets(s.ticker, 2)
    s.mint_sets(s.ticker, 4)
    pending = s.applier.reader.pending(s.ticker, s.applier.reader.applied_seq(s.ticker))
    mints = [r for r in pending if r.kind == "custody_mint_set"]
    skipped = mints[0]
    s.applier.skip.add((s.ticker, skipped.seq))  # never sent, but marked applied (a buggy bridge)
    await s.applier.apply_all()
    body = await s.wait_for(lambda b: open_breaks(b, "seq_missing", s.ticker), "a seq_missing break")
    (b,) = open_breaks(body, "seq_missing", s.ticker)
    assert f"[{skipped.seq}]" in b["detail"]
    # invariant 2 still holds: the indexer takes the ledger back to what the chain applied
    assert not open_breaks(body, "custody_yes", s.ticker)
    assert s.row(body)["custody_yes"] == s.row(body)["ledger_yes"]
    s.applier.skip.clear()
    await s.applier.apply_seqs(s.ticker, [skipped.seq])
    body = await s.wait_for(lambda b: not open_breaks(b, "seq_missing", s.ticker), "seq_missing to clear")
    assert body["ok"], body["breaks"]


async def test_tokens_sent_to_custody_by_plain_transfer_are_unattributed_excess(any_stack, any_wallet):
    s = any_stack
    kp, collateral = any_wallet
    body = await s.settle()
    before = s.row(body)
    m = ix.market_of(s.client, s.ticker)
    yes, no = ata(kp.pubkey(), m.yes_mint), ata(kp.pubkey(), m.no_mint)
    await s.client.send_and_confirm([create_ata_ix(s.client.payer.pubkey(), kp.pubkey(), m.yes_mint),
                                     create_ata_ix(s.client.payer.pubkey(), kp.pubkey(), m.no_mint)])
    await ix.mint_set(s.client, kp, s.ticker, 2 * ONE, user_collateral=collateral, user_yes=yes, user_no=no)
    await s.client.send_and_confirm([transfer_checked(TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID, source=yes, mint=m.yes_mint, dest=m.custody_yes, owner=kp.pubkey(), amount=ONE, decimals=DECIMALS))], [kp])
    body = await s.wait_for(lambda b: s.row(b)["custody_yes"] == before["custody_yes"] + ONE, "custody to show the transfer")
    row = s.row(body)
    assert row["custody_yes"] - row["ledger_yes"] == ONE, "shown as excess"
    assert body["ok"] and not open_breaks(body, "custody_yes"), "excess is not a break"
    assert row["sets"] == before["sets"] + 2 * ONE and row["yes_supply"] == row["sets"]
    # the derived balances (events only) miss the plain transfer: the account check names it
    check = await s.wait_for(
        lambda c: any(d["account"] == str(m.custody_yes) and d["actual"] - d["derived"] == ONE for d in c["detail"]),
        "the balance check to see the custody account off by the transfer", path="/v1/balance_checks/latest")
    assert [d["account"] for d in check["detail"]] == [str(m.custody_yes)], "only custody: wallets' transfers are learned"
    balances = await s.wait_for(lambda b: any(x["account"] == str(yes) and x["amount"] == ONE for x in b["balances"]),
                                "the wallet's YES balance as read", path=f"/v1/balances?owner={kp.pubkey()}")
    held = {(b["asset"], b["ticker"]): b["amount"] for b in balances["balances"]}
    assert held[("yes", s.ticker)] == ONE and held[("no", s.ticker)] == 2 * ONE
    assert held[("collateral", None)] == await s.client.token_balance(collateral)


async def test_a_stopped_bridge_shows_lag_then_clears(any_stack):
    s = any_stack
    await s.settle()
    s.mint_sets(s.ticker, 1)  # the applier is "stopped": nothing goes out
    body = await s.wait_for(lambda b: open_breaks(b, "bridge_lag", s.ticker), "a bridge_lag break", timeout=30)
    (b,) = open_breaks(body, "bridge_lag", s.ticker)
    assert "records behind" in b["detail"]
    bridge = s.get("/v1/bridge")
    stream = next(x for x in bridge["streams"] if x["stream"] == s.ticker)
    assert stream["lag"] >= 1 and stream["oldest_pending_ms"] is not None
    await s.settle()
    body = await s.wait_for(lambda b: not open_breaks(b, "bridge_lag"), "bridge_lag to clear")
    assert body["ok"], body["breaks"]
    landed = s.get("/v1/bridge")["landed_total"]
    assert landed >= 4, "sequenced events counted"


async def test_history_stream_and_wallet_orders_endpoints(any_stack):
    s = any_stack
    await s.settle()
    history = s.get("/v1/reconciliation/history", limit=5)["samples"]
    assert 1 <= len(history) <= 5 and history == sorted(history, key=lambda h: h["slot"])
    sample = history[-1]
    assert set(sample) == {"slot", "time_ms", "cash", "markets", "landed_total", "breaks"}
    assert any(m["ticker"] == s.ticker for m in sample["markets"])
    orders = s.get("/v1/wallet_orders")
    assert set(orders) == {"slot", "force_close_slots", "counts", "orders"} and orders["force_close_slots"] == 5
    # the live push: the first event is the current reconciliation
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{s.url}/v1/stream") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            lines = []
            async for line in resp.aiter_lines():
                lines.append(line)
                if line.startswith("data:") and len([x for x in lines if x.startswith("data:")]) >= 2:
                    break
    assert lines[0] == "event: reconciliation"
    first = json.loads(lines[1][len("data: "):])
    assert set(first) == {"slot", "ok", "markets", "cash", "breaks"}


async def test_wallet_orders_follow_the_chain_from_placed_to_force_closed(any_stack, any_wallet):
    s = any_stack
    kp, collateral = any_wallet
    c = s.client
    m = ix.market_of(c, s.ticker)
    nonce = 77
    order = pdas.wallet_order(c.program_id, m.market, kp.pubkey(), nonce)
    placed = await ix.place_order(c, kp, s.ticker, nonce=nonce, side=ix.OrderSide.BUY_YES, limit_price=400_000, size=2 * ONE,
                                  max_fee=20_000, collateral_mint=s.collateral_mint, source=collateral)
    assert [e.name for e in placed.events] == ["OrderPlaced"]

    def live(body):
        return next((o for o in body["orders"] if o["order"] == str(order)), None)

    body = await s.wait_for(lambda b: live(b) and live(b)["status"] == "open", "the order open (finalized)", path="/v1/wallet_orders")
    assert live(body)["count"] == 2 * ONE and live(body)["ticker"] == s.ticker and body["counts"]["open"] >= 1
    cancel = await ix.request_cancel(c, kp, order)
    deadline = cancel.events[0].data.force_close_slot
    body = await s.wait_for(lambda b: live(b) and live(b)["status"] == "cancel_requested", "cancel_requested", path="/v1/wallet_orders")
    assert live(body)["force_close_slot"] == deadline == live(body)["cancel_requested_slot"] + body["force_close_slots"]
    while (await c.rpc.get_slot()).value < deadline:
        await asyncio.sleep(0.05)
    closed = await ix.force_close(c, kp, order, collateral)
    assert [e.name for e in closed.events] == ["OrderClosed"] and closed.events[0].data.seq == 0
    body = await s.wait_for(lambda b: live(b) is None and b["counts"]["closed"] >= 1, "the order closed", path="/v1/wallet_orders")
    # the escrow, derived from events alone, is back to zero, and the account check agrees
    escrow = str(pdas.escrow(c.program_id, order))
    balances = {b["account"]: b for b in s.get("/v1/balances", owner=str(order))["balances"]}
    assert balances[escrow]["from_events"] == 0
    check = await s.wait_for(lambda ch: ch["slot"] >= closed.slot, "a balance check after the close", path="/v1/balance_checks/latest")
    assert escrow not in {d["account"] for d in check["detail"]}, check
    body = await s.wait_for(lambda b: b["slot"] >= closed.slot, "a reconciliation after the close")
    assert not open_breaks(body, "seq_unknown") and not open_breaks(body, "wallet_limit"), body["breaks"]
