"""A tiny, obviously-correct reference order book: a flat list scanned and sorted on every
command. Same contract as exchange.engine.Book, none of its data structures."""
from __future__ import annotations


class ModelOrder:
    def __init__(self, order_id, user, side, price, remaining, seq, expiration_ms):
        self.order_id, self.user, self.side, self.price = order_id, user, side, price
        self.remaining, self.seq, self.expiration_ms = remaining, seq, expiration_ms


def _crosses(taker_side: str, taker_price: int, maker_price: int) -> bool:
    return maker_price <= taker_price if taker_side == "bid" else maker_price >= taker_price


class ModelBook:
    def __init__(self) -> None:
        self.orders: list[ModelOrder] = []
        self.seq = 0

    def _priority(self, side: str):
        """Resting orders of a side in matching order: best price first, then earliest."""
        mine = [o for o in self.orders if o.side == side]
        return sorted(mine, key=lambda o: (-o.price if side == "bid" else o.price, o.seq))

    def _sweep(self, now_ms):
        gone = sorted((o for o in self.orders if o.expiration_ms is not None and o.expiration_ms <= now_ms),
                      key=lambda o: (o.expiration_ms, o.seq))
        for o in gone:
            self.orders.remove(o)
        return [(o.order_id, o.remaining) for o in gone]

    def submit(self, order_id, user, side, price, count, tif, post_only, stp, expiration_ms, now_ms) -> dict:
        out = {"seq": 0, "fills": [], "resting": 0, "cancelled_makers": [], "expired_makers": [],
               "cancel_reason": None, "rejected": False}
        out["expired_makers"] = [oid for oid, _ in self._sweep(now_ms)]
        other = "ask" if side == "bid" else "bid"
        queue = [o for o in self._priority(other) if _crosses(side, price, o.price)]
        if post_only and queue:
            out["rejected"] = True
            return out
        self.seq += 1
        out["seq"] = self.seq
        if expiration_ms is not None and expiration_ms <= now_ms:
            out["cancel_reason"] = "expired"
            return out
        if tif == "fill_or_kill":
            fillable = 0
            for o in queue:
                if o.user == user:
                    if stp == "maker":
                        continue
                    break
                fillable += o.remaining
            if fillable < count:
                out["cancel_reason"] = "fill_or_kill"
                return out
        remaining = count
        for o in queue:
            if not remaining:
                break
            if o.user == user:
                if stp == "maker":
                    self.orders.remove(o)
                    out["cancelled_makers"].append(o.order_id)
                    continue
                out["cancel_reason"] = "self_trade"
                return out
            traded = min(remaining, o.remaining)
            out["fills"].append((o.order_id, o.user, o.price, traded))
            o.remaining -= traded
            remaining -= traded
            if not o.remaining:
                self.orders.remove(o)
        if remaining:
            if tif == "good_till_canceled":
                self.orders.append(ModelOrder(order_id, user, side, price, remaining, self.seq, expiration_ms))
                out["resting"] = remaining
            else:
                out["cancel_reason"] = tif
        return out

    def find(self, order_id):
        return next((o for o in self.orders if o.order_id == order_id), None)

    def cancel(self, order_id):
        o = self.find(order_id)
        if o is None:
            return None
        self.orders.remove(o)
        return o.remaining

    def decrease(self, order_id, new_remaining):
        o = self.find(order_id)
        reduction = o.remaining - new_remaining
        o.remaining = new_remaining
        return reduction

    def expire(self, now_ms):
        return self._sweep(now_ms)

    def levels(self):
        out = []
        for side in ("bid", "ask"):
            sizes: dict[int, int] = {}
            for o in self._priority(side):
                sizes[o.price] = sizes.get(o.price, 0) + o.remaining
            out.append(list(sizes.items()))
        return out[0], out[1]

    def queue_position(self, order_id):
        o = self.find(order_id)
        return sum(m.remaining for m in self.orders if m.side == o.side and m.price == o.price and m.seq < o.seq)
