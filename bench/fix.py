"""The FIX gateway from one client session: orders/s and NewOrderSingle -> ExecutionReport latency.

`python -m bench fix`. For SQLite (and PostgreSQL when BENCH_POSTGRES_URL / TEST_POSTGRES_URL is
set, or scripts/ensure-postgres.sh finds one) it starts `tandem api` with TANDEM_FIX_PORT on a
fresh database, makes one funded user and one market over REST, and logs one FIX session on
(TLS, KalshiRT) with fix.client.RawClient (simplefix frames, one blocking socket).

Two phases, each BENCH_FIX_SECONDS (10):
- round trip: one order at a time: NewOrderSingle, wait for its ExecutionReport (New), then
  OrderCancelRequest, wait for its ExecutionReport (Canceled). Latency p50/p99 of each.
- pipelined: up to BENCH_FIX_WINDOW (32) commands in flight, each acknowledged order
  cancelled at once (the 1/1 mix of `bench api`, over one session): orders placed/s, order
  commands/s (placed + cancelled), and the latencies under that load.
Orders are resting bids of 1 contract at 1..49 cents (never crossing). Client and server share
the machine's cores, as in `bench api`.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bench._databases import postgres_url, scratch_postgres
from bench.api import REPO, TOKEN, _pct, _setup
from fix import tags as T
from fix.client import RawClient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db_url: str, home: Path) -> tuple[subprocess.Popen, int, int]:
    import httpx

    port, fix_port = _free_port(), _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "TANDEM_HOME": str(home), "TANDEM_OPERATOR_TOKEN": TOKEN,
           "TANDEM_API_RATE_READ": "1000000", "TANDEM_API_RATE_WRITE": "1000000", "TANDEM_FIX_PORT": str(fix_port)}
    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "api", "--port", str(port)], cwd=REPO, env=env,
                            stdout=(home / "api.log").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((home / "api.log").read_text()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/trade-api/v2/exchange/status", timeout=1).status_code == 200:
                return proc, port, fix_port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("API server did not start")


class _Orders:
    """NewOrderSingle / OrderCancelRequest frames; their ExecutionReports matched by ClOrdID."""

    def __init__(self, client: RawClient, ticker: str) -> None:
        self.client, self.ticker, self.n = client, ticker, 0
        self.sent: dict[str, tuple[str, float]] = {}  # ClOrdID -> (kind, sent at)
        self.place_ms: list[float] = []
        self.cancel_ms: list[float] = []
        self.placed = self.canceled = self.errors = 0

    def place(self) -> None:
        self.n += 1
        cl = f"b{self.n}"
        self.sent[cl] = ("D", time.perf_counter())
        self.client.send("D", [(T.ClOrdID, cl), (T.Symbol, self.ticker), (T.Side, 1), (T.OrderQty, 1), (T.OrdType, 2),
                               (T.Price, 1 + self.n % 49)])

    def cancel(self, orig: str) -> None:
        cl = f"c{orig}"
        self.sent[cl] = ("F", time.perf_counter())
        self.client.send("F", [(T.ClOrdID, cl), (T.OrigClOrdID, orig), (T.Symbol, self.ticker), (T.Side, 1)])

    def receive(self) -> str | None:
        """Read one message; the ClOrdID of a New to cancel, else None."""
        m = self.client.receive(30)
        if m is None:
            raise ConnectionError("the gateway closed the session")
        if m.get(T.MsgType) != b"8":
            return None
        cl = m.get(T.ClOrdID).decode()
        kind, at = self.sent.pop(cl, (None, 0.0))
        ms = (time.perf_counter() - at) * 1000
        exec_type = m.get(T.ExecType)
        if kind == "D" and exec_type == b"0":
            self.placed += 1
            self.place_ms.append(ms)
            return cl
        if kind == "F" and exec_type == b"4":
            self.canceled += 1
            self.cancel_ms.append(ms)
            return None
        self.errors += 1
        print("    unexpected:", bytes(m.encode(raw=True)).replace(b"\x01", b"|")[:300])
        return None


def _session(fix_port: int, key_id: str, pem: bytes) -> RawClient:
    client = RawClient("127.0.0.1", fix_port, key_id)
    client.logon(load_pem_private_key(pem, None))
    client.expect("A")
    return client


def run_backend(name: str, db_url: str, home: Path, seconds: float, window: int) -> None:
    proc, port, fix_port = _start(db_url, home)
    try:
        creds, tickers = _setup(f"http://127.0.0.1:{port}", 1, 1)
        client = _session(fix_port, *creds[0])
        orders = _Orders(client, tickers[0])
        for _ in range(200):  # warm-up
            orders.place()
            cl = None
            while cl is None:
                cl = orders.receive()
            orders.cancel(cl)
            while orders.sent:
                orders.receive()
        orders = _Orders(client, tickers[0])
        orders.n = 10_000
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            orders.place()
            cl = None
            while cl is None:
                cl = orders.receive()
            orders.cancel(cl)
            while orders.sent:
                orders.receive()
        print(f"  {name:8} round trip   orders placed {orders.placed / seconds:6,.0f}/s   "
              f"D->8 p50 {_pct(orders.place_ms, .5):.2f} ms p99 {_pct(orders.place_ms, .99):.2f} ms   "
              f"F->8 p50 {_pct(orders.cancel_ms, .5):.2f} ms p99 {_pct(orders.cancel_ms, .99):.2f} ms", flush=True)

        orders = _Orders(client, tickers[0])
        orders.n = 1_000_000
        start = time.perf_counter()
        stop = start + seconds
        while time.perf_counter() < stop:
            while len(orders.sent) < window:
                orders.place()
            cl = orders.receive()
            if cl is not None:
                orders.cancel(cl)
        while orders.sent:  # drain: everything sent is acknowledged
            cl = orders.receive()
            if cl is not None:
                orders.cancel(cl)
        elapsed = time.perf_counter() - start
        print(f"  {name:8} pipelined {window:2}  orders placed {orders.placed / elapsed:6,.0f}/s   "
              f"order commands {(orders.placed + orders.canceled) / elapsed:6,.0f}/s   "
              f"D->8 p50 {_pct(orders.place_ms, .5):.2f} ms p99 {_pct(orders.place_ms, .99):.2f} ms   "
              f"F->8 p50 {_pct(orders.cancel_ms, .5):.2f} ms p99 {_pct(orders.cancel_ms, .99):.2f} ms"
              + (f"   unexpected reports {orders.errors}" if orders.errors else ""), flush=True)
        client.send("5", [(T.Text, "bench done")])
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    seconds = float(os.environ.get("BENCH_FIX_SECONDS", "10"))
    window = int(os.environ.get("BENCH_FIX_WINDOW", "32"))
    backends = os.environ.get("BENCH_FIX_BACKENDS", "sqlite,postgres").split(",")
    print(f"  {os.cpu_count()} cores; one FIX session (TLS); {seconds:g} s per phase", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            home = Path(tmp) / "sqlite"
            home.mkdir()
            run_backend("sqlite", f"sqlite:///{home / 'tandem.db'}", home, seconds, window)
        if "postgres" in backends:
            url = postgres_url()
            if url is None:
                print("  postgres: no server (set BENCH_POSTGRES_URL or install via scripts/ensure-postgres.sh)")
                return
            home = Path(tmp) / "postgres"
            home.mkdir()
            with scratch_postgres(url, "bench_fix") as db_url:
                run_backend("postgres", db_url, home, seconds, window)
