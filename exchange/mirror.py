"""The PostgreSQL writer's write-through mirror of what the order path re-reads.

On PostgreSQL every read is a round trip the event loop waits for (exchange/db.py defers the
writes), and an order command re-reads two things: its user's cash and position balances
(`statements.HOLDINGS`) and, to answer a cancel, the order's row (`statements.CANCEL_ORDER ...
RETURNING`). The service is their only writer, so the writer's connection keeps them:

- balances: every (account, asset) a HOLDINGS read fetched, then moved by each ADD_BALANCE of
  the same connection. The balances a transaction was answered from here are checked by one
  guard statement in its commit's pipeline (`db.BALANCE_GUARD`: no round trip), which fails
  the commit if the database holds another amount than the transaction leaves, e.g.
  because another process (`tandem fund`) wrote it;
  the mirror is then dropped and `StaleMirror` raised (api/group_commit.py runs the command
  again, on fresh reads). A stale balance can never commit. A transaction that rolls back
  (a refusal) never sends its guards, so it forgets the balances it was answered from
  (`suspect_rollbacks` counts such rollbacks: api/group_commit.py runs a lone command refused
  in one again, on fresh reads).
- resting orders: the row as INSERT_ORDER wrote it, moved by ORDER_FILLED and ORDER_CLOSED;
  forgotten when the order stops resting. Orders belong to the books this process keeps in
  memory anyway; a SQLAlchemy statement that updates `orders` drops them all.

What a transaction changes is staged on its connection and reaches the mirror only when it
commits; a rollback drops it. So the mirror never holds what the database does not.
"""
from __future__ import annotations

RESTING = "resting"
_GONE = object()  # staged: the order stopped resting in this transaction


class StaleMirror(Exception):
    """A balance answered from the mirror differed from the database: the transaction rolled
    back and the mirror was dropped; the same command on fresh reads is safe to run again."""


class Mirror:
    """The committed state, one per PostgreSQL engine."""

    def __init__(self) -> None:
        self.balances: dict[tuple[int, str], int] = {}
        self.orders: dict[str, dict] = {}
        self.suspect_rollbacks = 0

    def clear(self) -> None:
        self.balances.clear()
        self.orders.clear()

    def commit(self, staged: "Staged") -> None:
        self.balances.update(staged.balances)
        for order_id, row in staged.orders.items():
            if row is _GONE:
                self.orders.pop(order_id, None)
            else:
                self.orders[order_id] = row
        staged.clear()

    def rollback(self, staged: "Staged") -> None:
        if staged.served:  # answered from here, never checked: ask the database next time
            for key in staged.served:
                self.balances.pop(key, None)
            self.suspect_rollbacks += 1
        staged.clear()


class Staged:
    """What the open transaction of one connection changed (on top of its engine's Mirror)."""

    __slots__ = ("mirror", "balances", "orders", "served")

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror
        self.balances: dict[tuple[int, str], int] = {}
        self.orders: dict[str, object] = {}
        self.served: set[tuple[int, str]] = set()  # balances answered from the mirror (guarded)

    def clear(self) -> None:
        self.balances.clear()
        self.orders.clear()
        self.served.clear()

    # -- balances
    def balance(self, key: tuple[int, str]) -> int | None:
        amount = self.balances.get(key)
        return self.mirror.balances.get(key) if amount is None else amount

    def saw_balance(self, key: tuple[int, str], amount: int) -> None:
        self.balances[key] = amount

    def add_balance(self, key: tuple[int, str], delta: int) -> None:
        amount = self.balance(key)
        if amount is not None:  # unknown stays unknown: the next read fetches it
            self.balances[key] = amount + delta

    # -- resting orders
    def order(self, order_id: str) -> dict | None:
        row = self.orders.get(order_id)
        if row is None:
            return self.mirror.orders.get(order_id)
        return None if row is _GONE else row

    def put_order(self, row: dict) -> None:
        self.orders[row["order_id"]] = dict(row) if row["status"] == RESTING else _GONE

    def update_order(self, order_id: str, values: dict, adds: dict | None = None) -> None:
        row = self.order(order_id)
        if row is None:
            self.orders[order_id] = _GONE  # not mirrored: make sure no older copy answers
            return
        row = {**row, **values}
        for column, delta in (adds or {}).items():
            row[column] += delta
        self.put_order(row)

    def drop_orders(self) -> None:
        """A statement the mirror cannot follow changed `orders`: forget every row."""
        self.mirror.orders.clear()
        self.orders.clear()
