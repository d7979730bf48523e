"""A real server-like process for the kill -9 test: drives ExchangeService under load and
prints one line per acknowledged order ("ACK order_id status fill_count"), flushed, only
after place_order returned (i.e. after commit)."""
from __future__ import annotations

import random
import sys
import time

from exchange import errors
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService


def main(url: str) -> None:
    svc = ExchangeService(url)
    users = []
    for i in range(4):
        u = svc.get_user_by_name(f"d{i}") or svc.create_user(f"d{i}")
        svc.fund(u.id, cents=1_000_000_00)
        users.append(u)
    if svc.get_user_by_name("d0") and "D" not in {m.ticker for m in svc.list_markets().items}:
        svc.create_market("D", title="durability", close_ms=int(time.time() * 1000) + 3_600_000)
    print("READY", flush=True)
    rng = random.Random()
    while True:
        u = rng.choice(users)
        try:
            order, fills = svc.place_order(u.id, OrderRequest("D", rng.choice(["bid", "ask"]), rng.randint(40, 60) * 10_000,
                                                              rng.randint(1, 20) * 100_000))
        except errors.InsufficientBalance:
            continue
        sys.stdout.write(f"ACK {order.order_id} {order.status} {order.fill_count}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
