"""PostgreSQL restarting under the bridge: a private PostgreSQL server (initdb in the test's
directory, its own port, so the shared test server is untouched) is restarted with
`pg_ctl restart -m immediate` (no shutdown checkpoint: like a crash) several times while the
bridge sends. The bridge must ride it out and, once the server is back, apply everything once."""
from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from bridge.runner import Bridge
from chain.setup import ChainKeys
from chain.localnet import free_port
from exchange.service import ExchangeService

from .harness import World, start_localnet, trade_mix

pytestmark = [pytest.mark.localnet, pytest.mark.postgres]


def _pg_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL binaries are missing under CI")
        pytest.skip("PostgreSQL binaries not installed (scripts/ensure-postgres.sh installs them)")
    return os.path.dirname(found[-1])


class PrivatePostgres:
    def __init__(self, directory) -> None:
        self.bin = _pg_bin()
        self.dir = str(directory)
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None  # the server refuses to run as root

    def _run(self, *args: str) -> None:
        cmd = [os.path.join(self.bin, args[0]), *args[1:]]
        if self.user:
            cmd = ["su", self.user, "-c", " ".join(cmd)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def init(self) -> "PrivatePostgres":
        os.makedirs(self.dir, exist_ok=True)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o700)
        self._run("initdb", "-D", self.dir, "-A", "trust", "-U", "tandem")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.dir, "-w", "-o", f"'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1'", "start",
                  "-l", f"{self.dir}/server.log")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", self.dir, "-w", "-m", "immediate", "-o",
                  f"'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1'", "restart", "-l", f"{self.dir}/server.log")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.dir, "-w", "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://tandem@127.0.0.1:{self.port}/postgres"


async def test_postgres_restarts_under_the_bridge(tmp_path):
    # the server runs as `postgres`, who cannot enter pytest's private tmp: a directory of its own
    pg_root = tempfile.mkdtemp(prefix="tandem-pg-")
    os.chmod(pg_root, 0o755)
    pg = PrivatePostgres(os.path.join(pg_root, "data"))
    pg.init()
    pg.start()
    home = tmp_path / "home"
    keys = ChainKeys.load(home / "keys")
    chain = start_localnet(tmp_path, keys)
    try:
        svc = ExchangeService(pg.url)
        w = World(tmp_path, home, pg.url, chain, keys, svc)
        for name in ("a", "b", "c"):
            w.user(name)
        ticker = w.market("P")
        bridge = Bridge(w.config(max_in_flight=4, max_records_per_tx=4))
        task = asyncio.create_task(bridge.run())
        try:
            for _ in range(3):
                trade_mix(w, ticker, rounds=2)
                await asyncio.sleep(0.3)
                await asyncio.to_thread(pg.restart)
                # the trading side reconnects as a restarted API would (the service holds its writer
                # connection, which does not survive the server); the bridge is NOT restarted
                svc.close()
                svc.db.dispose()
                svc = w.svc = ExchangeService(pg.url)
            trade_mix(w, ticker, rounds=1)
            await w.wait_applied(90)
        finally:
            bridge.stop()
            await asyncio.wait_for(task, 15)
        errors = [s.stats for s in bridge.senders.values()]
        await w.check()
        svc.close()
        svc.db.dispose()
        print(f"\nbridge rode out 3 PostgreSQL restarts: {errors}")
    finally:
        chain.stop()
        pg.stop()
        shutil.rmtree(pg_root, ignore_errors=True)
