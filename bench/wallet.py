"""`python -m bench wallet`: the exchange side of wallet orders, in process (SQLite file).

- placements/s: OrderPlaced -> escrow + CLOB order (exchange/wallet_orders.place), what the
  relay's hand-over costs the API process per wallet order (HTTP not included);
- one custodial order sweeping N resting wallet orders: the command's time, and the records it
  writes (a settle_fill and a close_order per wallet order, in one group).
"""
from __future__ import annotations

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


if __name__ == "__main__":
    main()
