"""`tandem chain init` and `tandem localnet`, run as real processes."""
from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from chain.localnet import free_port

pytestmark = pytest.mark.localnet


def tandem(*args: str, home, rpc_url: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "TANDEM_HOME": str(home), "RPC_URL": rpc_url}
    for name in ("TANDEM_PROGRAM_ID", "TANDEM_COLLATERAL_MINT"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "tandem.cli", *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_chain_init_twice_creates_then_finds(localnet, chain_setup, tandem_home):
    # the session chain was set up from this TANDEM_HOME; the CLI adds the demo market once
    first = tandem("chain", "init", "--demo-ticker", "CLI-DEMO", home=tandem_home, rpc_url=localnet.url)
    assert first.returncode == 0, first.stderr
    assert "market CLI-DEMO: created" in first.stdout and "exchange: exists" in first.stdout
    assert str(chain_setup.collateral_mint) in first.stdout
    second = tandem("chain", "init", "--demo-ticker", "CLI-DEMO", home=tandem_home, rpc_url=localnet.url)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout and "market CLI-DEMO: exists" in second.stdout
    keys = sorted(p.name for p in (tandem_home / "keys").iterdir())
    assert keys == ["admin.json", "bridge.json", "collateral-mint.json", "resolver.json"]


def test_chain_init_refuses_someone_elses_exchange(localnet, chain_setup, tmp_path):
    out = tandem("chain", "init", "--no-demo", home=tmp_path / "other", rpc_url=localnet.url)
    assert out.returncode == 1 and "exists with admin" in out.stderr


def test_chain_init_without_a_chain_is_a_clear_error(tmp_path):
    out = tandem("chain", "init", home=tmp_path, rpc_url=f"http://127.0.0.1:{free_port()}", timeout=60)
    assert out.returncode == 1 and "cannot reach RPC_URL" in out.stderr


def test_tandem_localnet_serves_json_rpc(tmp_path, localnet):
    port = free_port()
    env = {**os.environ, "TANDEM_HOME": str(tmp_path)}
    if not os.environ.get("TANDEM_LOCALNET_BIN"):
        env["TANDEM_LOCALNET_BIN"] = str(localnet.binary)
    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "localnet", "--port", str(port), "--slot-ms", "50"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if "listening on" in line:
                break
        reply = httpx.post(f"http://127.0.0.1:{port}", json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}).json()
        assert reply["result"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
