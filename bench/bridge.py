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
   Where the time goes, per record: fill -> its transaction persisted (the bridge noticed it,
   packed, signed and stored it), persisted -> the slot after the one it landed in began (send,
   execution, the chain's one slot to `confirmed`; slot starts sampled by this process), and
   that slot's start -> the bridge saw it confirmed (status polling, mark_applied).
3. wallet fills per transaction, with lookup tables (v0) and without (legacy): (a) wallet
   orders of one fill each (distinct orders, 7 taken per custodial command: one settle_fill
   per order), (b) one wallet order filled BENCH_ONE_ORDER_FILLS times by as many custodial
   commands (several fills of one order: one settle_fills where the program has it).

A "fill mirrored" is one outbox record applied on chain: a custodial match's
custody_mint_set / custody_merge_set, or a wallet fill's settle_fill.
Environment: BENCH_SLOT_MS (400), BENCH_MARKETS (8), BENCH_BACKLOG (4000), BENCH_RATE (400),
BENCH_SECONDS (10), BENCH_WALLET_ORDERS (60), BENCH_ONE_ORDER_FILLS (40), BENCH_POSTGRES_URL (unset: SQLite;
set: a fresh database on that PostgreSQL server).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path

from solana.rpc.commitment import Processed
from solders.keypair import Keypair
from solders.signature import Signature

from bench._databases import scratch_postgres
from bridge.runner import Bridge, BridgeConfig
from chain import instructions as ix
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.instructions import OrderSide
from chain.localnet import Localnet
from chain.setup import ChainKeys, ExchangeSettings, fund_collateral
from chain.tokens import create_ata_ix
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


class SlotClock:
    """When each slot began, as this process sees it (getSlot at processed every 10 ms)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.starts: dict[int, float] = {}
        self.round_trips: list[float] = []  # getSlot's, seconds: how long the node takes to answer anything
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        async with ChainClient(self.url, Keypair()) as c:
            while True:
                asked = time.time()
                slot = (await c.rpc.get_slot(Processed)).value
                now = time.time()
                self.round_trips.append(now - asked)
                self.starts.setdefault(slot, asked)  # the slot began at most a round trip before we asked
                await asyncio.sleep(0.01)

    def start(self) -> "SlotClock":
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class OutboxClock:
    """When each record became visible in the outbox (its ledger transaction committed), as
    this process sees it: the streams table read every 5 ms on a connection of its own."""

    def __init__(self, db_url: str) -> None:
        from exchange.db import connect

        self.db = connect(db_url)
        self.seen: dict[tuple[str, int], float] = {}
        self._last: dict[str, int] = {}
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        from sqlalchemy import text

        while True:
            with self.db.reader.connect() as conn:
                rows = conn.execute(text("SELECT stream, last_seq FROM outbox_streams")).all()
            now = time.time()
            for stream, last in rows:
                for seq in range(self._last.get(stream, last) + 1, last + 1):
                    self.seen[(stream, seq)] = now
                self._last[stream] = last
            await asyncio.sleep(0.005)

    def start(self) -> "OutboxClock":
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.db.dispose()


class Recorder:
    """Landed transactions as the bridge reports them (on_landed hook)."""

    def __init__(self) -> None:
        self.landed: list[tuple[float, str, str, list[O.OutboxRecord]]] = []
        self.with_slots: list[tuple[float, str, str, list[O.OutboxRecord], int]] = []

    def __call__(self, stream: str, records: list, signature: str, slot: int) -> None:
        now = time.time()
        self.landed.append((now, stream, signature, records))
        self.with_slots.append((now, stream, signature, records, slot))


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


def _steady_load(db_url: str, users: list[int], tickers: list[str], rate: int, seconds: int) -> None:
    """`rate` matches per second for `seconds` (a process of its own)."""
    svc = ExchangeService(db_url)
    t_start = time.perf_counter()
    n = 0
    while n < rate * seconds:
        due = int((time.perf_counter() - t_start) * rate)
        while n < due and n < rate * seconds:
            _match(svc, users, tickers[n % len(tickers)], n // len(tickers))
            n += 1
        time.sleep(0.002)
    svc.close()


class FinalityClock:
    """When each landed transaction became finalized, polled every 50 ms while the phase runs
    (polling only afterwards would count the phase's own length)."""

    def __init__(self, url: str, rec: "Recorder") -> None:
        self.url = url
        self.rec = rec
        self.final: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        async with ChainClient(self.url, Keypair()) as c:
            while True:
                pending = [sig for _, _, sig, _ in self.rec.landed if sig not in self.final]
                for start in range(0, len(pending), 256):
                    chunk = pending[start:start + 256]
                    statuses = (await c.rpc.get_signature_statuses([Signature.from_string(s) for s in chunk])).value
                    now = time.time()
                    for sig, st in zip(chunk, statuses):
                        if st is not None and st.confirmation_status is not None and int(st.confirmation_status) >= 2:
                            self.final[sig] = now
                await asyncio.sleep(0.05)

    def start(self) -> "FinalityClock":
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self, timeout: float = 30.0) -> list[float]:
        """fill -> finalized of every record, once every landed transaction is final (or the timeout)."""
        deadline = time.monotonic() + timeout
        while any(sig not in self.final for _, _, sig, _ in self.rec.landed) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return [self.final[sig] - r.created_ms / 1000 for _, _, sig, recs in self.rec.landed if sig in self.final for r in recs]


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


async def _bench(tmp: Path, db_url: str) -> None:
    slot_ms = _env("BENCH_SLOT_MS", 400)
    markets = _env("BENCH_MARKETS", 8)
    backlog = _env("BENCH_BACKLOG", 4000)
    rate = _env("BENCH_RATE", 400)
    seconds = _env("BENCH_SECONDS", 10)
    home = tmp / "home"
    keys = ChainKeys.load(home / "keys")
    chain = _start_localnet(tmp, keys, slot_ms)
    print(f"database: {db_url.split('://')[0]}", flush=True)
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
        clock = SlotClock(chain.url).start()
        visible = OutboxClock(db_url).start()
        finality = FinalityClock(chain.url, rec).start()
        task = asyncio.create_task(bridge.run())
        await asyncio.sleep(1.0)
        # The trading load runs in a process of its own, as the API does beside `tandem bridge`
        # (in this one it would hold the bridge's event loop for every order it places).
        svc.close()
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        load = ctx.Process(target=_steady_load, args=(db_url, users, tickers, rate, seconds))
        load.start()
        await asyncio.get_running_loop().run_in_executor(None, load.join)
        if load.exitcode != 0:
            raise RuntimeError(f"the load process failed (exit {load.exitcode})")
        svc = ExchangeService(db_url)  # the books as the load left them
        reader = OutboxReader(svc)
        n = rate * seconds
        deadline = time.monotonic() + 60
        while not all(reader.applied_seq(s) >= last for s, last in reader.streams().items()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        bridge.stop()
        await asyncio.wait_for(task, 30)
        await clock.stop()
        await visible.stop()
        confirmed = [t - r.created_ms / 1000 for t, _, _, recs in rec.landed for r in recs]
        persisted_ms = {row.signature: row.created_ms for row in bridge.store.rows() if row.signature}
        picked, chain_wait, seen, committed = [], [], [], []
        for t, _, sig, recs, slot in rec.with_slots:
            next_slot = clock.starts.get(slot + 1)
            if sig not in persisted_ms or next_slot is None:
                continue
            persisted = persisted_ms[sig] / 1000
            for r in recs:
                picked.append(persisted - r.created_ms / 1000)
                if (r.stream, r.seq) in visible.seen:
                    committed.append(visible.seen[(r.stream, r.seq)] - r.created_ms / 1000)
                chain_wait.append(next_slot - persisted)
                seen.append(t - next_slot)
        finalized = await finality.stop()
        slot = slot_ms / 1000
        print(f"custodial steady {rate}/s for {seconds} s ({n:,} records): fill -> confirmed p50 {_pct(confirmed, 50) * 1000:,.0f} ms "
              f"({_pct(confirmed, 50) / slot:.1f} slots) p99 {_pct(confirmed, 99) * 1000:,.0f} ms; fill -> finalized p50 "
              f"{_pct(finalized, 50) * 1000:,.0f} ms p99 {_pct(finalized, 99) * 1000:,.0f} ms; "
              f"{sum(len(r) for *_, r in rec.landed) / max(1, len(rec.landed)):.1f} records per transaction", flush=True)
        print(f"  where it goes (p50 / p99, ms): fill -> visible in the outbox (the exchange committed it) "
              f"{_pct(committed, 50) * 1000:,.0f} / {_pct(committed, 99) * 1000:,.0f}; "
              f"fill -> persisted {_pct(picked, 50) * 1000:,.0f} / {_pct(picked, 99) * 1000:,.0f}; "
              f"persisted -> next slot began (send, execution, one slot to confirmed) {_pct(chain_wait, 50) * 1000:,.0f} / "
              f"{_pct(chain_wait, 99) * 1000:,.0f}; that slot -> bridge saw it {_pct(seen, 50) * 1000:,.0f} / {_pct(seen, 99) * 1000:,.0f}; "
              f"localnet answers getSlot in {_pct(clock.round_trips, 50) * 1000:,.1f} / {_pct(clock.round_trips, 99) * 1000:,.0f}",
              flush=True)
        verdict = "meets" if _pct(confirmed, 50) < 2 * slot else "misses"
        print(f"  bar fill -> confirmed p50 < 2 slots ({2 * slot_ms} ms): {verdict}", flush=True)

        # 3. wallet fills
        for lookup in (False, True):
            await _wallet_phase(chain, svc, reader, keys, config, users, _env("BENCH_WALLET_ORDERS", 60), lookup)
        for lookup in (False, True):
            await _wallet_phase(chain, svc, reader, keys, config, users, _env("BENCH_ONE_ORDER_FILLS", 40), lookup, one_order=True)
    finally:
        svc.close()
        chain.stop()


async def _wallet_phase(chain: Localnet, svc: ExchangeService, reader: OutboxReader, keys: ChainKeys, config,
                        users: list[int], fills: int, lookup: bool, one_order: bool = False) -> None:
    """Wallet buy-YES fills on one market, each taken by a custodial seller of YES (holding YES:
    a transfer, so each fill is one settle_fill record). Distinct orders: `fills` wallet orders
    of 1 contract, taken 7 per custodial command. One order: a wallet order of `fills`
    contracts, taken 1 per command (`fills` groups of one fill of the same order). Figure =
    settle_fill records per transaction and fills mirrored per second once they are in the CLOB."""
    from exchange import wallet_orders as WO

    ticker = f"BW-{uuid.uuid4().hex[:8].upper()}"
    svc.create_market(ticker, title="bench wallet", close_ms=int(time.time() * 1000) + 3_600_000)
    seller = users[2]
    # the seller holds YES: a mint match against users[3] first
    svc.place_order(seller, OrderRequest.legacy(ticker, "yes", "buy", fills * ONE, yes_price=50 * CENT))
    svc.place_order(users[3], OrderRequest.legacy(ticker, "no", "buy", fills * ONE, no_price=50 * CENT))
    await _run_until_applied(Bridge(config(lookup_tables=lookup)), reader, 120)
    async with ChainClient(chain.url, keys.admin, poll_seconds=0.05) as c:
        from chain import pdas

        mint = (await c.fetch("Exchange", pdas.exchange(c.program_id))).collateral_mint
        m = ix.market_of(c, ticker)
        rates = WO.market_rates(svc, ticker)
        size, limit = (fills * ONE if one_order else ONE), 600_000
        max_fee = WO.fee_budget(size, limit, "buy", rates)
        wallets = [Keypair() for _ in range(1 if one_order else fills)]

        async def one(w: Keypair) -> WO.PlacedOrder:
            await c.airdrop(w.pubkey(), LAMPORTS_PER_SOL)
            await fund_collateral(c, keys, w.pubkey(), size * 2, mint)
            await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), w.pubkey(), m.yes_mint)])
            res = await ix.place_order(c, w, ticker, nonce=1, side=OrderSide.BUY_YES, limit_price=limit, size=size,
                                       max_fee=max_fee, collateral_mint=mint)
            ev = next(e for e in res.events if e.name == "OrderPlaced")
            return WO.PlacedOrder(str(ev.data.order), ticker, str(w.pubkey()), "yes", "buy", limit, size, max_fee,
                                  ev.data.escrowed, order_id=getattr(ev.data, "order_id", 0))

        placed = []
        for start in range(0, len(wallets), 8):
            placed += await asyncio.gather(*[one(w) for w in wallets[start:start + 8]])
    for p in placed:
        WO.place(svc, p)
    rec = Recorder()
    bridge = Bridge(config(lookup_tables=lookup, max_in_flight=32))
    bridge.on_landed.append(rec)
    if one_order:  # one custodial command per fill: `fills` groups, each one fill of the same order
        for _ in range(fills):
            svc.place_order(seller, OrderRequest.legacy(ticker, "yes", "sell", ONE, yes_price=60 * CENT))
    else:  # one command per 7 orders: groups of 7 settle_fills
        for start in range(0, fills, 7):
            n = min(7, fills - start)
            svc.place_order(seller, OrderRequest.legacy(ticker, "yes", "sell", n * ONE, yes_price=60 * CENT))
    elapsed = await _run_until_applied(bridge, reader, 300)
    settled = [r for *_, recs in rec.landed for r in recs if r.kind == "settle_fill"]
    txs = [recs for *_, recs in rec.landed if any(r.kind == "settle_fill" for r in recs)]
    confirmed = [t - r.created_ms / 1000 for t, _, _, recs in rec.landed for r in recs if r.kind == "settle_fill"]
    what = f"one order x {fills} fills" if one_order else f"{fills} orders x 1 fill"
    print(f"wallet fills, {what} ({'v0 + lookup table' if lookup else 'legacy'}): {len(settled)} fills in {len(txs)} transactions = "
          f"{len(settled) / max(1, len(txs)):.1f} per transaction (most {max((sum(r.kind == 'settle_fill' for r in t) for t in txs), default=0)}); "
          f"{len(settled) / elapsed:,.0f} fills/s; fill -> confirmed p50 {_pct(confirmed, 50) * 1000:,.0f} ms", flush=True)


@contextlib.contextmanager
def _database(tmp: Path):
    """SQLite in `tmp`, or with BENCH_POSTGRES_URL a fresh database on that server (dropped after)."""
    base = os.environ.get("BENCH_POSTGRES_URL")
    if not base:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    with scratch_postgres(base, "bench_bridge") as url:
        yield url


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp, _database(Path(tmp)) as db_url:
        asyncio.run(_bench(Path(tmp), db_url))


if __name__ == "__main__":
    main()
