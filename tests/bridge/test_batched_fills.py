"""Many records in one transaction, on localnet: a wallet order filled by many custodial
commands while the bridge is stopped, then cancelled. Started, the bridge packs the fills (one
settle_fills where the program has it) with the close_order after them, and the chain agrees:
the order's fills are all there once, the refund went, custody == ledger, seqs <-> events."""
from __future__ import annotations

import pytest
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from bridge import store as S
from chain import instructions as ix
from chain import pdas
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.instructions import OrderSide
from chain.setup import fund_collateral
from chain.tokens import ata, create_ata_ix
from exchange import wallet_orders as WO

from .harness import ONE, run_bridge_until_applied

pytestmark = pytest.mark.localnet

FILLS = 30


async def place_wallet_order(w, ticker: str, size: int, limit: int) -> tuple[WO.PlacedOrder, Keypair]:
    async with ChainClient(w.rpc_url, w.keys.admin, poll_seconds=0.05) as c:
        mint = (await c.fetch("Exchange", pdas.exchange(c.program_id))).collateral_mint
        m = ix.market_of(c, ticker)
        max_fee = WO.fee_budget(size, limit, "buy", WO.market_rates(w.svc, ticker))
        wallet = Keypair()
        await c.airdrop(wallet.pubkey(), LAMPORTS_PER_SOL)
        await fund_collateral(c, w.keys, wallet.pubkey(), 2 * size, mint)
        await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), wallet.pubkey(), m.yes_mint)])
        res = await ix.place_order(c, wallet, ticker, nonce=1, side=OrderSide.BUY_YES, limit_price=limit, size=size,
                                   max_fee=max_fee, collateral_mint=mint)
        ev = next(e for e in res.events if e.name == "OrderPlaced")  # read from wherever the program emits it
        return WO.PlacedOrder(str(ev.data.order), ticker, str(wallet.pubkey()), "yes", "buy", limit, size, max_fee,
                              ev.data.escrowed, order_id=getattr(ev.data, "order_id", 0)), wallet


async def test_many_fills_of_one_order_and_its_close_go_in_few_transactions(world):
    w = world
    ticker = w.market("BF")
    w.order("a", ticker, "yes", "buy", FILLS, 50)  # the seller gets its YES from a mint match
    w.order("b", ticker, "no", "buy", FILLS, 50)
    await run_bridge_until_applied(w)  # the market exists on chain before the wallet can order in it
    placed, wallet = await place_wallet_order(w, ticker, (FILLS + 5) * ONE, 600_000)
    WO.place(w.svc, placed)
    for _ in range(FILLS):  # one custodial command per fill: FILLS groups of one settle_fill each
        w.order("a", ticker, "yes", "sell", 1, 60)
    WO.cancel_requested(w.svc, placed.order, placed.order_id)  # the rest (5) is refunded by close_order

    bridge = await run_bridge_until_applied(w, lookup_tables=True, timeout=120)
    await w.check()

    # this run's rows (the first run's custody_mint_set may have failed once: custody's cash,
    # funded on the other stream, had not landed yet; retried at the head, as the README says)
    first_wallet_seq = min(r.seq for r in w.reader().records(ticker, 0, 10_000) if r.kind == "settle_fill")
    rows = [r for r in bridge.store.rows(ticker) if r.raw and max(r.seqs) >= first_wallet_seq]
    assert not [r for r in rows if r.status in (S.FAILED, S.EXPIRED)], "a transaction failed: packed in an order the program refused?"
    kinds = {r.seq: r.kind for r in w.reader().records(ticker, 0, 10_000)}
    fill_rows = [r for r in rows if any(kinds[s] == "settle_fill" for s in r.seqs)]
    per_tx = [sum(kinds[s] == "settle_fill" for s in r.seqs) for r in fill_rows]
    assert sum(per_tx) == FILLS
    close_seq = next(s for s, k in kinds.items() if k == "close_order")
    close_row = next(r for r in rows if close_seq in r.seqs)
    async with ChainClient(w.rpc_url, Keypair()) as c:
        order = Pubkey.from_string(placed.order)
        assert (await c.rpc.get_account_info(order, commitment=Confirmed)).value is None, "close_order did not close it"
        yes = await c.token_balance(ata(wallet.pubkey(), ix.market_of(c, ticker).yes_mint), Confirmed)
        assert yes == FILLS * ONE  # every fill once
        if bridge.mapper.batched_fills:
            assert max(per_tx) >= 20, f"fills per transaction: {per_tx}"
            tx = VersionedTransaction.from_bytes(close_row.raw)
            names = [c.program.coder.instruction.parse(bytes(i.data)).name for i in tx.message.instructions]
            assert "settle_fills" in names or close_row is not fill_rows[-1]
            if "settle_fills" in names:  # the close_order after the fills it follows
                assert names[-1] == "close_order" and names.index("settle_fills") < names.index("close_order")
        else:  # the v1.1 program: at most MAX_BRIDGE_TX_INSTRUCTIONS per transaction
            assert max(per_tx) <= bridge.builder.max_instructions
