"""`tandem up` as `make run` starts it: every part, the demo market and the demo traffic, on
free ports with a fresh TANDEM_HOME (SQLite). The venue must move for real: the bridge mirrors
the demo market's traffic until the indexer's reconciliation of it is ok with every outbox
record applied, the dashboard is served, and SIGTERM stops every part.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port

pytestmark = pytest.mark.localnet

REPO = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


def test_up_runs_the_whole_venue_and_stops_on_sigterm(tmp_path):
    ports = {"TANDEM_LOCALNET_PORT": free_port(), "TANDEM_API_PORT": free_port(), "TANDEM_INDEXER_PORT": free_port(),
             "TANDEM_FIX_PORT": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RPC_URL", "TANDEM_OPERATOR_TOKEN")}
    env.update({k: str(v) for k, v in ports.items()})
    env.update({"TANDEM_HOME": str(tmp_path / "home"), "RPC_URL": f"http://127.0.0.1:{ports['TANDEM_LOCALNET_PORT']}"})
    log = tmp_path / "up.log"
    up = subprocess.Popen([sys.executable, "-m", "tandem.cli", "up"], cwd=REPO, env=env,
                          stdout=log.open("wb"), stderr=subprocess.STDOUT)
    indexer = f"http://127.0.0.1:{ports['TANDEM_INDEXER_PORT']}"
    try:
        report, deadline = None, time.monotonic() + 240
        while time.monotonic() < deadline:
            assert up.poll() is None, f"tandem up exited ({up.returncode}):\n{log.read_text()[-4000:]}"
            try:
                r = httpx.get(f"{indexer}/v1/reconciliation", timeout=2)
                if r.status_code == 200:
                    report = r.json()
                    demo = next((m for m in report["markets"] if m["ticker"] == "DEMO-YES"), None)
                    # demo traffic mirrored: sets made, every record of the market applied, books agree
                    if (demo and demo["sets"] > 0 and demo["applied_seq"] == demo["outbox_seq"] and report["ok"]
                            and "round 2" in log.read_text()):
                        break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            raise AssertionError(f"the demo market never reconciled; last report {report}\n{log.read_text()[-4000:]}")
        assert demo["custody_yes"] >= demo["ledger_yes"] and demo["custody_no"] >= demo["ledger_no"]
        assert demo["yes_supply"] == demo["no_supply"] == demo["sets"] == demo["vault"]
        # nothing ever looked broken, not even for a slot (a false break is an operator paged for nothing)
        history = httpx.get(f"{indexer}/v1/breaks", timeout=5).json()["breaks"]
        assert history == [], history
        page = httpx.get(f"{indexer}/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
        text = log.read_text()
        assert "Tandem is up." in text and f"{indexer}/" in text
        assert "Instruction:" not in text  # localnet's output went to its log file, not the console
        assert (tmp_path / "home" / "logs" / "localnet.log").stat().st_size > 0
        # the API process serves FIX too: a TLS FIX session that skips its Logon is told so
        from fix.client import RawClient

        probe = RawClient("127.0.0.1", ports["TANDEM_FIX_PORT"], "probe")
        probe.send("0")
        assert b"must be a Logon" in probe.expect("5").get(58)
        probe.close()
        parts = _children(up.pid)
        assert len(parts) == 5, parts  # localnet, api, bridge, indexer, demo
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(90)
        except subprocess.TimeoutExpired:
            up.kill()
            raise
    assert up.returncode == 0, log.read_text()[-3000:]
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in parts) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in parts if _alive(p)], "a part outlived tandem up"
