"""Transactions per second through localnet, and how many `settle_fill`s fit in one transaction.

`.venv/bin/python -m bench localnet` starts its own localnet (free port), brings the
chain up as `tandem chain init` does, then measures, with several concurrent senders:

- `mint_set`: each sender pipelines its transactions (send, don't wait), then all are
  awaited at `confirmed`; figure = transactions / (first send -> last confirmed);
- the same with each sender waiting for every confirmation before the next send
  (latency-bound: what one synchronous client gets);
- batches of `settle_fill` (the bridge's hot path): as many fills per transaction as fit,
  one market per sender (each market is its own sequence stream);
- the most `settle_fill`s one legacy transaction holds (1232-byte packet limit), for
  fills of distinct wallet orders and for fills of one order.

Native execution meters no compute units: on a real cluster the 1.4M CU per
transaction cap may bind before the packet size does.

Environment: BENCH_SENDERS (8), BENCH_TXS (40 per sender), BENCH_SLOT_MS (400).
"""
from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import instructions as ix
from chain import pdas
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.instructions import OrderSide
from chain.localnet import Localnet
from chain.setup import ChainKeys, ExchangeSettings, fund_collateral, init_chain
from chain.tokens import ONE, ata, create_ata_ix

PACKET_DATA_SIZE = 1232  # bytes of a serialized transaction, as on every Solana cluster


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


async def _market(c: ChainClient, keys: ChainKeys, mint: Pubkey, ticker: str) -> str:
    await ix.create_market(c, keys.admin, ticker=ticker, close_time=await c.chain_time() + 3600, collateral_mint=mint)
    return ticker


async def _pipelined(c: ChainClient, batches: list[list], signers: list[list[Keypair]]) -> float:
    """Send every transaction without waiting, then wait for all; returns elapsed seconds."""
    start = time.perf_counter()
    sigs = [await c.send(b, s) for b, s in zip(batches, signers)]
    statuses = await c.wait_for(sigs)
    failed = [s for s in statuses if s.err is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} transactions failed: {failed[0].err}")
    return time.perf_counter() - start


async def bench_mint_set(c: ChainClient, keys: ChainKeys, mint: Pubkey, senders: int, txs: int) -> None:
    ticker = await _market(c, keys, mint, "BENCH-MINT")
    m = ix.market_of(c, ticker)
    users = [Keypair() for _ in range(senders)]

    async def fund(u: Keypair) -> None:
        await fund_collateral(c, keys, u.pubkey(), 10_000 * ONE, mint)
        await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), u.pubkey(), m.yes_mint), create_ata_ix(c.payer.pubkey(), u.pubkey(), m.no_mint)])

    await asyncio.gather(*[fund(u) for u in users])

    def one(u: Keypair, i: int) -> list:
        # amounts differ per transaction so no two transactions are byte-identical
        return [ix.mint_set_ix(c, user=u.pubkey(), ticker=ticker, amount=ONE + i, user_collateral=ata(u.pubkey(), mint))]

    async def pipelined_sender(u: Keypair, offset: int) -> float:
        return await _pipelined(c, [one(u, offset + i) for i in range(txs)], [[u]] * txs)

    start = time.perf_counter()
    await asyncio.gather(*[pipelined_sender(u, 0) for u in users])
    elapsed = time.perf_counter() - start
    total = senders * txs
    print(f"mint_set, pipelined:      {total} tx from {senders} senders in {elapsed:.2f}s = {total / elapsed:.0f} tx/s (confirmed)")

    async def synchronous_sender(u: Keypair) -> None:
        for i in range(txs // 4):
            await c.send_and_confirm(one(u, txs + i), [u], fetch_logs=False)

    start = time.perf_counter()
    await asyncio.gather(*[synchronous_sender(u) for u in users])
    elapsed = time.perf_counter() - start
    total = senders * (txs // 4)
    print(f"mint_set, send-and-confirm: {total} tx from {senders} senders in {elapsed:.2f}s = {total / elapsed:.0f} tx/s "
          f"({elapsed / (txs // 4) * 1000:.0f} ms per confirmation)")


async def _orders(c: ChainClient, keys: ChainKeys, mint: Pubkey, ticker: str, count: int) -> list[tuple[Pubkey, int, Pubkey]]:
    """`count` open BuyYes orders on `ticker`, each from its own wallet; returns (order, order_id, wallet YES account)."""
    m = ix.market_of(c, ticker)

    async def one(i: int) -> tuple[Pubkey, int, Pubkey]:
        owner = Keypair()
        await c.airdrop(owner.pubkey(), LAMPORTS_PER_SOL)
        await fund_collateral(c, keys, owner.pubkey(), 1_000 * ONE, mint)
        await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), owner.pubkey(), m.yes_mint)])
        placed = await ix.place_order(c, owner, ticker, nonce=i, side=OrderSide.BUY_YES, limit_price=600_000, size=500 * ONE,
                                      max_fee=100 * ONE, collateral_mint=mint)
        order_id = placed.events[0].data.order_id
        return pdas.wallet_order(c.program_id, m.market, owner.pubkey(), i), order_id, ata(owner.pubkey(), m.yes_mint)

    return list(await asyncio.gather(*[one(i) for i in range(count)]))


def _fill(c: ChainClient, bridge: Pubkey, ticker: str, order: Pubkey, order_id: int, wallet: Pubkey, seq: int):
    return ix.settle_fill_ix(c, bridge=bridge, ticker=ticker, order=order, order_id=order_id, side=OrderSide.BUY_YES, seq=seq,
                             size=10_000, price=500_000, fee=0, wallet_account=wallet)


def max_fills_per_tx(c: ChainClient, bridge: Keypair, ticker: str, orders: list[tuple[Pubkey, int, Pubkey]], distinct: bool) -> int:
    """Largest n whose n-fill transaction still serializes within the packet limit."""
    n = 0
    while True:
        fills = [_fill(c, bridge.pubkey(), ticker, *(orders[i % len(orders)] if distinct else orders[0]), seq=1 + i) for i in range(n + 1)]
        # the size does not depend on the blockhash
        if len(bytes(c.sign(fills, [bridge], Hash.default()))) > PACKET_DATA_SIZE:
            return n
        n += 1
        if distinct and n >= len(orders):
            raise RuntimeError("need more orders to find the limit")


async def bench_settle_fill(admin_client: ChainClient, keys: ChainKeys, mint: Pubkey, senders: int, txs: int) -> None:
    bridge = keys.bridge
    # the bridge pays its own fees, as in production (one signature per transaction)
    async with ChainClient(admin_client.rpc_url, bridge, poll_seconds=0.05) as c:
        await c.airdrop(bridge.pubkey(), 100 * LAMPORTS_PER_SOL)
        await _bench_settle_fill(c, keys, mint, senders, txs)


async def _bench_settle_fill(c: ChainClient, keys: ChainKeys, mint: Pubkey, senders: int, txs: int) -> None:
    bridge = keys.bridge
    # custody needs collateral to create the YES it hands over: a depositor funds it
    depositor = Keypair()
    await c.airdrop(depositor.pubkey(), LAMPORTS_PER_SOL)
    source = await fund_collateral(c, keys, depositor.pubkey(), 1_000_000 * ONE, mint)
    await ix.deposit_collateral(c, depositor, 1_000_000 * ONE, b"\0" * 16, source)

    probe = await _market(c, keys, mint, "BENCH-PROBE")
    probe_orders = await _orders(c, keys, mint, probe, 12)
    distinct = max_fills_per_tx(c, bridge, probe, probe_orders, distinct=True)
    same = max_fills_per_tx(c, bridge, probe, probe_orders, distinct=False)
    print(f"settle_fills per transaction (1232-byte packet): {distinct} for distinct orders, {same} for one order")

    # prove the largest batch actually lands
    await ix.custody_mint_set(c, bridge, probe, seq=1, amount=100 * ONE)
    fills = [_fill(c, bridge.pubkey(), probe, *probe_orders[i], seq=2 + i) for i in range(distinct)]
    result = await c.send_and_confirm(fills, [bridge])
    assert [e.name for e in result.events] == ["FillSettled"] * distinct

    batch = distinct
    tickers = [await _market(c, keys, mint, f"BENCH-FILL-{i}") for i in range(senders)]
    books = dict(zip(tickers, await asyncio.gather(*[_orders(c, keys, mint, t, batch) for t in tickers])))
    await asyncio.gather(*[ix.custody_mint_set(c, bridge, t, seq=1, amount=10_000 * ONE) for t in tickers])

    async def sender(ticker: str) -> None:
        orders = books[ticker]
        seq = 2
        batches = []
        for _ in range(txs):
            batches.append([_fill(c, bridge.pubkey(), ticker, *orders[j], seq=seq + j) for j in range(batch)])
            seq += batch
        # several transactions in flight per market, within the program's 256-number replay window
        for start in range(0, len(batches), 256 // batch):
            chunk = batches[start : start + 256 // batch]
            await _pipelined(c, chunk, [[bridge]] * len(chunk))

    start = time.perf_counter()
    await asyncio.gather(*[sender(t) for t in tickers])
    elapsed = time.perf_counter() - start
    total = senders * txs
    print(f"settle_fill x{batch} per tx, pipelined: {total} tx ({total * batch} fills) from {senders} senders in {elapsed:.2f}s "
          f"= {total / elapsed:.0f} tx/s, {total * batch / elapsed:.0f} fills/s (confirmed)")


async def run(url: str, keys: ChainKeys, senders: int, txs: int) -> None:
    async with ChainClient(url, keys.admin, poll_seconds=0.05) as c:
        setup = await init_chain(c, keys, demo_ticker=None, settings=ExchangeSettings())
        await c.airdrop(keys.admin.pubkey(), 1_000 * LAMPORTS_PER_SOL)
        await bench_mint_set(c, keys, setup.collateral_mint, senders, txs)
        await bench_settle_fill(c, keys, setup.collateral_mint, senders, txs)


def main() -> None:
    senders, txs, slot_ms = _env("BENCH_SENDERS", 8), _env("BENCH_TXS", 40), _env("BENCH_SLOT_MS", 400)
    print(f"localnet: {slot_ms} ms slots, {senders} concurrent senders, {txs} transactions each")
    keys = ChainKeys.load(Path(tempfile.mkdtemp(prefix="bench-keys-")))
    with Localnet(slot_ms=slot_ms, upgrade_authority=keys.admin.pubkey()) as net:  # the admin initializes
        asyncio.run(run(net.url, keys, senders, txs))
