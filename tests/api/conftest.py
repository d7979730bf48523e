"""The API under test: a real uvicorn server (subprocess, free port) over SQLite and, when
TEST_POSTGRES_URL is set, PostgreSQL; clients are the official SDK (`kalshi-python-async`),
httpx for the operator role, and `websockets`.

One server per database backend per session; every test makes its own users (RSA keys
generated here) and markets (unique tickers), so tests share the server, not state.
Under CI=true a missing TEST_POSTGRES_URL fails the PostgreSQL variant instead of skipping.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.databases import BACKENDS, fresh_database

REPO = Path(__file__).resolve().parents[2]
OPERATOR_TOKEN = "test-operator-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen
    log: Path

    @property
    def host(self) -> str:
        return f"{self.base}/trade-api/v2"

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/trade-api/ws/v2"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(db_url: str, home: Path, **env_extra: str) -> Server:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "TANDEM_HOME": str(home), "TANDEM_OPERATOR_TOKEN": OPERATOR_TOKEN,
           "TANDEM_API_RATE_READ": "1000", "TANDEM_API_RATE_WRITE": "1000", **env_extra}
    log = home / "api.log"
    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "api", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"API server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.host}/exchange/status", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"API server not ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session", params=BACKENDS)
def server(request, tmp_path_factory):
    home = tmp_path_factory.mktemp(f"api-{request.param}")
    with fresh_database(request.param, home, "api") as url:
        srv = start_server(url, home)
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture
async def operator(server):
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
                                 timeout=30) as client:
        yield client


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(private: rsa.RSAPrivateKey) -> str:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


def public_pem(private: rsa.RSAPrivateKey) -> str:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


@dataclass
class Trader:
    name: str
    user_id: int
    key_id: str
    private_key: rsa.RSAPrivateKey
    client: object  # kalshi_python_async.KalshiClient

    @property
    def private_pem(self) -> str:
        return pem(self.private_key)


def sdk_client(server: Server, key_id: str, private_key: rsa.RSAPrivateKey):
    from kalshi_python_async import Configuration, KalshiClient

    config = Configuration(host=server.host)
    config.api_key_id = key_id
    config.private_key_pem = pem(private_key)
    return KalshiClient(config)


@pytest.fixture
async def make_trader(server, operator):
    """make_trader(cents=...) -> a funded user with an API key and an SDK client signed with it."""
    made: list[Trader] = []

    async def make(cents: int = 1_000_000, name: str | None = None) -> Trader:
        key = new_private_key()
        name = name or unique("trader")
        r = await operator.post("/operator/users", json={"name": name, "public_key": public_pem(key)})
        assert r.status_code == 201, r.text
        body = r.json()
        if cents:
            r = await operator.post(f"/operator/users/{body['user_id']}/fund", json={"cents": cents})
            assert r.status_code == 200, r.text
        trader = Trader(name, body["user_id"], body["api_key_id"], key, sdk_client(server, body["api_key_id"], key))
        made.append(trader)
        return trader

    yield make
    for trader in made:
        await trader.client.close()


@pytest.fixture
async def make_market(operator):
    async def make(ticker: str | None = None, **fields) -> str:
        ticker = ticker or unique("MKT")
        body = {"ticker": ticker, "title": f"Will {ticker} happen?", "close_time": "2099-01-01T00:00:00Z", **fields}
        r = await operator.post("/operator/markets", json=body)
        assert r.status_code == 201, r.text
        return ticker

    return make
