"""What the API acknowledged survives `kill -9` of the server: after a restart on the same
database the book, the orders and every balance are exactly what clients were told."""
from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from tests.api.conftest import OPERATOR_TOKEN, new_private_key, public_pem, sdk_client, start_server
from tests.databases import BACKENDS, fresh_database

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}


@pytest.fixture(params=BACKENDS)
def fresh_db(request, tmp_path):
    with fresh_database(request.param, tmp_path, "k9") as url:
        yield url


async def test_acknowledged_orders_and_fills_survive_kill_9(fresh_db, tmp_path):
    server = start_server(fresh_db, tmp_path)
    keys = [new_private_key() for _ in range(2)]
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}) as op:
        ids = []
        for i, key in enumerate(keys):
            r = await op.post("/operator/users", json={"name": f"k9-{i}", "public_key": public_pem(key)})
            ids.append(r.json()["api_key_id"])
            await op.post(f"/operator/users/{r.json()['user_id']}/fund", json={"cents": 100_000})
        await op.post("/operator/markets", json={"ticker": "K9", "close_time": "2099-01-01T00:00:00Z"})
    clients = [sdk_client(server, k, key) for k, key in zip(ids, keys)]
    acked = []

    async def trade(client, side: str, n: int) -> None:
        for i in range(n):
            price = f"0.{40 + i % 20 if side == 'bid' else 45 + i % 20:02d}00"
            acked.append((await client.create_order_v2(ticker="K9", side=side, count="1.00", price=price, **GTC)).order_id)

    # Load from two clients; kill -9 while they are still sending.
    load = asyncio.gather(trade(clients[0], "bid", 200), trade(clients[1], "ask", 200), return_exceptions=True)
    while len(acked) < 60:
        await asyncio.sleep(0.01)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    await load
    before_kill = list(acked)
    for c in clients:
        await c.close()

    restarted = start_server(fresh_db, tmp_path)
    try:
        clients = [sdk_client(restarted, k, key) for k, key in zip(ids, keys)]
        known = set()
        for c in clients:
            cursor = None
            while True:
                page = await c.get_orders(ticker="K9", limit=1000, cursor=cursor)
                known |= {o.order_id for o in page.orders}
                cursor = page.cursor
                if not cursor:
                    break
        assert set(before_kill) <= known  # every acknowledged order is still there
        # The book rebuilt on start is exactly the resting orders, and cash adds up.
        book = (await clients[0].get_market_orderbook(ticker="K9")).orderbook_fp
        resting = [o for c in clients for o in (await c.get_orders(ticker="K9", status="resting", limit=1000)).orders]
        from decimal import Decimal

        book_total = sum(Decimal(n) for _, n in book.yes_dollars + book.no_dollars)
        assert book_total == sum(Decimal(o.remaining_count_fp) for o in resting)
        fills = [f for c in clients for f in (await c.get_fills(ticker="K9", limit=1000)).fills]
        positions = [p for c in clients for p in (await c.get_positions(ticker="K9")).market_positions]
        assert fills and resting  # the load both traded and rested
        assert sum(Decimal(p.position_fp) for p in positions) == 0  # YES held == NO held
        assert sum(Decimal(f.count_fp) for f in fills if f.is_taker) == sum(Decimal(f.count_fp) for f in fills if not f.is_taker)
        # Trading goes on after the restart.
        await clients[0].create_order_v2(ticker="K9", side="bid", count="1.00", price="0.0100", **GTC)
        for c in clients:
            await c.close()
    finally:
        restarted.stop()
