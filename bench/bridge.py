"""The bridge: fills mirrored per second and per transaction, fill -> confirmed and fill ->
finalized latency (DESIGN.md, "The bridge's exactly-once protocol"; issue 10's bar: >= 20
wallet fills per transaction, >= 1,000 fills mirrored/s sustained, fill -> confirmed p50
under 2 slots).

`.venv/bin/python -m bench bridge` starts its own localnet (400 ms slots, BENCH_SLOT_MS), a
fresh SQLite database and TANDEM_HOME in a temporary directory, and the bridge in this
process. Phases:

1. throughput, custodial: a backlog of custodial mint/merge matches over BENCH_MARKETS markets
   (each a stream), written before the bridge starts; figure = records applied / (bridge
   start -> last confirmed), records per transaction.
2. latency, custodial: matches placed at a steady BENCH_RATE per second while the bridge runs;
   per record, fill (its ledger commit, `created_ms`) -> the bridge saw its transaction
   confirmed, and -> finalized (polled).
3. wallet fills per transaction, with lookup tables (v0) and without (legacy): wallet orders
   placed on chain, taken by custodial takers; each fill is a settle_fill.

A "fill mirrored" is one outbox record applied on chain: a custodial match's
custody_mint_set / custody_merge_set, or a wallet fill's settle_fill.
Environment: BENCH_SLOT_MS (400), BENCH_MARKETS (8), BENCH_BACKLOG (4000), BENCH_RATE (400),
BENCH_SECONDS (10), BENCH_WALLET_ORDERS (60).
"""
from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.signature import Signature

from bridge.runner import Bridge, BridgeConfig
from chain import instructions as ix
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.instructions import OrderSide
from chain.localnet import Localnet
from chain.setup import ChainKeys, ExchangeSettings, fund_collateral
from chain.tokens import ata, create_ata_ix
from exchange import outbox as O
from exchange.outbox_reader import OutboxReader
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService

ONE = 1_000_000
CENT = 10_000


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Recorder:
    """Landed transactions as the bridge reports them (on_landed hook)."""

    def __init__(self) -> None:
        self.landed: list[tuple[float, str, str, list[O.OutboxRecord]]] = []

    def __call__(self, stream: str, records: list, signature: str, slot: int) -> None:
        self.landed.append((time.time(), stream, signature, records))


def _start_localnet(tmp: Path, keys: ChainKeys, slot_ms: int) -> Localnet:
    import inspect

    kw = {"upgrade_authority": keys.admin.pubkey()} if "upgrade_authority" in inspect.signature(Localnet.__init__).parameters else {}
    return Localnet(slot_ms=slot_ms, log_path=tmp / "localnet.log", **kw).start()


def _custodial_world(svc: ExchangeService, markets: int) -> tuple[list[str], list[int]]:
    users = []
    for i in range(4):
        uid = svc.create_user(f"bench-{i}-{uuid.uuid4().hex[:6]}").id
        svc.fund(uid, cents=10_000_000_00)
        users.append(uid)
    tickers = []
    for _ in range(markets):
        t = f"BB-{uuid.uuid4().hex[:8].upper()}"
        svc.create_market(t, title="bench", close_ms=int(time.time() * 1000) + 3_600_000)
        tickers.append(t)
    return tickers, users


def _match(svc: ExchangeService, users: list[int], ticker: str, i: int) -> None:
    """One mint match, or (every other time) one merge match: one chain-bound record each."""
    a, b = users[0], users[1]
    if i % 2 == 0:
        svc.place_order(a, OrderRequest.legacy(ticker, "yes", "buy", ONE, yes_price=60 * CENT))
        svc.place_order(b, OrderRequest.legacy(ticker, "no", "buy", ONE, no_price=40 * CENT))
    else:
        svc.place_order(a, OrderRequest.legacy(ticker, "yes", "sell", ONE, yes_price=55 * CENT))
        svc.place_order(b, OrderRequest.legacy(ticker, "no", "sell", ONE, no_price=45 * CENT))


async def _finalized_latency(c: ChainClient, landed: list[tuple[float, str, str, list]]) -> list[float]:
    """fill -> finalized for each record, polling the transactions' statuses."""
    pending = {sig: recs for _, _, sig, recs in landed}
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        sigs = list(pending)[:256]
        statuses = (await c.rpc.get_signature_statuses([Signature.from_string(s) for s in sigs])).value
        now = time.time()
        for s, st in zip(sigs, statuses):
            if st is not None and st.confirmation_status is not None and int(st.confirmation_status) >= 2:
                seen[s] = now
                pending.pop(s)
        await asyncio.sleep(0.05)
    out = []
    for _, _, sig, recs in landed:
        if sig in seen:
            out += [seen[sig] - r.created_ms / 1000 for r in recs]
    return out


async def _run_until_applied(bridge: Bridge, reader: OutboxReader, timeout: float) -> float:
    task = asyncio.create_task(bridge.run())
    start = time.perf_counter()
    try:
        deadline = time.monotonic() + timeout
        while True:
            streams = reader.streams()
            if all(reader.applied_seq(s) >= last for s, last in streams.items()):
                return time.perf_counter() - start
            if time.monotonic() > deadline:
                raise RuntimeError(f"not applied after {timeout}s")
            await asyncio.sleep(0.05)
    finally:
        bridge.stop()
        await asyncio.wait_for(task, 30)


async def _bench(tmp: Path) -> None:
    slot_ms = _env("BENCH_SLOT_MS", 400)
    markets = _env("BENCH_MARKETS", 8)
    backlog = _env("BENCH_BACKLOG", 4000)
    rate = _env("BENCH_RATE", 400)
    seconds = _env("BENCH_SECONDS", 10)
    home = tmp / "home"
    keys = ChainKeys.load(home / "keys")
    chain = _start_localnet(tmp, keys, slot_ms)
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    svc = ExchangeService(db_url)
    reader = OutboxReader(svc)
    try:
        def config(**kw) -> BridgeConfig:
            return BridgeConfig(db_url=db_url, rpc_url=chain.url, keys_dir=home / "keys", console=False,
                                exchange_settings=ExchangeSettings(), **kw)

        # warm-up: the exchange on chain, the markets created
        tickers, users = _custodial_world(svc, markets)
        await _run_until_applied(Bridge(config()), reader, 120)

        # 1. throughput on a backlog
        t0 = time.perf_counter()
        for i in range(backlog):
            _match(svc, users, tickers[i % markets], i // markets)
        written = time.perf_counter() - t0
        rec = Recorder()
        bridge = Bridge(config(max_in_flight=32, max_records_per_tx=64))
        bridge.on_landed.append(rec)
        elapsed = await _run_until_applied(bridge, reader, 600)
        records = sum(len(r) for _, _, _, r in rec.landed)
        per_tx = records / max(1, len(rec.landed))
        print(f"custodial backlog: {records:,} records over {markets} streams (written at {backlog / written:,.0f}/s) "
              f"mirrored in {elapsed:.1f} s = {records / elapsed:,.0f} fills/s, {per_tx:.1f} per transaction "
              f"({len(rec.landed)} transactions, legacy messages)", flush=True)

        # 2. latency under a steady rate
        rec = Recorder()
        bridge = Bridge(config(max_in_flight=32, max_records_per_tx=64))
        bridge.on_landed.append(rec)
        task = asyncio.create_task(bridge.run())
        await asyncio.sleep(1.0)
        t_start = time.perf_counter()
        n = 0
        while time.perf_counter() - t_start < seconds:
            due = int((time.perf_counter() - t_start) * rate)
            while n < due:
                _match(svc, users, tickers[n % markets], n // markets)
                n += 1
            await asyncio.sleep(0.005)
        deadline = time.monotonic() + 60
        while not all(reader.applied_seq(s) >= last for s, last in reader.streams().items()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        bridge.stop()
        await asyncio.wait_for(task, 30)
        confirmed = [t - r.created_ms / 1000 for t, _, _, recs in rec.landed for r in recs]
        async with ChainClient(chain.url, Keypair()) as c:
            finalized = await _finalized_latency(c, rec.landed)
        slot = slot_ms / 1000
        print(f"custodial steady {rate}/s for {seconds} s ({n:,} records): fill -> confirmed p50 {_pct(confirmed, 50) * 1000:,.0f} ms "
              f"({_pct(confirmed, 50) / slot:.1f} slots) p99 {_pct(confirmed, 99) * 1000:,.0f} ms; fill -> finalized p50 "
              f"{_pct(finalized, 50) * 1000:,.0f} ms p99 {_pct(finalized, 99) * 1000:,.0f} ms; "
              f"{sum(len(r) for *_, r in rec.landed) / max(1, len(rec.landed)):.1f} records per transaction", flush=True)
        verdict = "meets" if _pct(confirmed, 50) < 2 * slot else "misses"
        print(f"  bar fill -> confirmed p50 < 2 slots ({2 * slot_ms} ms): {verdict}", flush=True)

        # 3. wallet fills
        for lookup in (False, True):
            await _wallet_phase(chain, svc, reader, keys, config, users, _env("BENCH_WALLET_ORDERS", 48), lookup)
    finally:
        svc.close()
        chain.stop()


async def _wallet_phase(chain: Localnet, svc: ExchangeService, reader: OutboxReader, keys: ChainKeys, config,
                        users: list[int], orders: int, lookup: bool) -> None:
    """`orders` wallet buy-YES orders on one market, each taken by a custodial seller of YES
    (holding YES: a transfer, so each fill is one settle_fill); figure = settle_fills per
    transaction and fills mirrored per second once they are in the CLOB."""
    from exchange import wallet_orders as WO

    ticker = f"BW-{uuid.uuid4().hex[:8].upper()}"
    svc.create_market(ticker, title="bench wallet", close_ms=int(time.time() * 1000) + 3_600_000)
    seller = users[2]
    # the seller holds YES: a mint match against users[3] first
    svc.place_order(seller, OrderRequest.legacy(ticker, "yes", "buy", orders * ONE, yes_price=50 * CENT))
    svc.place_order(users[3], OrderRequest.legacy(ticker, "no", "buy", orders * ONE, no_price=50 * CENT))
    await _run_until_applied(Bridge(config(lookup_tables=lookup)), reader, 120)
    async with ChainClient(chain.url, keys.admin, poll_seconds=0.05) as c:
        from chain import pdas

        mint = (await c.fetch("Exchange", pdas.exchange(c.program_id))).collateral_mint
        m = ix.market_of(c, ticker)
        rates = WO.market_rates(svc, ticker)
        size, limit = ONE, 600_000
        max_fee = WO.fee_budget(size, limit, "buy", rates)
        wallets = [Keypair() for _ in range(orders)]

        async def one(w: Keypair) -> WO.PlacedOrder:
            await c.airdrop(w.pubkey(), LAMPORTS_PER_SOL)
            await fund_collateral(c, keys, w.pubkey(), 10 * ONE, mint)
            await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), w.pubkey(), m.yes_mint)])
            res = await ix.place_order(c, w, ticker, nonce=1, side=OrderSide.BUY_YES, limit_price=limit, size=size,
                                       max_fee=max_fee, collateral_mint=mint)
            ev = next(e for e in res.events if e.name == "OrderPlaced")
            return WO.PlacedOrder(str(ev.data.order), ticker, str(w.pubkey()), "yes", "buy", limit, size, max_fee,
                                  ev.data.escrowed, order_id=getattr(ev.data, "order_id", 0))

        placed = []
        for start in range(0, orders, 8):
            placed += await asyncio.gather(*[one(w) for w in wallets[start:start + 8]])
    for p in placed:
        WO.place(svc, p)
    rec = Recorder()
    bridge = Bridge(config(lookup_tables=lookup, max_in_flight=32))
    bridge.on_landed.append(rec)
    # the seller takes them all: one command per 7 orders (a group of 7 settle_fills fits the program's bound)
    for start in range(0, orders, 7):
        n = min(7, orders - start)
        svc.place_order(seller, OrderRequest.legacy(ticker, "yes", "sell", n * ONE, yes_price=60 * CENT))
    elapsed = await _run_until_applied(bridge, reader, 300)
    fills = [r for *_, recs in rec.landed for r in recs if r.kind == "settle_fill"]
    txs = [recs for *_, recs in rec.landed if any(r.kind == "settle_fill" for r in recs)]
    confirmed = [t - r.created_ms / 1000 for t, _, _, recs in rec.landed for r in recs if r.kind == "settle_fill"]
    print(f"wallet fills ({'v0 + lookup table' if lookup else 'legacy'}): {len(fills)} settle_fills in {len(txs)} transactions = "
          f"{len(fills) / max(1, len(txs)):.1f} per transaction (most {max((sum(r.kind == 'settle_fill' for r in t) for t in txs), default=0)}); "
          f"{len(fills) / elapsed:,.0f} fills/s; fill -> confirmed p50 {_pct(confirmed, 50) * 1000:,.0f} ms", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        asyncio.run(_bench(Path(tmp)))


if __name__ == "__main__":
    main()
