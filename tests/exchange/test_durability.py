"""kill -9 of a real process mid-load: every acknowledged order and fill survives, and the
restored book and balances are exactly what the database says (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from exchange.models import Order
from exchange.service import ExchangeService

from .checks import check_ledger, check_outbox_gapless

DRIVER = Path(__file__).with_name("durability_driver.py")
ROOT = Path(__file__).resolve().parents[2]


def _run_until_killed(db_url: str, acks_wanted: int) -> list[tuple[str, str, int]]:
    proc = subprocess.Popen([sys.executable, str(DRIVER), db_url], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    acks = []
    deadline = time.monotonic() + 120
    try:
        assert proc.stdout.readline().strip() == "READY"
        while len(acks) < acks_wanted and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            _, order_id, status, filled = line.split()
            acks.append((order_id, status, int(filled)))
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-load: the driver is placing orders right now
        proc.wait()
    # Lines already written before the kill are acknowledgements too.
    for line in proc.stdout.read().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "ACK":
            acks.append((parts[1], parts[2], int(parts[3])))
    assert proc.returncode == -signal.SIGKILL
    return acks


def test_acknowledged_orders_survive_kill_9(db_url):
    ExchangeService(db_url).close()  # migrate once up front
    acks = _run_until_killed(db_url, 400)
    acks += _run_until_killed(db_url, 200)  # a second life on the restored state, killed again
    assert len(acks) >= 600
    svc = ExchangeService(db_url)
    with svc.db.reader.connect() as conn:
        rows = {r.order_id: r for r in conn.execute(select(Order.__table__))}
    for order_id, status, filled in acks:
        row = rows.get(order_id)
        assert row is not None, f"acknowledged order {order_id} lost"
        assert row.fill_count >= filled  # it may only have filled further as a maker since
        if status != "resting":
            assert row.status == status and row.fill_count == filled
    # The restored book is exactly the resting orders on disk, at every price level.
    expected = {"bid": defaultdict(int), "ask": defaultdict(int)}
    for r in rows.values():
        if r.status == "resting":
            expected[r.book_side][r.price] += r.remaining_count
    book = svc.orderbook("D")
    assert dict(book.yes) == dict(expected["bid"])
    assert {1_000_000 - p: c for p, c in book.no} == dict(expected["ask"])
    # Balances: the ledger balances equal the entries, every pair balances, custody backs the sets.
    check_ledger(svc)
    check_outbox_gapless(svc)
    for i in range(4):
        u = svc.get_user_by_name(f"d{i}")
        assert svc.balance(u.id).balance >= 0
    svc.close()
