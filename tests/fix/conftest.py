"""The gateway under test: `tandem api` with TANDEM_FIX_PORT (a real uvicorn process, as
tests/api runs it) over SQLite and PostgreSQL. Users, keys and markets are made over REST by
the operator; clients are QuickFIX/J (tests/fix/qfj, the functional scenarios) and
fix.client.RawClient (bytes no engine would send)."""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import OPERATOR_TOKEN, Server, free_port, new_private_key, public_pem, start_server, unique
from tests.databases import BACKENDS, fresh_database


@dataclass
class FixServer:
    api: Server
    fix_port: int
    home: Path
    db_url: str

    @property
    def base(self) -> str:
        return self.api.base

    @property
    def cert(self) -> Path:
        return self.home / "fix" / "fix-cert.pem"

    def operator(self) -> httpx.Client:
        return httpx.Client(base_url=self.api.base, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30)

    def stop(self) -> None:
        self.api.stop()


def start_fix_server(db_url: str, home: Path, fix_port: int | None = None) -> FixServer:
    fix_port = fix_port or free_port()
    api = start_server(db_url, home, TANDEM_FIX_PORT=str(fix_port), TANDEM_API_RATE_WRITE="100000",
                       TANDEM_API_RATE_READ="100000")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", fix_port), timeout=1).close()
            return FixServer(api, fix_port, home, db_url)
        except OSError:
            time.sleep(0.1)
    api.stop()
    raise RuntimeError("FIX port never opened:\n" + api.log.read_text()[-3000:])


@pytest.fixture(scope="session", params=BACKENDS)
def fix_server(request, tmp_path_factory):
    home = tmp_path_factory.mktemp(f"fix-{request.param}")
    with fresh_database(request.param, home, "fix") as url:
        server = start_fix_server(url, home)
        try:
            yield server
        finally:
            server.stop()


@dataclass
class User:
    name: str
    user_id: int
    key_id: str
    private_key: object


def make_user(server: FixServer, cents: int = 1_000_000) -> User:
    key = new_private_key()
    name = unique("fixuser")
    with server.operator() as op:
        r = op.post("/operator/users", json={"name": name, "public_key": public_pem(key)})
        assert r.status_code == 201, r.text
        body = r.json()
        if cents:
            r = op.post(f"/operator/users/{body['user_id']}/fund", json={"cents": cents})
            assert r.status_code == 200, r.text
    return User(name, body["user_id"], body["api_key_id"], key)


def make_market(server: FixServer) -> str:
    ticker = unique("FIXM")
    with server.operator() as op:
        r = op.post("/operator/markets", json={"ticker": ticker, "title": f"Will {ticker} happen?",
                                               "close_time": "2099-01-01T00:00:00Z"})
        assert r.status_code == 201, r.text
    return ticker


def rest(server: FixServer, user: User, method: str, path: str, body: dict | None = None) -> httpx.Response:
    """A signed Kalshi REST call as `user` (path under /trade-api/v2)."""
    from api.auth import KEY_HEADER, sign

    full = "/trade-api/v2" + path
    headers = sign(user.private_key, int(time.time() * 1000), method, full) | {KEY_HEADER: user.key_id}
    return httpx.request(method, server.base + full, headers=headers, json=body, timeout=30)
