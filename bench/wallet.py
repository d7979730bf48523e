"""`python -m bench wallet`: the exchange side of wallet orders, in process (SQLite file).

- placements/s: OrderPlaced -> escrow + CLOB order (exchange/wallet_orders.place), what the
  relay's hand-over costs the API process per wallet order (HTTP not included);
- one custodial order sweeping N resting wallet orders: the command's time, and the records it
  writes (a settle_fill and a close_order per wallet order, in one group);
- on localnet (400 ms slots; the localnet binary: TANDEM_LOCALNET_BIN or a cargo build), the
  whole path with `tandem api`, the bridge and its relay (the harness of tests/bridge/test_wallet_e2e.py):
  a wallet's order, once its transaction is confirmed, -> open in the CLOB; a custodial fill ->
  the wallet holds the tokens at confirmed.
"""
from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from solders.keypair import Keypair

from exchange import wallet_orders as W
from exchange.fees import FeeRates
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService

C = 1_000_000
N = 1_000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        svc = ExchangeService(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            svc.create_market("BENCH-W", title="bench", close_ms=int(time.time() * 1000) + 3_600_000)
            owner = str(Keypair().pubkey())
            orders = []
            for i in range(N):
                price = 300_000 + (i % 20) * 10_000
                max_fee = W.fee_budget(C, price, "buy", FeeRates())
                orders.append(W.PlacedOrder(str(Keypair().pubkey()), "BENCH-W", owner, "yes", "buy", price, C, max_fee,
                                            W.escrow_of("buy", C, price, max_fee), order_id=i + 1))
            start = time.perf_counter()
            for placed in orders:
                W.place(svc, placed)
            placed_s = time.perf_counter() - start
            again = time.perf_counter()
            for placed in orders[:200]:
                W.place(svc, placed)  # the relay repeating a batch after a crash
            repeat_s = (time.perf_counter() - again) / 200
            taker = svc.create_user("taker")
            svc.fund(taker.id, cents=10_000_000)
            streams = svc.outbox_streams()
            start = time.perf_counter()
            _order, fills = svc.place_order(taker.id, OrderRequest.legacy("BENCH-W", "yes", "sell", N * C, yes_price=300_000))
            sweep_s = time.perf_counter() - start
            records = svc.outbox_streams()["BENCH-W"] - streams.get("BENCH-W", 0)
        finally:
            svc.close()
    print(f"wallet orders placed: {N} in {placed_s:.2f} s = {N / placed_s:,.0f}/s ({placed_s / N * 1000:.2f} ms each); "
          f"seen again: {repeat_s * 1000:.2f} ms each")
    print(f"one custodial order filling {len(fills)} wallet orders: {sweep_s * 1000:.0f} ms, {records} outbox records "
          f"(settle_fill + close_order per wallet order, custody_mint_set)")


    asyncio.run(chain_latency())


async def chain_latency(rounds: int = 10) -> None:
    from chain.setup import ChainKeys
    from tests.api.conftest import start_server
    from tests.bridge.harness import start_localnet
    from tests.bridge.test_wallet_e2e import Stack, _ata, _equals, _status, ask, eventually

    tmp = Path(tempfile.mkdtemp())
    keys = ChainKeys.load(tmp / "home" / "keys")
    chain = start_localnet(tmp, keys, slot_ms=400)
    db = f"sqlite:///{tmp / 'wallet.db'}"
    server = start_server(db, tmp, RPC_URL=chain.url)
    stack = Stack(server, db, chain.url, tmp / "home" / "keys", keys.collateral_mint.pubkey())
    try:
        await stack.start_bridge()
        await stack.applied()
        ticker = await stack.market()
        yes = stack.addresses(ticker).yes_mint
        wallet = await stack.wallet(collateral=1_000 * C)
        seller = await stack.trader(cents=1_000_000)
        opens, fills = [], []
        for i in range(rounds):
            order = await wallet.place(ticker, "yes", "buy", "1.00", "0.40")  # returns once confirmed
            sent = time.monotonic()
            await eventually(lambda: _status(wallet, order, "open"), timeout=60)
            opens.append(time.monotonic() - sent)
            matched = time.monotonic()
            await ask(seller, ticker, "1.00", "0.40")
            await eventually(lambda: _equals(wallet.token_balance(_ata(wallet.kp.pubkey(), yes)), (i + 1) * C), timeout=60)
            fills.append(time.monotonic() - matched)
        await wallet.close()
        await seller.close()
    finally:
        await stack.close()
        server.stop()
        chain.stop()
    print(f"localnet, 400 ms slots, {rounds} rounds: confirmed -> open in the CLOB p50 {statistics.median(opens) * 1000:.0f} ms "
          f"(max {max(opens) * 1000:.0f}); custodial fill -> tokens in the wallet p50 {statistics.median(fills) * 1000:.0f} ms "
          f"(max {max(fills) * 1000:.0f})")


if __name__ == "__main__":
    main()
