"""The exchange commands of the `tandem` CLI, run as a real process on a fresh TANDEM_HOME."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from exchange.service import ExchangeService


def _tandem(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TANDEM_HOME": str(tmp_path / "home")}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "tandem.cli", *args], capture_output=True, text=True, env=env, cwd=tmp_path)


def test_user_key_fund_market(tmp_path):
    assert _tandem(tmp_path, "user", "create", "alice").stdout.strip() == "1"
    out = _tandem(tmp_path, "key", "create", "--user", "alice", "--out", "alice.pem")
    key_id = out.stdout.strip()
    assert out.returncode == 0 and len(key_id) == 36
    private = load_pem_private_key((tmp_path / "alice.pem").read_bytes(), password=None)
    assert _tandem(tmp_path, "fund", "--user", "alice", "--cents", "2500").stdout.strip() == "2500"
    assert _tandem(tmp_path, "market", "create", "DEMO-1", "--title", "Demo", "--close", "2031-01-01T00:00:00Z").returncode == 0
    bad = _tandem(tmp_path, "fund", "--user", "nobody", "--cents", "1")
    assert bad.returncode == 1 and "no user named nobody" in bad.stderr
    assert _tandem(tmp_path, "user", "create", "alice").returncode == 1
    assert _tandem(tmp_path, "market", "create", "X", "--title", "x", "--close", "soon").returncode == 1
    lower = _tandem(tmp_path, "market", "create", "demo-2", "--title", "x", "--close", "2031-01-01T00:00:00Z")
    assert lower.returncode == 1 and "is not 1-32 characters of A-Z" in lower.stderr  # the program's ticker rule
    svc = ExchangeService(f"sqlite:///{tmp_path / 'home' / 'tandem.db'}")
    key = svc.get_api_key(key_id)
    from cryptography.hazmat.primitives import serialization

    assert key.public_key_pem.encode() == private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert svc.balance(1).cash == 25 * 1_000_000
    market = svc.get_market("DEMO-1")
    assert (market.status, market.close_ms) == ("open", 1924992000000)
    assert [m.ticker for m in svc.list_markets().items] == ["DEMO-1"]  # the refused one wrote nothing
    svc.close()
