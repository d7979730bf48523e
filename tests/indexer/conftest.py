"""A whole indexer world for tests: its own localnet (a fresh chain, so every program event on
it is this world's), the operator keys in a TANDEM_HOME, the exchange's database (SQLite file),
an ExchangeService to trade through, the test applier standing in for the bridge, and the
real `tandem indexer` as a child process (what the kill -9 test kills).

`indexer_stack` (module scope) is also what the dashboard's browser test uses: `.url` is the
indexer's base URL; `.tamper_ledger(delta)` / `.heal_ledger()` make and undo a `custody_yes` break.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from solders.keypair import Keypair
from sqlalchemy import text

from chain.client import ChainClient
from chain.localnet import Localnet, binary_path, build, free_port
from chain.setup import ChainKeys, ExchangeSettings, init_chain
from exchange.outbox_reader import OutboxReader
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService
from tests.bridge.harness import BridgeProcess as HarnessBridgeProcess
from tests.databases import BACKENDS, fresh_database
from tests.indexer.applier import Applier

REPO = Path(__file__).resolve().parents[2]
ONE = 1_000_000
CENT = 10_000
SLOT_MS = 50

# Quick cadences for tests (tandem/settings.py names them).
INDEXER_ENV = {
    "TANDEM_INDEXER_POLL_S": "0.1",
    "TANDEM_INDEXER_FULL_EVERY_S": "0.5",
    "TANDEM_INDEXER_LAG_MAX_S": "3",
    "TANDEM_INDEXER_LAG_MAX_SEQS": "256",
    "TANDEM_INDEXER_GAP_GRACE_SLOTS": "20",
    "TANDEM_INDEXER_SAMPLE_S": "0.2",
    "TANDEM_INDEXER_BALANCE_CHECK_S": "1",
}


def start_localnet(tmp: Path, keys: ChainKeys) -> Localnet:
    binary = binary_path() if os.environ.get("TANDEM_LOCALNET_BIN") else build(quiet=True)
    kw = {}
    if "upgrade_authority" in inspect.signature(Localnet.__init__).parameters:
        kw["upgrade_authority"] = keys.admin.pubkey()  # the program's upgrade authority may initialize
    return Localnet(slot_ms=SLOT_MS, binary=binary, log_path=tmp / f"localnet-{uuid.uuid4().hex[:6]}.log", **kw).start()


class Webhook:
    """A real HTTP endpoint that records what the indexer POSTs to it."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/breaks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


class IndexerProcess:
    """`tandem indexer --port P` as a child process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "IndexerProcess":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "indexer", "--port", str(self.port)], env=self.env,
                                     cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tandem indexer exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v1/status", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"tandem indexer not up after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class BridgeProcess(HarnessBridgeProcess):
    """The real `tandem bridge` as a child process (stopped to make the lag grow), polling fast."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__({**env, "TANDEM_BRIDGE_POLL_MS": "20"}, log)


@dataclass
class Stack:
    tmp: Path
    home: Path
    db_url: str
    chain: Localnet
    keys: ChainKeys
    client: ChainClient
    collateral_mint: object
    svc: ExchangeService
    applier: Applier
    indexer: IndexerProcess
    webhook: Webhook
    ticker: str = ""
    users: dict[str, int] = field(default_factory=dict)
    bridge: BridgeProcess | None = None  # the real bridge; None: the test applier stands in

    @property
    def url(self) -> str:
        return self.indexer.url

    @property
    def rpc_url(self) -> str:
        return self.chain.url

    # -- exchange side ------------------------------------------------------------------------
    def user(self, name: str, cents: int = 100_000) -> int:
        uid = self.svc.create_user(f"{name}-{uuid.uuid4().hex[:6]}").id
        if cents:
            self.svc.fund(uid, cents=cents)
        self.users[name] = uid
        return uid

    def market(self) -> str:
        ticker = f"IX-{uuid.uuid4().hex[:10].upper()}"
        self.svc.create_market(ticker, title="indexer test", close_ms=int(time.time() * 1000) + 3_600_000)
        return ticker

    def order(self, user: str, ticker: str, side: str, action: str, count: int, price_cents: int):
        req = OrderRequest.legacy(ticker, side, action, count * ONE, yes_price=price_cents * CENT if side == "yes" else None,
                                  no_price=price_cents * CENT if side == "no" else None)
        return self.svc.place_order(self.users[user], req)

    def mint_sets(self, ticker: str, count: int) -> None:
        """A custodial YES buyer and NO buyer: `count` new sets (a custody_mint_set record)."""
        self.order("a", ticker, "yes", "buy", count, 55)
        self.order("b", ticker, "no", "buy", count, 45)

    # -- "behind the service's back" ------------------------------------------------------------
    def tamper_ledger(self, delta: int, user: str = "a", asset: str | None = None) -> None:
        """Add `delta` to a custodial user's ledger balance of `asset` (default YES of the stack's
        market) directly in the database: a `custody_yes` break (`cash` for asset "USD")."""
        asset = asset or f"YES:{self.ticker}"
        with self.svc.db.writer.begin() as conn:
            conn.execute(text(
                "UPDATE ledger_balances SET amount = amount + :d WHERE asset = :a AND account_id = "
                "(SELECT id FROM ledger_accounts WHERE kind = 'user' AND ref = :ref)"), {"d": delta, "a": asset, "ref": str(self.users[user])})

    def heal_ledger(self, delta: int, user: str = "a", asset: str | None = None) -> None:
        self.tamper_ledger(-delta, user, asset)

    # -- the indexer's answers ---------------------------------------------------------------------
    def get(self, path: str, **params) -> dict:
        r = httpx.get(f"{self.url}{path}", params=params or None, timeout=10)  # None keeps a query already in `path`
        r.raise_for_status()
        return r.json()

    async def wait_for(self, predicate, what: str, timeout: float = 30.0, path: str = "/v1/reconciliation") -> dict:
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            try:
                body = self.get(path)
                if predicate(body):
                    return body
            except httpx.HTTPStatusError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last {path}: {json.dumps(body)[:3000]}")

    def row(self, body: dict, ticker: str | None = None) -> dict:
        ticker = ticker or self.ticker
        return next(m for m in body["markets"] if m["ticker"] == ticker)

    async def settle(self, timeout: float = 30.0) -> dict:
        """Everything applied (by the applier, or waiting for the real bridge), then a reconciliation
        at a slot past it with every stream applied."""
        reader = self.applier.reader
        if self.bridge is None:
            await self.applier.apply_all()
        else:
            deadline = time.monotonic() + timeout
            while not all(reader.applied_seq(st) >= last for st, last in reader.streams().items()):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the bridge did not apply everything: {[(st, reader.applied_seq(st), last) for st, last in reader.streams().items()]}")
                await asyncio.sleep(0.1)
        slot = (await self.client.rpc.get_slot()).value
        seqs = reader.streams()
        return await self.wait_for(
            lambda b: b["slot"] >= slot and all(m["applied_seq"] == m["outbox_seq"] == seqs.get(m["ticker"], 0) for m in b["markets"]),
            "a reconciliation after everything was applied", timeout)


def open_breaks(body: dict, kind: str, ticker: str | None = "__any__") -> list[dict]:
    return [b for b in body["breaks"] if b["kind"] == kind and (ticker == "__any__" or b["ticker"] == ticker)]


@pytest.fixture(scope="module")
async def own_chain(tmp_path_factory):
    """A fresh localnet brought up as `tandem chain init` does: (localnet, setup)."""
    tmp = tmp_path_factory.mktemp("chain")
    keys = ChainKeys.load(tmp / "keys")
    chain = start_localnet(tmp, keys)
    try:
        async with ChainClient(chain.url, keys.admin, poll_seconds=0.02) as client:
            setup = await init_chain(client, keys, demo_ticker=None, settings=ExchangeSettings(force_close_slots=5, dispute_window_secs=0))
        yield chain, setup
    finally:
        chain.stop()


@asynccontextmanager
async def make_stack(tmp_path_factory, *, real_bridge: bool = False, backend: str = "sqlite"):
    with fresh_database(backend, tmp_path_factory.mktemp("db"), "ix") as db_url:
        async with _make_stack(tmp_path_factory, db_url, real_bridge) as stack:
            yield stack


@asynccontextmanager
async def _make_stack(tmp_path_factory, db_url: str, real_bridge: bool):
    tmp = tmp_path_factory.mktemp("indexer")
    home = tmp / "home"
    keys = ChainKeys.load(home / "keys")
    chain = start_localnet(tmp, keys)
    webhook = Webhook()
    client = ChainClient(chain.url, keys.admin, poll_seconds=0.02)
    svc = indexer = bridge = None
    try:
        setup = await init_chain(client, keys, demo_ticker=None, settings=ExchangeSettings(force_close_slots=5, dispute_window_secs=0))
        svc = ExchangeService(db_url)
        applier = Applier(client, keys, setup.collateral_mint, OutboxReader(svc))
        env = {**os.environ, "TANDEM_HOME": str(home), "DATABASE_URL": db_url, "RPC_URL": chain.url,
               "TANDEM_INDEXER_WEBHOOK_URL": webhook.url, **INDEXER_ENV}
        for name in ("TANDEM_INDEXER_PORT", "TANDEM_OPERATOR_TOKEN"):
            env.pop(name, None)
        indexer = IndexerProcess(env, tmp / "indexer.log").start()
        if real_bridge:
            bridge = BridgeProcess(env, tmp / "bridge.log").start()
        stack = Stack(tmp, home, db_url, chain, keys, client, setup.collateral_mint, svc, applier, indexer, webhook, bridge=bridge)
        stack.ticker = stack.market()
        stack.user("a")
        stack.user("b")
        stack.mint_sets(stack.ticker, 10)
        await stack.settle(timeout=60)
        yield stack
    finally:
        for process in (bridge, indexer):
            if process is not None:
                process.stop()
        if svc is not None:
            svc.close()
        await client.close()
        webhook.stop()
        chain.stop()


@pytest.fixture(scope="module")
async def indexer_stack(tmp_path_factory):
    """The indexer world with the test applier as the bridge (SQLite)."""
    async with make_stack(tmp_path_factory) as stack:
        yield stack


@pytest.fixture(scope="module", params=BACKENDS)
async def any_stack(request, tmp_path_factory):
    """The same world on each database backend (SQLite, PostgreSQL)."""
    async with make_stack(tmp_path_factory, backend=request.param) as stack:
        yield stack


@pytest.fixture(scope="module")
async def bridged_stack(tmp_path_factory):
    """The indexer world with the real `tandem bridge` applying the outbox."""
    async with make_stack(tmp_path_factory, real_bridge=True) as stack:
        yield stack


async def funded_wallet(s: Stack):
    """A funded keypair on the stack's chain (for plain SPL transfers and program calls)."""
    from chain.setup import fund_collateral

    kp = Keypair()
    await s.client.airdrop(kp.pubkey(), 10 * 10**9)
    account = await fund_collateral(s.client, s.keys, kp.pubkey(), 1_000 * ONE, s.collateral_mint)
    return kp, account


@pytest.fixture(scope="module")
async def wallet(indexer_stack):
    return await funded_wallet(indexer_stack)


@pytest.fixture(scope="module")
async def any_wallet(any_stack):
    return await funded_wallet(any_stack)
