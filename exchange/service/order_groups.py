"""Order groups (Kalshi): a contracts limit over a rolling 15 s window since the group's last
reset. A command whose fills reach the limit cancels the group's orders in its own
transaction (`_apply_group_limits`, called by orders.OrderCommands._post) and blocks the
group until it is reset.
"""
from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update

from exchange import errors
from exchange.models import Fill, Order, OrderGroup
from exchange.schemas import OrderGroupView
from exchange.service.clock import now_ms
from exchange.service.common import CANCELED, RESTING, new_id
from exchange.service.fills import CommandWrites
from exchange.service.parts import ServiceParts

_orders = Order.__table__
_groups = OrderGroup.__table__
_fills = Fill.__table__

ORDER_GROUP_WINDOW_MS = 15_000  # Kalshi: a group's limit counts contracts matched in a rolling 15 s


class OrderGroups(ServiceParts):
    def create_order_group(self, user_id: int, contracts_limit: int) -> OrderGroupView:
        if not isinstance(contracts_limit, int) or contracts_limit <= 0:
            raise errors.InvalidRequest("contracts_limit must be positive")
        group_id = new_id()
        ts = now_ms()
        with self.unit_of_work.transaction() as conn:
            conn.execute(insert(_groups).values(order_group_id=group_id, user_id=user_id, contracts_limit=contracts_limit,
                                                filled_count=0, triggered=False, deleted=False, created_ms=ts))
        return OrderGroupView(group_id, user_id, contracts_limit, 0, False, [], ts)

    def delete_order_group(self, user_id: int, group_id: str) -> None:
        """Cancel the group's orders and delete it (one transaction)."""
        self._close_group(user_id, group_id, "order_group_deleted", deleted=True)

    def trigger_order_group(self, user_id: int, group_id: str) -> None:
        """Kalshi's trigger: cancel the group's orders and refuse new ones until it is reset."""
        self._close_group(user_id, group_id, "order_group_triggered", triggered=True)

    def _close_group(self, user_id: int, group_id: str, reason: str, **values) -> None:
        self.get_order_group(user_id, group_id)
        with self.unit_of_work.lock:
            ids = [o.order_id for o in self.books.open.values() if o.order_group_id == group_id]
            _views, events = self._cancel_many(ids, reason=reason, also=lambda conn: conn.execute(
                update(_groups).where(_groups.c.order_group_id == group_id).values(**values)))
        self.events.publish(events)

    def update_order_group_limit(self, user_id: int, group_id: str, contracts_limit: int) -> OrderGroupView:
        """A new contracts limit; if what the group matched in the window already reaches it, the
        group triggers at once (its orders are cancelled)."""
        if not isinstance(contracts_limit, int) or contracts_limit <= 0:
            raise errors.InvalidRequest("contracts_limit must be positive", code="invalid_parameters")
        group = self.get_order_group(user_id, group_id)
        with self.unit_of_work.lock:
            with self.db.reader.connect() as conn:
                window = self._group_window(conn, group_id, now_ms())
            if window >= contracts_limit and not group.is_auto_cancel_enabled:
                ids = [o.order_id for o in self.books.open.values() if o.order_group_id == group_id]
                _views, events = self._cancel_many(ids, reason="order_group_limit", also=lambda conn: conn.execute(
                    update(_groups).where(_groups.c.order_group_id == group_id).values(contracts_limit=contracts_limit,
                                                                                        triggered=True)))
            else:
                events = []
                with self.unit_of_work.transaction() as conn:
                    conn.execute(update(_groups).where(_groups.c.order_group_id == group_id).values(contracts_limit=contracts_limit))
        self.events.publish(events)
        return self.get_order_group(user_id, group_id)

    def reset_order_group(self, user_id: int, group_id: str) -> OrderGroupView:
        """Start the group's count afresh (fills before now no longer count) and allow new orders again."""
        self.get_order_group(user_id, group_id)
        with self.unit_of_work.transaction() as conn:
            conn.execute(update(_groups).where(_groups.c.order_group_id == group_id).values(
                filled_count=0, triggered=False, reset_ms=now_ms()))
        return self.get_order_group(user_id, group_id)

    def _group_window(self, conn: Connection, group_id: str, ts: int) -> int:
        """Contracts the group's orders matched in the rolling window ending at `ts`, since the
        group's last reset (committed fills)."""
        since = conn.execute(select(_groups.c.reset_ms).where(_groups.c.order_group_id == group_id)).scalar_one()
        return conn.execute(
            select(func.coalesce(func.sum(_fills.c.count), 0))
            .select_from(_fills.join(_orders, _orders.c.order_id == _fills.c.order_id))
            .where(_orders.c.order_group_id == group_id, _fills.c.created_ms > max(since, ts - ORDER_GROUP_WINDOW_MS))
        ).scalar_one()

    def _apply_group_limits(self, conn: Connection, cmd: CommandWrites, ts: int) -> None:
        """Order groups whose fills in the rolling window reached their contracts limit: cancel
        their orders and block the group until it is reset."""
        if not cmd.group_fills:
            return
        for group_id, filled in cmd.group_fills.items():
            conn.execute(update(_groups).where(_groups.c.order_group_id == group_id).values(filled_count=_groups.c.filled_count + filled))
            g = conn.execute(select(_groups).where(_groups.c.order_group_id == group_id)).mappings().one()
            # This command's fills are not flushed yet: the window is what committed plus them.
            if g["triggered"] or self._group_window(conn, group_id, ts) + filled < g["contracts_limit"]:
                continue
            conn.execute(update(_groups).where(_groups.c.order_group_id == group_id).values(triggered=True))
            cmd.triggered_groups.append(group_id)
            for row in cmd.order_rows:
                if row["order_group_id"] == group_id and row["status"] == RESTING:
                    row["status"], row["cancel_reason"], row["remaining_count"] = CANCELED, "order_group_limit", 0
            for order in list(self.books.open.values()):
                if order.order_group_id == group_id and order.remaining > 0:
                    cmd.order_updates.append({"b_order_id": order.order_id, "remaining_count": 0, "status": CANCELED,
                                              "cancel_reason": "order_group_limit", "updated_ms": ts})
                    cmd.group_cancelled.append(order.order_id)
