"""One market's order book in YES terms: price-time priority, fills at the maker's price.

Layout, chosen for the hot path (CPython):
- each side keeps its price levels in a dict keyed by a signed key (bid: +price, ask: -price)
  and a sorted list of those keys, so the best level of either side is `keys[-1]` and a taker
  with key `tk` crosses a maker level `mk` exactly when `tk + mk >= 0`;
- a level is a FIFO deque of order nodes; a cancel only zeroes the node and takes it out of
  the order_id -> node dict (lazy deletion), and the level is compacted when dead nodes
  outnumber live ones; a level leaves the book as soon as its size reaches zero;
- orders with an expiration sit in a heap (lazy deletion as well); every submit first removes
  what is due at its `now_ms`, so matching never meets an expired order.
Nothing here reads a clock or makes an id: time, ids and users are inputs, so replaying the
same commands yields the same fills.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from heapq import heapify, heappop, heappush

from .types import (FILL_OR_KILL, GOOD_TILL_CANCELED, IMMEDIATE_OR_CANCEL, STP_MAKER, STP_MODES, TIME_IN_FORCE,
                    EngineFill, EngineResult)

_SIDE_INDEX = {"bid": 0, "ask": 1}
_COMPACT_AT = 32  # dead nodes a level tolerates before it may be compacted


class Order:
    """A resting order (the book's node); `remaining` is 0 once it has left the book."""

    __slots__ = ("order_id", "user_id", "side", "price", "remaining", "seq", "expiration_ms", "level")

    def __init__(self, order_id, user_id, side, price, remaining, seq, expiration_ms, level):
        self.order_id = order_id
        self.user_id = user_id
        self.side = side
        self.price = price
        self.remaining = remaining
        self.seq = seq
        self.expiration_ms = expiration_ms
        self.level = level


class _Level:
    __slots__ = ("side", "key", "price", "size", "orders", "dead")

    def __init__(self, side: int, key: int, price: int) -> None:
        self.side = side  # 0 bid, 1 ask
        self.key = key
        self.price = price
        self.size = 0  # sum of the live orders' remaining
        self.orders: deque[Order] = deque()
        self.dead = 0  # zeroed nodes still in `orders`


class Book:
    """The order book of one market. See `exchange.engine` for the interface contract."""

    __slots__ = ("ticker", "tick", "lot", "_keys", "_levels", "_orders", "_seq", "_expiries")

    def __init__(self, ticker: str, tick: int = 1, lot: int = 1) -> None:
        if tick <= 0 or lot <= 0:
            raise ValueError("tick and lot must be positive")
        self.ticker = ticker
        self.tick = tick
        self.lot = lot
        self._keys: tuple[list[int], list[int]] = ([], [])  # ascending signed keys per side
        self._levels: tuple[dict[int, _Level], dict[int, _Level]] = ({}, {})
        self._orders: dict[str, Order] = {}
        self._seq = 0
        self._expiries: list[tuple[int, int, str]] = []  # (expiration_ms, seq, order_id)

    # ------------------------------------------------------------------ commands
    def submit(self, order_id: str, user_id: int, side: str, price: int, count: int,
               time_in_force: str = GOOD_TILL_CANCELED, post_only: bool = False, stp: str = "taker_at_cross",
               expiration_ms: int | None = None, now_ms: int = 0) -> EngineResult:
        """Match a new order against the book, then rest what is left if it is good-till-canceled."""
        s = _SIDE_INDEX.get(side)
        if s is None:
            raise ValueError(f"side must be 'bid' or 'ask', not {side!r}")
        if count <= 0 or count % self.lot:
            raise ValueError(f"count must be a positive multiple of the lot ({self.lot}), not {count}")
        if price <= 0 or price % self.tick:
            raise ValueError(f"price must be a positive multiple of the tick ({self.tick}), not {price}")
        if time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"unknown time_in_force {time_in_force!r}")
        if stp not in STP_MODES:
            raise ValueError(f"unknown self-trade prevention type {stp!r}")
        if order_id in self._orders:
            raise ValueError(f"order {order_id!r} is already on the book")
        result = EngineResult()
        if self._expiries and self._expiries[0][0] <= now_ms:
            result.expired_makers = [oid for oid, _left in self._sweep(now_ms)]
        tk = price if s == 0 else -price
        okeys = self._keys[1 - s]
        crosses = bool(okeys) and tk + okeys[-1] >= 0
        if post_only and crosses:
            result.rejected = "post-only order would cross the book"
            result.reject_code = "post_only_cross"
            return result
        self._seq += 1
        result.seq = seq = self._seq
        if expiration_ms is not None and expiration_ms <= now_ms:
            result.cancel_reason = "expired"  # dead on arrival: it may not trade
            return result
        if time_in_force == FILL_OR_KILL and (not crosses or self._fillable(1 - s, tk, user_id, stp, count) < count):
            result.cancel_reason = FILL_OR_KILL
            return result
        remaining = self._match(result, 1 - s, tk, user_id, stp, count) if crosses else count
        if remaining:
            if time_in_force == GOOD_TILL_CANCELED:
                self._rest(order_id, user_id, s, side, price, tk, remaining, seq, expiration_ms)
                result.resting = remaining
            else:
                result.cancel_reason = IMMEDIATE_OR_CANCEL if time_in_force == IMMEDIATE_OR_CANCEL else FILL_OR_KILL
        return result

    def preview(self, side: str, price: int, count: int, user_id: int, stp: str = "taker_at_cross",
                now_ms: int = 0) -> list[tuple[int, int]]:
        """The (maker price, contracts) a taker would fill, in order, if submitted now: a read
        (nothing changes), with expiry at `now_ms` and self-trade prevention applied as `submit` would."""
        s = _SIDE_INDEX[side]
        tk = price if s == 0 else -price
        okeys, olevels = self._keys[1 - s], self._levels[1 - s]
        out: list[tuple[int, int]] = []
        for i in range(len(okeys) - 1, -1, -1):
            if count <= 0 or tk + okeys[i] < 0:
                break
            level = olevels[okeys[i]]
            for maker in level.orders:
                left = maker.remaining
                if not left or (maker.expiration_ms is not None and maker.expiration_ms <= now_ms):
                    continue
                if maker.user_id == user_id:
                    if stp == STP_MAKER:
                        continue
                    return out
                take = min(left, count)
                out.append((level.price, take))
                count -= take
                if not count:
                    break
        return out

    def cancel(self, order_id: str) -> int | None:
        """Remove a resting order; returns what it had left (None if it is not on the book)."""
        node = self._orders.get(order_id)
        if node is None:
            return None
        return self._remove(node)

    def decrease(self, order_id: str, new_remaining: int) -> int:
        """Shrink a resting order in place (keeps its priority); returns the reduction."""
        node = self._orders.get(order_id)
        if node is None:
            raise KeyError(f"order {order_id!r} is not on the book")
        if not 0 < new_remaining <= node.remaining or new_remaining % self.lot:
            raise ValueError("decrease must leave a positive whole-lot size no larger than the current one")
        reduction = node.remaining - new_remaining
        node.remaining = new_remaining
        node.level.size -= reduction
        return reduction

    def expiring(self, now_ms: int) -> list[tuple[str, int]]:
        """The resting orders whose expiration is at or before `now_ms`, soonest first, as
        [(order_id, remaining)]: a read (nothing leaves the book), so a caller can commit their
        cancellation first and then `cancel` each."""
        heap, orders, due = self._expiries, self._orders, []
        if not heap or heap[0][0] > now_ms:  # the usual case, once a second per market: nothing due
            return due
        for _exp, seq, order_id in sorted(e for e in heap if e[0] <= now_ms):
            node = orders.get(order_id)
            if node is not None and node.seq == seq:
                due.append((order_id, node.remaining))
        return due

    def restore(self, rows) -> None:
        """Re-insert resting orders [(order_id, user_id, side, price, remaining, seq, stp, post_only,
        expiration_ms)] with their saved priority, without matching. A crossed result is refused."""
        for order_id, user_id, side, price, remaining, seq, _stp, _post_only, expiration_ms in sorted(rows, key=lambda r: r[5]):
            s = _SIDE_INDEX.get(side)
            if s is None or remaining <= 0 or price <= 0 or order_id in self._orders:
                raise ValueError(f"cannot restore order {order_id!r}")
            self._rest(order_id, user_id, s, side, price, price if s == 0 else -price, remaining, seq, expiration_ms)
            if seq > self._seq:
                self._seq = seq
        bids, asks = self._keys
        if bids and asks and bids[-1] + asks[-1] >= 0:
            raise ValueError(f"restored book of {self.ticker} is crossed")

    # ------------------------------------------------------------------ reads
    def has(self, order_id: str) -> bool:
        return order_id in self._orders

    def order(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def __len__(self) -> int:
        return len(self._orders)

    def top(self) -> tuple[int | None, int, int | None, int]:
        """(best bid, its size, best ask, its size); None/0 for an empty side."""
        bk, ak = self._keys
        bid = self._levels[0][bk[-1]] if bk else None
        ask = self._levels[1][ak[-1]] if ak else None
        return (bid.price if bid else None, bid.size if bid else 0, ask.price if ask else None, ask.size if ask else 0)

    def levels(self, depth: int | None = None) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best first, asks best first), [(YES price, size)]."""
        out = []
        for s in (0, 1):
            keys, levels = self._keys[s], self._levels[s]
            walk = keys[::-1] if not depth else keys[:-depth - 1:-1]
            out.append([(levels[k].price, levels[k].size) for k in walk])
        return out[0], out[1]

    def queue_position(self, order_id: str) -> int | None:
        """Contracts resting ahead of the order at its price level (None if it is not on the book)."""
        node = self._orders.get(order_id)
        if node is None:
            return None
        ahead = 0
        for other in node.level.orders:
            if other is node:
                break
            ahead += other.remaining
        return ahead

    def resting_orders(self) -> list[Order]:
        """Every resting order, each side best level first, then time priority."""
        out = []
        for s in (0, 1):
            levels = self._levels[s]
            for k in reversed(self._keys[s]):
                out.extend(n for n in levels[k].orders if n.remaining)
        return out

    # ------------------------------------------------------------------ internals
    def _rest(self, order_id, user_id, s, side, price, key, remaining, seq, expiration_ms) -> None:
        levels = self._levels[s]
        level = levels.get(key)
        if level is None:
            level = levels[key] = _Level(s, key, price)
            keys = self._keys[s]
            if not keys or key > keys[-1]:  # a new best level: the common case at the touch
                keys.append(key)
            else:
                insort(keys, key)
        node = Order(order_id, user_id, side, price, remaining, seq, expiration_ms, level)
        level.orders.append(node)
        level.size += remaining
        self._orders[order_id] = node
        if expiration_ms is not None:
            heap = self._expiries
            heappush(heap, (expiration_ms, seq, order_id))
            if len(heap) > 1024 and len(heap) > 2 * len(self._orders):  # drop entries of orders gone
                orders = self._orders
                heap[:] = [e for e in heap if (n := orders.get(e[2])) is not None and n.seq == e[1]]
                heapify(heap)

    def _remove(self, node: Order) -> int:
        """Take an order off the book; returns what it had left."""
        level = node.level
        left = node.remaining
        node.remaining = 0
        del self._orders[node.order_id]
        level.size -= left
        if level.size == 0:
            self._drop_level(level)
        else:
            level.dead += 1
            if level.dead > _COMPACT_AT and 2 * level.dead > len(level.orders):
                level.orders = deque(n for n in level.orders if n.remaining)
                level.dead = 0
        return left

    def _drop_level(self, level: _Level) -> None:
        keys = self._keys[level.side]
        if keys[-1] == level.key:
            keys.pop()
        else:
            del keys[bisect_left(keys, level.key)]
        del self._levels[level.side][level.key]

    def _sweep(self, now_ms: int) -> list[tuple[str, int]]:
        heap, orders, gone = self._expiries, self._orders, []
        while heap and heap[0][0] <= now_ms:
            _exp, seq, order_id = heappop(heap)
            node = orders.get(order_id)
            if node is not None and node.seq == seq:
                gone.append((order_id, self._remove(node)))
        return gone

    def _match(self, result: EngineResult, o: int, tk: int, user_id: int, stp: str, remaining: int) -> int:
        """Take from side `o` while it crosses key `tk`; returns what the taker has left."""
        okeys, olevels, orders, fills = self._keys[o], self._levels[o], self._orders, result.fills
        while remaining and okeys:
            mk = okeys[-1]
            if tk + mk < 0:
                break
            level = olevels[mk]
            queue, price = level.orders, level.price
            while remaining and queue:
                maker = queue[0]
                left = maker.remaining
                if not left:
                    queue.popleft()
                    level.dead -= 1
                    continue
                if maker.user_id == user_id:
                    if stp == STP_MAKER:
                        queue.popleft()
                        del orders[maker.order_id]
                        maker.remaining = 0
                        level.size -= left
                        result.cancelled_makers.append(maker.order_id)
                        continue
                    result.stp_cancelled_taker = True
                    result.cancel_reason = "self_trade"
                    if level.size == 0:
                        okeys.pop()
                        del olevels[mk]
                    return 0
                if left <= remaining:
                    queue.popleft()
                    del orders[maker.order_id]
                    maker.remaining = 0
                    level.size -= left
                    remaining -= left
                    fills.append(EngineFill(maker.order_id, maker.user_id, price, left))
                else:
                    maker.remaining = left - remaining
                    level.size -= remaining
                    fills.append(EngineFill(maker.order_id, maker.user_id, price, remaining))
                    remaining = 0
            if level.size == 0:
                okeys.pop()
                del olevels[mk]
        return remaining

    def _fillable(self, o: int, tk: int, user_id: int, stp: str, want: int) -> int:
        """What a taker could fill now (stopping at `want`), with self-trade prevention applied."""
        got = 0
        okeys, olevels = self._keys[o], self._levels[o]
        for i in range(len(okeys) - 1, -1, -1):
            mk = okeys[i]
            if tk + mk < 0:
                break
            for maker in olevels[mk].orders:
                left = maker.remaining
                if not left:
                    continue
                if maker.user_id == user_id:
                    if stp == STP_MAKER:
                        continue
                    return got
                got += left
                if got >= want:
                    return got
        return got
