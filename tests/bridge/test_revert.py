"""A settle_fill the program refuses for good: the wallet force-closed its order (the operator
had not answered its cancel request) before the bridge settled a fill of it. The bridge
reverts the fill in the ledger (compensating entries and records) and the stream goes on."""
from __future__ import annotations

import asyncio

import pytest
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair

from bridge import store as S
from chain import instructions as ix
from chain import pdas
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.instructions import OrderSide
from chain.pdas import MarketAddresses
from chain.setup import fund_collateral
from chain.tokens import ata, create_ata_ix
from exchange import outbox as O
from exchange import wallet_orders as WO

from .harness import ONE, run_bridge_until_applied

pytestmark = pytest.mark.localnet


async def test_fill_of_a_force_closed_order_is_reverted(world):
    w = world
    ticker = w.market("R")
    await run_bridge_until_applied(w)  # the market exists on chain
    async with ChainClient(w.rpc_url, w.keys.admin, poll_seconds=0.02) as c:
        exchange = await c.fetch("Exchange", pdas.exchange(c.program_id))
        mint = exchange.collateral_mint
        m = MarketAddresses.derive(c.program_id, ticker)
        wallet = Keypair()
        await c.airdrop(wallet.pubkey(), 2 * LAMPORTS_PER_SOL)
        await fund_collateral(c, w.keys, wallet.pubkey(), 100 * ONE, mint)
        await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), wallet.pubkey(), m.yes_mint)])
        size, limit = 5 * ONE, 600_000
        rates = WO.market_rates(w.svc, ticker)
        max_fee = WO.fee_budget(size, limit, "buy", rates)
        placed_tx = await ix.place_order(c, wallet, ticker, nonce=1, side=OrderSide.BUY_YES, limit_price=limit, size=size,
                                         max_fee=max_fee, collateral_mint=mint)
        event = next(e for e in placed_tx.events if e.name == "OrderPlaced")
        order = event.data.order
        WO.place(w.svc, WO.PlacedOrder(str(order), ticker, str(wallet.pubkey()), "yes", "buy", limit, size, max_fee,
                                       event.data.escrowed, order_id=getattr(event.data, "order_id", 0)))
        # the operator never answers the cancel request: the wallet takes its escrow back
        await ix.request_cancel(c, wallet, order)
        start = (await c.rpc.get_slot(Confirmed)).value
        while (await c.rpc.get_slot(Confirmed)).value < start + 8:
            await asyncio.sleep(0.05)
        await ix.force_close(c, wallet, order, refund_account=ata(wallet.pubkey(), mint))
    # before the relay has seen the force_close, a custodial user sells YES into the order
    # (buys NO at 0.40 = an ask at 0.60: a mint match, custody creates the set and hands YES out)
    w.order("a", ticker, "no", "buy", 5, 40)
    fills = [r for r in w.reader().records(ticker, 0, 1000) if r.kind == "settle_fill"]
    assert len(fills) == 1
    bridge = await run_bridge_until_applied(w)
    after = w.reader().get(ticker, fills[0].seq)
    assert after.status == O.REVERTED
    reverted = [r for r in bridge.store.rows(ticker) if r.status == S.REVERTED]
    assert [r.seqs for r in reverted] == [[fills[0].seq]]
    # the compensating group (custody_merge_set of the set the fill minted) went out too
    kinds = [r.kind for r in w.reader().records(ticker, fills[0].seq, 1000)]
    assert "custody_merge_set" in kinds
    await w.check()
