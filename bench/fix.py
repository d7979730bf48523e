"""The FIX gateway from one client session: orders/s and NewOrderSingle -> ExecutionReport latency.

`python -m bench fix`. For SQLite (and PostgreSQL when BENCH_POSTGRES_URL / TEST_POSTGRES_URL is
set, or scripts/ensure-postgres.sh finds one) it starts `tandem api` with TANDEM_FIX_PORT on a
fresh database, makes one funded user and one market over REST, and logs one FIX session on
(TLS, KalshiRT) with fix.client.RawClient (fix.codec frames, one blocking socket).

One phase per in-flight window of BENCH_FIX_WINDOWS ("1,4,8,32"), each BENCH_FIX_SECONDS (10):
up to that many commands in flight, each acknowledged order cancelled at once (the 1/1 mix of
`bench api`, over one session; window 1 is one command at a time, a client that waits for
each report). Printed per window: orders placed/s, order commands/s (placed + cancelled),
NewOrderSingle -> ExecutionReport (New) and OrderCancelRequest -> ExecutionReport (Canceled)
latency p50/p99, the server process's CPU time per order command (less noisy than the rates
on a shared machine) and the load average at the end of the phase.
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


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


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
        print("    unexpected:", m.raw.replace(b"\x01", b"|")[:300])
        return None


def _session(fix_port: int, key_id: str, pem: bytes) -> RawClient:
    client = RawClient("127.0.0.1", fix_port, key_id)
    client.logon(load_pem_private_key(pem, None))
    client.expect("A")
    return client


def run_backend(name: str, db_url: str, home: Path, seconds: float, windows: list[int]) -> None:
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
        for n, window in enumerate(windows):
            orders = _Orders(client, tickers[0])
            orders.n = 1_000_000 * (n + 1)
            cpu0, start = _cpu_s(proc.pid), time.perf_counter()
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
            elapsed, cpu = time.perf_counter() - start, _cpu_s(proc.pid) - cpu0
            commands = orders.placed + orders.canceled
            print(f"  {name:8} in flight {window:2}  orders placed {orders.placed / elapsed:6,.0f}/s   "
                  f"order commands {commands / elapsed:6,.0f}/s   "
                  f"D->8 p50 {_pct(orders.place_ms, .5):.2f} ms p99 {_pct(orders.place_ms, .99):.2f} ms   "
                  f"F->8 p50 {_pct(orders.cancel_ms, .5):.2f} ms p99 {_pct(orders.cancel_ms, .99):.2f} ms   "
                  f"server CPU {cpu * 1e6 / max(commands, 1):.0f} us/command   load {_load()}"
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
    windows = [int(w) for w in os.environ.get("BENCH_FIX_WINDOWS", os.environ.get("BENCH_FIX_WINDOW", "1,4,8,32")).split(",")]
    backends = os.environ.get("BENCH_FIX_BACKENDS", "sqlite,postgres").split(",")
    print(f"  {os.cpu_count()} cores; one FIX session (TLS); {seconds:g} s per phase", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            home = Path(tmp) / "sqlite"
            home.mkdir()
            run_backend("sqlite", f"sqlite:///{home / 'tandem.db'}", home, seconds, windows)
        if "postgres" in backends:
            url = postgres_url()
            if url is None:
                print("  postgres: no server (set BENCH_POSTGRES_URL or install via scripts/ensure-postgres.sh)")
                return
            home = Path(tmp) / "postgres"
            home.mkdir()
            with scratch_postgres(url, "bench_fix") as db_url:
                run_backend("postgres", db_url, home, seconds, windows)
