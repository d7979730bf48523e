"""The real API server under concurrent signed clients placing and cancelling orders.

`python -m bench api`. For SQLite (always) and PostgreSQL (TEST_POSTGRES_URL /
BENCH_POSTGRES_URL, else scripts/ensure-postgres.sh), it starts `tandem api` (uvicorn, one
process: it owns the books) on a fresh database, creates markets and funded users through
the operator endpoints, then runs client processes, each an asyncio loop with one keep-alive
HTTP/1.1 connection per concurrent worker (a minimal stream client: cheap on CPU).

A worker's cycle, for a mix P/C: place C resting bids (never crossing), P per request
(P = 1: POST /portfolio/events/orders; P > 1: Kalshi's batched create), then cancel the C
in one DELETE /portfolio/events/orders/batched. Mixes: 1/1 (one order per request both
ways), 1/10 (orders placed one by one, cancelled ten at a time, as a quoting bot refreshes),
10/10. Requests are Kalshi-signed; a signature covers timestamp + method + path, so each
worker signs each of its two constant paths once per second (RSA signing per request would
cost the clients more CPU than the server spends): the server verifies every request in full.

Prints, per mix: orders placed/s, order commands/s (placed + cancelled), requests/s, and
p50/p99 latency of each request kind, then the bar of issue 4 for each SQLite mix: >= 2,000
orders/s with p99 < 50 ms, on 2 cores shared by server and clients, where an order is an
order command (a placement or a cancellation, the two messages every quoting client sends). Knobs: BENCH_API_SECONDS (10 per mix),
BENCH_API_PROCS (1), BENCH_API_WORKERS (8 per process), BENCH_API_MARKETS (4),
BENCH_API_BACKENDS (sqlite,postgres), BENCH_API_MIXES ("1/1,1/10,10/10"), BENCH_API_BATCH
(N: the single mix N/N), BENCH_API_BASELINE (1: also time the 1/1 cycle on ExchangeService
in-process, SQLite).
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench._databases import REPO, postgres_url, scratch_postgres

TOKEN = "bench-operator-token"
CREATE_PATH = "/trade-api/v2/portfolio/events/orders"
CANCEL_PATH = "/trade-api/v2/portfolio/events/orders/batched"
BATCH_PATH = CANCEL_PATH  # POST creates a batch, DELETE cancels one


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class _Signer:
    """Kalshi headers for one key, re-signed once a second per (method, path)."""

    def __init__(self, key_id: str, pem: bytes) -> None:
        from api.auth import sign

        self._sign = sign
        self.key_id = key_id
        self.key = serialization.load_pem_private_key(pem, password=None)
        self.cache: dict[tuple[str, str], tuple[int, dict]] = {}

    def headers(self, method: str, path: str) -> dict:
        now = int(time.time() * 1000)
        cached = self.cache.get((method, path))
        if cached is None or now - cached[0] > 1000:
            headers = {"KALSHI-ACCESS-KEY": self.key_id, **self._sign(self.key, now, method, path)}
            cached = self.cache[(method, path)] = (now, headers)
        return cached[1]


class _Conn:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the clients share 2 cores with
    the server, so they must cost far less CPU per request than it does (httpx costs ~1.7 ms)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict, headers: dict) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        raw = json.dumps(body, separators=(",", ":")).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(raw)}\r\n{head}\r\n".encode() + raw)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        data = await self.reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), json.loads(data) if data else {}


async def _worker(base: str, signer: _Signer, tickers: list[str], stop_at: float, start_at: float, out: dict,
                  place_batch: int, cancel_batch: int) -> None:
    """Place `cancel_batch` resting orders (`place_batch` per request: 1 = the single-order
    endpoint, more = Kalshi's batched create), then cancel them in one batched DELETE."""
    rng = random.Random()
    host, port = base.removeprefix("http://").split(":")
    conn = _Conn(host, int(port))

    def order() -> dict:
        return {"ticker": rng.choice(tickers), "side": "bid", "count": f"{rng.randint(1, 5)}.00",
                "price": f"0.{rng.randint(1, 40):02d}00", "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "taker_at_cross"}

    while time.perf_counter() < stop_at:
        ids: list[str] = []
        creates: list[float] = []
        while len(ids) < cancel_batch:
            t0 = time.perf_counter()
            if place_batch == 1:
                status, reply = await conn.request("POST", CREATE_PATH, order(), signer.headers("POST", CREATE_PATH))
                placed = [reply.get("order_id")] if status == 201 else []
            else:  # Kalshi's batched create: up to 20 orders per request
                status, reply = await conn.request("POST", BATCH_PATH, {"orders": [order() for _ in range(place_batch)]},
                                                   signer.headers("POST", BATCH_PATH))
                placed = [o.get("order_id") for o in reply.get("orders", [])] if status == 201 else []
            creates.append(time.perf_counter() - t0)
            if status != 201 or len(placed) != place_batch or not all(placed):
                out["errors"].append(f"create {status} {str(reply)[:200]}")
                break
            ids += placed
        t1 = time.perf_counter()
        status, reply = await conn.request("DELETE", CANCEL_PATH, {"orders": [{"order_id": i} for i in ids]},
                                           signer.headers("DELETE", CANCEL_PATH))
        t2 = time.perf_counter()
        if status != 200 or any(o.get("error") for o in reply["orders"]):
            out["errors"].append(f"cancel {status} {str(reply)[:200]}")
            continue
        if t1 - sum(creates) >= start_at and t2 <= stop_at:
            out["create"] += creates
            out["cancel"].append(t2 - t1)
            out["placed"] += len(ids)
    if conn.writer is not None:
        conn.writer.close()


def _client_process(base: str, creds: list[tuple[str, bytes]], tickers: list[str], workers: int, warmup: float,
                    seconds: float, start_wall: float, place_batch: int, cancel_batch: int, queue) -> None:
    async def run() -> dict:
        out = {"create": [], "cancel": [], "errors": [], "placed": 0}
        # Align on the parent's wall clock so every process measures the same window.
        offset = time.perf_counter() - time.time()
        start_at = start_wall + warmup + offset
        stop_at = start_at + seconds
        signers = [_Signer(k, p) for k, p in creds]
        await asyncio.gather(*(_worker(base, signers[i % len(signers)], tickers, stop_at, start_at, out, place_batch,
                                       cancel_batch)
                               for i in range(workers)))
        return out

    queue.put(asyncio.run(run()))


def _start_server(db_url: str, home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "TANDEM_HOME": str(home), "TANDEM_OPERATOR_TOKEN": TOKEN,
           "TANDEM_API_RATE_READ": "100000", "TANDEM_API_RATE_WRITE": "100000"}
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "api", "--port", str(port)], cwd=REPO, env=env,
                            stdout=(home / "api.log").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((home / "api.log").read_text()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/trade-api/v2/exchange/status", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("API server did not start")


def _setup(base: str, n_users: int, n_markets: int) -> tuple[list[tuple[str, bytes]], list[str]]:
    op = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    tickers = []
    for m in range(n_markets):
        ticker = f"BENCH-{m}"
        op.post("/operator/markets", json={"ticker": ticker, "close_time": "2099-01-01T00:00:00Z"}).raise_for_status()
        tickers.append(ticker)
    creds = []
    for u in range(n_users):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        r = op.post("/operator/users", json={"name": f"bench-{u}", "public_key": public.decode()})
        r.raise_for_status()
        op.post(f"/operator/users/{r.json()['user_id']}/fund", json={"cents": 10**10}).raise_for_status()
        creds.append((r.json()["api_key_id"], key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption())))
    op.close()
    return creds, tickers


def _mixes() -> list[tuple[int, int]]:
    """BENCH_API_MIXES: "P/C,..." = orders per create request / orders per cancel request."""
    if "BENCH_API_BATCH" in os.environ:  # one mix, batched both ways
        n = int(os.environ["BENCH_API_BATCH"])
        return [(n, n)]
    out = []
    for mix in os.environ.get("BENCH_API_MIXES", "1/1,1/10,10/10").split(","):
        place, cancel = (int(x) for x in mix.split("/"))
        if place < 1 or cancel < place or cancel % place or cancel > 20:
            raise SystemExit(f"bad mix {mix}: need 1 <= P <= C <= 20 with C a multiple of P")
        out.append((place, cancel))
    return out


def run_backend(name: str, db_url: str, home: Path) -> list[dict]:
    """Every mix against one fresh server on `db_url`; returns each mix's figures."""
    figures: list[dict] = []
    seconds = float(os.environ.get("BENCH_API_SECONDS", "10"))
    procs = int(os.environ.get("BENCH_API_PROCS", "1"))
    workers = int(os.environ.get("BENCH_API_WORKERS", "8"))
    n_markets = int(os.environ.get("BENCH_API_MARKETS", "4"))
    warmup = 2.0
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _start_server(db_url, home, port)
    base = f"http://127.0.0.1:{port}"
    try:
        creds, tickers = _setup(base, procs * 4, n_markets)
        for place_batch, cancel_batch in _mixes():
            ctx = mp.get_context("spawn")
            queue = ctx.Queue()
            start_wall = time.time() + 3.0  # time for the processes to start
            children = [ctx.Process(target=_client_process,
                                    args=(base, creds[i * 4:(i + 1) * 4], tickers, workers, warmup, seconds, start_wall,
                                          place_batch, cancel_batch, queue))
                        for i in range(procs)]
            for child in children:
                child.start()
            results = [queue.get(timeout=seconds + 120) for _ in children]
            for child in children:
                child.join()
            figures.append(_report(name, place_batch, cancel_batch, seconds, results))
    finally:
        server.terminate()
        server.wait(15)
    return figures


def _report(name: str, place_batch: int, cancel_batch: int, seconds: float, results: list[dict]) -> dict:
    creates = [x for r in results for x in r["create"]]
    cancels = [x for r in results for x in r["cancel"]]
    errors = [x for r in results for x in r["errors"]]
    placed = sum(r["placed"] for r in results)
    print(f"  {name:8} {place_batch:2}/{cancel_batch:<2}  orders placed {placed / seconds:5.0f}/s  "
          f"order commands (placed + cancelled) {2 * placed / seconds:5.0f}/s  "
          f"requests {(len(creates) + len(cancels)) / seconds:5.0f}/s  "
          f"create p50 {_pct(creates, .5) * 1e3:4.1f} ms p99 {_pct(creates, .99) * 1e3:4.1f} ms  "
          f"cancel p50 {_pct(cancels, .5) * 1e3:4.1f} ms p99 {_pct(cancels, .99) * 1e3:4.1f} ms  "
          f"errors {len(errors)}", flush=True)
    for e in errors[:3]:
        print("    error:", e)
    return {"mix": (place_batch, cancel_batch), "placed_per_s": placed / seconds, "commands_per_s": 2 * placed / seconds,
            "p99_s": max(_pct(creates, .99), _pct(cancels, .99)), "errors": len(errors)}


def _verdict(figures: list[dict]) -> None:
    """Issue 4's bar on SQLite: >= 2,000 orders/s with p99 < 50 ms, an order being an order
    command (a placement or a cancellation), judged at each mix."""
    for f in figures:
        met = f["commands_per_s"] >= 2000 and f["p99_s"] < 0.050 and not f["errors"]
        print(f"  bar sqlite {f['mix'][0]}/{f['mix'][1]}: {f['commands_per_s']:,.0f} order commands/s "
              f"({f['placed_per_s']:,.0f} placed/s), p99 {f['p99_s'] * 1e3:.1f} ms  "
              f"[bar: >= 2,000 orders/s, p99 < 50 ms: {'met' if met else 'MISSED'}]", flush=True)


def service_baseline(db_url: str, seconds: float) -> None:
    """The same place + cancel cycle on ExchangeService in-process, one thread, no HTTP: the
    ceiling the API can approach (what is left is HTTP, auth and the wire format)."""
    from exchange.schemas import OrderRequest
    from exchange.service import ExchangeService

    svc = ExchangeService(db_url)
    try:
        user = svc.create_user("baseline").id
        svc.fund(user, 10**12)
        svc.create_market("BASELINE", close_ms=int(time.time() * 1000) + 86_400_000)
        latencies: list[float] = []
        stop_at = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            order, _ = svc.place_order(user, OrderRequest("BASELINE", "bid", 100_000 + (i % 50) * 10_000, 1_000_000))
            svc.batch_cancel(user, [order.order_id])
            latencies.append(time.perf_counter() - t0)
            i += 1
    finally:
        svc.close()
    print(f"  {'(service)':11} orders placed {i / seconds:6.0f}/s   order commands (place+cancel) {2 * i / seconds:6.0f}/s"
          f"   in-process, one thread, no HTTP; place+cancel p50 {_pct(latencies, .5) * 1e3:5.2f} ms"
          f" p99 {_pct(latencies, .99) * 1e3:5.2f} ms", flush=True)


def main() -> None:
    backends = os.environ.get("BENCH_API_BACKENDS", "sqlite,postgres").split(",")
    print(f"  {os.cpu_count()} cores; {os.environ.get('BENCH_API_PROCS', '1')} client processes x "
          f"{os.environ.get('BENCH_API_WORKERS', '8')} workers; {os.environ.get('BENCH_API_SECONDS', '10')} s measured",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            home = Path(tmp) / "sqlite"
            home.mkdir()
            _verdict(run_backend("sqlite", f"sqlite:///{home / 'tandem.db'}", home))
            if os.environ.get("BENCH_API_BASELINE", "1") != "0":
                service_baseline(f"sqlite:///{home / 'baseline.db'}", float(os.environ.get("BENCH_API_SECONDS", "10")) / 2)
        if "postgres" in backends:
            url = postgres_url()
            if url is None:
                print("  postgres: no server (set BENCH_POSTGRES_URL or install via scripts/ensure-postgres.sh)")
                return
            home = Path(tmp) / "postgres"
            home.mkdir()
            with scratch_postgres(url, "bench_api") as db_url:
                run_backend("postgres", db_url, home)


if __name__ == "__main__":
    main()
