"""A world for bridge tests: a fresh localnet (its own custody stream, so seqs start at 1), a
fresh database (SQLite or PostgreSQL), a TANDEM_HOME with the operator keys, an
ExchangeService to trade through, and the bridge (in this process, or as a `tandem bridge`
child process the fault tests kill).

Checks after every test: the chain's custody YES/NO balances equal the ledger's custodial
positions; custody's collateral covers custodial cash; ledger seqs and the program's
sequenced events are a bijection (each applied sequenced record has exactly one event with
its seq on its stream, and there is no other).
"""
from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from bridge.mapper import SEQUENCED
from bridge.runner import Bridge, BridgeConfig
from chain import pdas
from chain.client import ChainClient
from chain.localnet import Localnet, binary_path, build
from chain.pdas import MarketAddresses
from chain.setup import ChainKeys, ExchangeSettings
from exchange import ledger_queries as LQ
from exchange import outbox as O
from exchange.outbox_reader import OutboxReader
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService

REPO = Path(__file__).resolve().parents[2]
ONE = 1_000_000
CENT = 10_000


def localnet_binary() -> Path:
    return binary_path() if os.environ.get("TANDEM_LOCALNET_BIN") else build(quiet=True)


def start_localnet(tmp: Path, keys: ChainKeys, slot_ms: int = 50, port: int | None = None) -> Localnet:
    kw = {}
    if "upgrade_authority" in inspect.signature(Localnet.__init__).parameters:
        kw["upgrade_authority"] = keys.admin.pubkey()
    chain = Localnet(port=port, slot_ms=slot_ms, binary=localnet_binary(), log_path=tmp / f"localnet-{uuid.uuid4().hex[:6]}.log", **kw)
    return chain.start()


def bridge_env(home: Path, db_url: str, rpc_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TANDEM_HOME": str(home), "DATABASE_URL": db_url, "RPC_URL": rpc_url,
           "TANDEM_BRIDGE_POLL_MS": "20", **extra}
    env.pop("TANDEM_OPERATOR_TOKEN", None)
    return env


@dataclass
class World:
    tmp: Path
    home: Path
    db_url: str
    chain: Localnet
    keys: ChainKeys
    svc: ExchangeService
    users: dict[str, int] = field(default_factory=dict)

    @property
    def rpc_url(self) -> str:
        return self.chain.url

    def config(self, **kw) -> BridgeConfig:
        base = dict(db_url=self.db_url, rpc_url=self.rpc_url, keys_dir=self.home / "keys", console=False, poll_seconds=0.02,
                    exchange_settings=ExchangeSettings(force_close_slots=5, dispute_window_secs=0))
        base.update(kw)
        return BridgeConfig(**base)

    # -- the exchange side --------------------------------------------------------------
    def user(self, name: str, cents: int = 100_000) -> int:
        uid = self.svc.create_user(f"{name}-{uuid.uuid4().hex[:6]}").id
        if cents:
            self.svc.fund(uid, cents=cents)
        self.users[name] = uid
        return uid

    def market(self, prefix: str = "B") -> str:
        ticker = f"{prefix}-{uuid.uuid4().hex[:10].upper()}"
        self.svc.create_market(ticker, title="bridge test", close_ms=int(time.time() * 1000) + 3_600_000)
        return ticker

    def order(self, user: str, ticker: str, side: str, action: str, count: int, price_cents: int):
        req = OrderRequest.legacy(ticker, side, action, count * ONE, yes_price=price_cents * CENT if side == "yes" else None,
                                  no_price=price_cents * CENT if side == "no" else None)
        return self.svc.place_order(self.users[user], req)

    # -- waiting and checking -------------------------------------------------------------
    def reader(self) -> OutboxReader:
        return OutboxReader(self.svc)

    def all_applied(self) -> bool:
        r = self.reader()
        return all(r.applied_seq(s) >= last for s, last in r.streams().items())

    async def wait_applied(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.all_applied():
            if time.monotonic() > deadline:
                r = self.reader()
                lag = {s: (r.applied_seq(s), last) for s, last in r.streams().items()}
                raise AssertionError(f"bridge did not apply everything in {timeout}s: {lag}")
            await asyncio.sleep(0.1)

    async def check(self) -> None:
        """Invariants 2 and 3 of DESIGN.md, read from the chain at confirmed and from the ledger."""
        async with ChainClient(self.rpc_url, Keypair()) as c:
            with LQ.snapshot(self.svc.db) as conn:
                totals = LQ.custodial_totals(conn)
                tickers = LQ.market_tickers(conn)
            for t in tickers:
                m = MarketAddresses.derive(c.program_id, t)
                assert await c.token_balance(m.custody_yes, Confirmed) == totals.yes(t), f"{t}: custody YES != ledger"
                assert await c.token_balance(m.custody_no, Confirmed) == totals.no(t), f"{t}: custody NO != ledger"
            custody_cash = await c.token_balance(pdas.custody_collateral(c.program_id), Confirmed)
            assert custody_cash >= totals.cash(), f"custody collateral {custody_cash} < custodial cash {totals.cash()}"
            await check_bijection(c, self.reader())


async def sequenced_events(c: ChainClient, stream: str) -> Counter:
    """(kind-of-event, seq) of every sequenced bridge event of a stream on chain (confirmed)."""
    address = pdas.custody(c.program_id) if stream == O.EXCHANGE_STREAM else pdas.market(c.program_id, stream)
    seen: Counter = Counter()
    before = None
    while True:
        page = (await c.rpc.get_signatures_for_address(address, before=before, limit=1000, commitment=Confirmed)).value
        if not page:
            break
        for entry in page:
            if entry.err is not None:
                continue
            for event in await c.events_of(entry.signature, Confirmed):
                seq = getattr(event.data, "seq", None)
                # the account of a market's stream shows up in custody's history too: keep this stream's
                if seq and getattr(event.data, "stream", address) == address:  # seq 0: force_close, not the bridge
                    seen[seq] += 1
        before = page[-1].signature
    return seen


async def check_bijection(c: ChainClient, reader: OutboxReader) -> None:
    """Every applied sequenced record has exactly one event with its seq; no event without a record."""
    for stream in reader.streams():
        records = reader.records(stream, 0, 1_000_000)
        # applied with no signature: the chain needed nothing (a lifecycle effect already there, a
        # close_order of an order already gone): no event may exist for those
        applied = {r.seq for r in records if r.status == O.APPLIED and r.kind in SEQUENCED and r.signature}
        never = {r.seq for r in records} - applied
        events = await sequenced_events(c, stream)
        twice = {s: n for s, n in events.items() if n > 1}
        assert not twice, f"{stream}: seqs applied more than once on chain: {twice}"
        assert set(events) >= applied, f"{stream}: applied but no event: {sorted(applied - set(events))[:20]}"
        assert not (set(events) & never), f"{stream}: events for records not applied: {sorted(set(events) & never)[:20]}"
        assert set(events) <= applied | never, f"{stream}: events without a record: {sorted(set(events) - applied - never)[:20]}"


def trade_mix(w: World, ticker: str, rounds: int = 3) -> None:
    """Custodial traffic with all three match kinds: mint (YES buyer + NO buyer), transfer
    (a seller of YES to a buyer of YES), merge (a YES seller + a NO seller)."""
    for _ in range(rounds):
        w.order("a", ticker, "yes", "buy", 10, 60)   # rests
        w.order("b", ticker, "no", "buy", 10, 40)    # mint: 10 sets
        w.order("a", ticker, "yes", "sell", 4, 62)   # rests
        w.order("c", ticker, "yes", "buy", 4, 62)    # transfer a -> c
        w.order("c", ticker, "yes", "sell", 3, 55)   # rests
        w.order("b", ticker, "no", "sell", 3, 45)    # merge: 3 sets


class BridgeProcess:
    """`tandem bridge` as a child process (what the fault tests kill -9)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "BridgeProcess":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "bridge"], env=self.env, cwd=REPO,
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        return self

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class ZygoteBridges:
    """Bridge processes forked from tests/bridge/zygote.py (imports paid once): `start()` a new
    one, `kill9()` it. Each is a real process; SIGKILL stops it wherever it is."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {**env, "TANDEM_BRIDGE_TEST_LOG": str(log)}
        self.log = log
        self.zygote: subprocess.Popen | None = None
        self.pid: int | None = None

    def open(self) -> "ZygoteBridges":
        self.zygote = subprocess.Popen([sys.executable, "-m", "tests.bridge.zygote"], env=self.env, cwd=REPO,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.zygote.stdout.readline().strip() == "ready"
        return self

    def start(self) -> int:
        self.zygote.stdin.write("start\n")
        self.zygote.stdin.flush()
        self.pid = int(self.zygote.stdout.readline())
        return self.pid

    def alive(self) -> bool:
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                return fh.read().split(") ", 1)[1][0] not in "ZX"
        except FileNotFoundError:
            return False

    def kill9(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while self.alive():
                time.sleep(0.005)

    def close(self) -> None:
        self.kill9()
        if self.zygote is not None:
            self.zygote.stdin.close()
            self.zygote.wait(timeout=10)


async def run_bridge_until_applied(w: World, timeout: float = 60.0, **config) -> Bridge:
    bridge = Bridge(w.config(**config))
    task = asyncio.create_task(bridge.run())
    try:
        await w.wait_applied(timeout)
    finally:
        bridge.stop()
        await asyncio.wait_for(task, 10)
    return bridge
