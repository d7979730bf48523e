"""The service's narrow view of one market's order book (in-memory, pure, no I/O).

The service only talks to a book through `BookAdapter`: submit, cancel, decrease,
restore (re-insert resting orders in their saved priority without matching), top of
book, depth, queue position, expiry. Matching here is price-time at the maker's price
with self-trade prevention, in single-book YES terms (bid = buy YES / sell NO).
Positions, netting (transfer / mint / merge) and cash are the ledger's business
(exchange/journal.py), so this book never needs to know who holds what.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class EngineFill:
    maker_order_id: str
    maker_user: int
    price: int  # the maker's YES price
    count: int


@dataclass(slots=True)
class EngineResult:
    seq: int = 0  # time priority given to the order (saved with it)
    fills: list[EngineFill] = field(default_factory=list)
    resting: int = 0  # what now rests on the book
    cancelled_makers: list[str] = field(default_factory=list)  # by self-trade prevention ("maker")
    expired_makers: list[str] = field(default_factory=list)  # found past their expiration and removed
    stp_cancelled_taker: bool = False
    cancel_reason: str | None = None  # why an unfilled rest did not rest
    rejected: str | None = None  # nothing happened (post-only cross); message
    reject_code: str | None = None


class _Resting:
    __slots__ = ("order_id", "user_id", "side", "price", "remaining", "seq", "expiration_ms")

    def __init__(self, order_id, user_id, side, price, remaining, seq, expiration_ms):
        self.order_id = order_id
        self.user_id = user_id
        self.side = side
        self.price = price
        self.remaining = remaining
        self.seq = seq
        self.expiration_ms = expiration_ms


class _Level:
    __slots__ = ("orders", "size")

    def __init__(self) -> None:
        self.orders: deque[_Resting] = deque()
        self.size = 0


class BookAdapter:
    def __init__(self, ticker: str, tick: int, lot: int) -> None:
        self.ticker = ticker
        self.tick = tick
        self.lot = lot
        self._levels = {"bid": {}, "ask": {}}  # price -> _Level
        self._prices = {"bid": [], "ask": []}  # ascending
        self._orders: dict[str, _Resting] = {}
        self._seq = 0

    # -- internal
    def _add(self, node: _Resting) -> None:
        levels = self._levels[node.side]
        level = levels.get(node.price)
        if level is None:
            level = levels[node.price] = _Level()
            bisect.insort(self._prices[node.side], node.price)
        level.orders.append(node)
        level.size += node.remaining
        self._orders[node.order_id] = node

    def _remove(self, node: _Resting) -> int:
        """Take an order off the book; returns what it had left."""
        level = self._levels[node.side][node.price]
        left = node.remaining
        level.size -= left
        node.remaining = 0
        del self._orders[node.order_id]
        if level.size == 0:
            self._drop_level(node.side, node.price)
        return left

    def _drop_level(self, side: str, price: int) -> None:
        del self._levels[side][price]
        prices = self._prices[side]
        del prices[bisect.bisect_left(prices, price)]

    def _best(self, side: str) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == "bid" else prices[0]

    # -- commands
    def restore(self, rows) -> None:
        """Re-insert resting orders [(order_id, user_id, side, price, remaining, seq, stp, post_only, expiration_ms)]
        in ascending priority, without matching."""
        for order_id, user_id, side, price, remaining, seq, _stp, _post_only, expiration_ms in rows:
            self._add(_Resting(order_id, user_id, side, price, remaining, seq, expiration_ms))
            self._seq = max(self._seq, seq)

    def submit(self, order_id: str, user_id: int, side: str, price: int, count: int, time_in_force: str,
               post_only: bool, stp: str, expiration_ms: int | None, now_ms: int) -> EngineResult:
        opposite = "ask" if side == "bid" else "bid"
        crosses = (lambda p: p <= price) if side == "bid" else (lambda p: p >= price)
        result = EngineResult()
        best = self._best(opposite)
        if post_only and best is not None and crosses(best):
            result.rejected = "post-only order would cross the book"
            result.reject_code = "post_only_cross"
            return result
        if time_in_force == "fill_or_kill" and self._fillable(opposite, crosses, user_id, stp, count, now_ms) < count:
            result.cancel_reason = "fill_or_kill"
            self._seq += 1
            result.seq = self._seq
            return result
        self._seq += 1
        result.seq = self._seq
        remaining = count
        prices = self._prices[opposite]
        while remaining and prices:
            level_price = prices[-1] if opposite == "bid" else prices[0]
            if not crosses(level_price):
                break
            level = self._levels[opposite][level_price]
            orders = level.orders
            while remaining and orders:
                maker = orders[0]
                if maker.remaining == 0:
                    orders.popleft()
                    continue
                if maker.expiration_ms is not None and maker.expiration_ms <= now_ms:
                    orders.popleft()
                    result.expired_makers.append(maker.order_id)
                    self._remove(maker)
                    if level_price not in self._levels[opposite]:
                        break
                    continue
                if maker.user_id == user_id:
                    if stp == "maker":
                        orders.popleft()
                        result.cancelled_makers.append(maker.order_id)
                        self._remove(maker)
                        if level_price not in self._levels[opposite]:
                            break
                        continue
                    # taker_at_cross: the taker's rest is cancelled where it meets its own order.
                    result.stp_cancelled_taker = True
                    result.cancel_reason = "self_trade"
                    remaining = 0
                    break
                traded = min(remaining, maker.remaining)
                maker.remaining -= traded
                level.size -= traded
                remaining -= traded
                result.fills.append(EngineFill(maker.order_id, maker.user_id, level_price, traded))
                if maker.remaining == 0:
                    orders.popleft()
                    del self._orders[maker.order_id]
            if level_price in self._levels[opposite] and level.size == 0:
                self._drop_level(opposite, level_price)
            if result.stp_cancelled_taker:
                break
        if remaining and not result.stp_cancelled_taker:
            if time_in_force == "good_till_canceled":
                self._add(_Resting(order_id, user_id, side, price, remaining, result.seq, expiration_ms))
                result.resting = remaining
            else:
                result.cancel_reason = time_in_force
        return result

    def _fillable(self, opposite: str, crosses, user_id: int, stp: str, want: int, now_ms: int) -> int:
        got = 0
        prices = self._prices[opposite]
        walk = reversed(prices) if opposite == "bid" else iter(prices)
        for p in walk:
            if not crosses(p):
                break
            for maker in self._levels[opposite][p].orders:
                if maker.remaining == 0 or (maker.expiration_ms is not None and maker.expiration_ms <= now_ms):
                    continue
                if maker.user_id == user_id:
                    if stp == "maker":
                        continue
                    return got
                got += maker.remaining
                if got >= want:
                    return got
        return got

    def cancel(self, order_id: str) -> int | None:
        """Remove a resting order; returns what it had left (None if it is not on the book)."""
        node = self._orders.get(order_id)
        if node is None:
            return None
        return self._remove(node)

    def decrease(self, order_id: str, new_remaining: int) -> int:
        """Shrink a resting order in place (keeps its priority); returns the reduction."""
        node = self._orders[order_id]
        if not 0 < new_remaining <= node.remaining:
            raise ValueError("decrease must leave a positive size no larger than the current one")
        reduction = node.remaining - new_remaining
        node.remaining = new_remaining
        self._levels[node.side][node.price].size -= reduction
        return reduction

    def expire(self, now_ms: int) -> list[tuple[str, int]]:
        """Remove every order past its expiration; [(order_id, what it had left)]."""
        gone = [n for n in self._orders.values() if n.expiration_ms is not None and n.expiration_ms <= now_ms]
        return [(n.order_id, self._remove(n)) for n in gone]

    # -- reads
    def has(self, order_id: str) -> bool:
        return order_id in self._orders

    def top(self) -> tuple[int | None, int, int | None, int]:
        bid, ask = self._best("bid"), self._best("ask")
        return (bid, self._levels["bid"][bid].size if bid is not None else 0,
                ask, self._levels["ask"][ask].size if ask is not None else 0)

    def levels(self, depth: int | None = None) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best first, asks best first), [(YES price, size)]."""
        bids = [(p, self._levels["bid"][p].size) for p in reversed(self._prices["bid"])]
        asks = [(p, self._levels["ask"][p].size) for p in self._prices["ask"]]
        if depth:
            bids, asks = bids[:depth], asks[:depth]
        return bids, asks

    def queue_position(self, order_id: str) -> int | None:
        """Contracts resting ahead of the order at its price level."""
        node = self._orders.get(order_id)
        if node is None:
            return None
        ahead = 0
        for other in self._levels[node.side][node.price].orders:
            if other is node:
                return ahead
            ahead += other.remaining
        return ahead
