"""Matching engine alone, one core: orders/s and p50/p99 per-op latency on a realistic mix.

`python -m bench engine`. The input (about 60% resting adds, 30% cancels of live orders, 10%
orders crossing the spread, over several markets, many users) is generated from a fixed seed
before any timing, by running it once through a scratch engine so that cancels name orders that
are really resting. Two timed passes on fresh books: one for throughput (no per-op clock), one
with time.perf_counter_ns around every op for the latency percentiles.
Environment knobs: BENCH_ENGINE_OPS (default 400000), BENCH_ENGINE_MARKETS (default 8),
BENCH_ENGINE_PROFILE=1 prints a cProfile of the throughput pass.
"""
from __future__ import annotations

import gc
import os
import random
import time

from exchange.engine import Book

ONE = 1_000_000  # one contract / one dollar in base units
TICK = 10_000  # one cent
LOT = 10_000  # 0.01 contract
GTC, IOC = "good_till_canceled", "immediate_or_cancel"


def generate(n_ops: int, n_markets: int, seed: int = 7):
    """[(kind, market index, args)] with kind 0 = submit, 1 = cancel; each op's label; the mix."""
    rng = random.Random(seed)
    scratch = [Book(f"M{m}", TICK, LOT) for m in range(n_markets)]
    live: list[list[str]] = [[] for _ in range(n_markets)]
    where: list[dict[str, int]] = [{} for _ in range(n_markets)]
    mids = [rng.randrange(30, 70) * TICK for _ in range(n_markets)]
    ops, labels, now, next_id = [], [], 1_700_000_000_000, 0
    counts = {"add": 0, "cancel": 0, "cross": 0, "fills": 0}

    def forget(m: int, order_id: str) -> None:
        i = where[m].pop(order_id)
        last = live[m].pop()
        if last != order_id:
            live[m][i] = last
            where[m][last] = i

    for _ in range(n_ops):
        m = rng.randrange(n_markets)
        book, r = scratch[m], rng.random()
        now += 1
        if r < 0.30 and live[m]:
            order_id = live[m][rng.randrange(len(live[m]))]
            book.cancel(order_id)
            forget(m, order_id)
            ops.append((1, m, (order_id,)))
            counts["cancel"] += 1
            labels.append("cancel")
            continue
        next_id += 1
        order_id, user = f"o{next_id}", rng.randrange(2000)
        count = rng.randrange(1, 20) * ONE // 2
        bid, _, ask, _ = book.top()
        if r < 0.40:  # crossing: take one to three levels on the other side
            side = "bid" if rng.random() < 0.5 else "ask"
            ref = ask if side == "bid" else bid
            if ref is None:
                ref = mids[m]
            depth = rng.randrange(0, 3) * TICK
            price = min(ref + depth, ONE - TICK) if side == "bid" else max(ref - depth, TICK)
            args = (order_id, user, side, price, count * 3, GTC if rng.random() < 0.5 else IOC, False,
                    "taker_at_cross", None, now)
            counts["cross"] += 1
            labels.append("cross")
        else:  # resting: behind the touch, up to 20 ticks away
            side = "bid" if rng.random() < 0.5 else "ask"
            away = rng.randrange(0, 20) * TICK
            if side == "bid":
                price = max(min(mids[m] - TICK, (ask or ONE) - TICK) - away, TICK)
            else:
                price = min(max(mids[m] + TICK, (bid or 0) + TICK) + away, ONE - TICK)
            args = (order_id, user, side, price, count, GTC, False, "taker_at_cross", None, now)
            counts["add"] += 1
            labels.append("add")
        result = book.submit(*args)
        counts["fills"] += len(result.fills)
        for f in result.fills:
            if not book.has(f.maker_order_id):
                forget(m, f.maker_order_id)
        if result.resting:
            where[m][order_id] = len(live[m])
            live[m].append(order_id)
        ops.append((0, m, args))
    return ops, labels, counts


def _bound(ops, n_markets):
    books = [Book(f"M{m}", TICK, LOT) for m in range(n_markets)]
    calls = [(books[m].submit if kind == 0 else books[m].cancel, args) for kind, m, args in ops]
    return books, calls


def throughput(ops, n_markets) -> float:
    _books, calls = _bound(ops, n_markets)
    gc.collect()
    start = time.perf_counter_ns()
    for fn, args in calls:
        fn(*args)
    return len(calls) / ((time.perf_counter_ns() - start) / 1e9)


def latencies(ops, n_markets) -> list[int]:
    _books, calls = _bound(ops, n_markets)
    clock, out = time.perf_counter_ns, [0] * len(calls)
    gc.collect()
    for i, (fn, args) in enumerate(calls):
        t0 = clock()
        fn(*args)
        out[i] = clock() - t0
    return out


def main() -> None:
    n_ops = int(os.environ.get("BENCH_ENGINE_OPS", "400000"))
    n_markets = int(os.environ.get("BENCH_ENGINE_MARKETS", "8"))
    ops, labels, counts = generate(n_ops, n_markets)
    mix = ", ".join(f"{k} {100 * counts[k] / len(ops):.0f}%" for k in ("add", "cancel", "cross"))
    print(f"engine: {len(ops)} ops over {n_markets} markets ({mix}; {counts['fills']} fills)")
    if os.environ.get("BENCH_ENGINE_PROFILE"):
        import cProfile
        import pstats
        cProfile.runctx("throughput(ops, n_markets)", globals(), {"ops": ops, "n_markets": n_markets}, "/tmp/engine.prof")
        pstats.Stats("/tmp/engine.prof").sort_stats("tottime").print_stats(12)
    best = max(throughput(ops, n_markets) for _ in range(3))
    lat = latencies(ops, n_markets)
    print(f"engine: {best:,.0f} orders/s (best of 3 passes, one core)  [bar: >= 250,000 orders/s]")
    for label in ("all", "add", "cancel", "cross"):
        xs = sorted(lat if label == "all" else [ns for ns, k in zip(lat, labels) if k == label])
        pct = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))] / 1000  # noqa: E731
        print(f"engine: latency {label:6s} p50 {pct(0.50):6.2f} us  p99 {pct(0.99):6.2f} us  (n={len(xs)})")


if __name__ == "__main__":
    main()
