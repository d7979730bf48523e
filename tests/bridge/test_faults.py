"""The bridge under faults: kill -9 at random points under load, a faulty network to the chain,
blockhashes expiring in flight, the database restarting under it. After each: everything
applied, nothing twice (harness.World.check), on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest

from bridge import store as S
from bridge.runner import Bridge

from .harness import ZygoteBridges, bridge_env, start_localnet, trade_mix
from .proxy import FaultyProxy

pytestmark = pytest.mark.localnet

KILLS = 20


class Traffic:
    """Custodial trading (mint, transfer, merge matches, cash funding) in a thread until stopped."""

    def __init__(self, w, ticker: str) -> None:
        self.w, self.ticker = w, ticker
        self.stop = threading.Event()
        self.rounds = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                trade_mix(self.w, self.ticker, rounds=1)
                if self.rounds % 5 == 0:  # cash funding (custody_fund records), enough to trade on
                    for user in ("a", "b", "c"):  # a round costs b ~$2.65 net
                        self.w.svc.fund(self.w.users[user], cents=2_000)
                self.rounds += 1
                time.sleep(0.02)
        except BaseException as exc:  # the load must not die unseen: __exit__ fails the test with it
            self.error = exc

    def __enter__(self) -> "Traffic":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise AssertionError(f"the trading load stopped after {self.rounds} rounds: {self.error!r}") from self.error


def _row_count(store: S.Store) -> int:
    from sqlalchemy import func, select

    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(S.txs)).scalar_one()


async def test_kill9_at_random_points_under_load(world):
    w = world
    ticker = w.market("K")
    rng = random.Random(1234)
    env = bridge_env(w.home, w.db_url, w.rpc_url, TANDEM_BRIDGE_MAX_IN_FLIGHT="8", TANDEM_BRIDGE_MAX_RECORDS_PER_TX="8")
    bridges = ZygoteBridges(env, w.tmp / "bridge.log").open()
    from exchange.db import connect

    store = S.Store(connect(w.db_url).writer)
    seen_in_flight = 0
    try:
        with Traffic(w, ticker):
            for _ in range(KILLS):
                bridges.start()
                # let this incarnation get going (it may die before sending anything: that is a point too)
                before = _row_count(store) if _has_tables(store) else 0
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and bridges.alive() and (not _has_tables(store) or _row_count(store) == before):
                    await asyncio.sleep(0.01)
                assert bridges.alive(), w.tmp.joinpath("bridge.log").read_text()[-3000:]
                await asyncio.sleep(rng.uniform(0.0, 0.4))
                bridges.kill9()
                seen_in_flight += sum(1 for r in store.rows() if r.status == S.SENT)
        bridges.start()
        await w.wait_applied(120)
    finally:
        bridges.close()
    await w.check()
    rows = store.rows()
    print(f"\nkill -9 x{KILLS}: {len(rows)} bridge rows, {seen_in_flight} rows caught in flight by a kill, "
          f"{sum(r.status == S.EXPIRED for r in rows)} expired, {sum(r.status == S.FAILED for r in rows)} failed, "
          f"{sum(r.status == S.SKIPPED for r in rows)} found applied on chain")
    assert seen_in_flight > 0  # the kills did hit transactions in flight


def _has_tables(store: S.Store) -> bool:
    from sqlalchemy import inspect

    return inspect(store.engine).has_table("bridge_txs")


async def test_faulty_network(world):
    """Drops, cuts (request applied, answer lost), delays and error answers between bridge and chain."""
    w = world
    proxy = await FaultyProxy(w.rpc_url).start()
    try:
        ticker = w.market("N")
        bridge = Bridge(w.config(rpc_url=proxy.url, max_in_flight=8, max_records_per_tx=6))
        task = asyncio.create_task(bridge.run())
        try:
            while bridge.builder is None:  # started (exchange on chain, float account): faults from the first send on
                await asyncio.sleep(0.05)
            proxy.drop, proxy.cut, proxy.delay, proxy.error, proxy.cut_send = 0.05, 0.05, 0.1, 0.05, 0.3
            for _ in range(6):
                trade_mix(w, ticker, rounds=2)
                w.svc.fund(w.users["b"], cents=500)
                await asyncio.sleep(0.25)
            await w.wait_applied(90)
        finally:
            bridge.stop()
            await asyncio.wait_for(task, 15)
        print(f"\nproxy: {dict(proxy.stats)}")
        assert proxy.stats["cut_sends"] > 0 and proxy.stats["dropped"] > 0 and proxy.stats["errors"] > 0
    finally:
        await proxy.stop()
    await w.check()


async def test_blockhashes_expire_in_flight(backend, tmp_path):
    """10 ms slots: a blockhash lives 1.5 s. Sends are blocked for 4 s, so transactions expire in
    flight and are re-signed; then the network heals and each record lands once."""
    from chain.setup import ChainKeys
    from exchange.service import ExchangeService
    from tests.databases import fresh_database

    from .harness import World

    home = tmp_path / "home"
    keys = ChainKeys.load(home / "keys")
    chain = start_localnet(tmp_path, keys, slot_ms=10)
    try:
        with fresh_database(backend, tmp_path, "expiry") as url:
            svc = ExchangeService(url)
            w = World(tmp_path, home, url, chain, keys, svc)
            for name in ("a", "b", "c"):
                w.user(name)
            proxy = await FaultyProxy(w.rpc_url).start()
            try:
                ticker = w.market("E")
                bridge = Bridge(w.config(rpc_url=proxy.url, max_in_flight=4, max_records_per_tx=4))
                task = asyncio.create_task(bridge.run())
                try:
                    await asyncio.sleep(1.0)  # started, exchange prepared
                    proxy.block_sends = True
                    trade_mix(w, ticker, rounds=2)
                    await asyncio.sleep(4.0)
                    proxy.block_sends = False
                    await w.wait_applied(60)
                finally:
                    bridge.stop()
                    await asyncio.wait_for(task, 15)
                rows = bridge.store.rows()
                expired = [r for r in rows if r.status == S.EXPIRED]
                assert expired, "no transaction expired in flight"
                assert proxy.stats["blocked_sends"] > 0
                await w.check()
            finally:
                await proxy.stop()
                svc.close()
                svc.db.dispose()
    finally:
        chain.stop()
