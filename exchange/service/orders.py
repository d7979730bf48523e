"""Order commands: place (single and batch), cancel, decrease, amend, expire.

Placing one order (`_place`) is five steps in one transaction:

    validate   the request alone (`_validate`), then against the ledger (`_validate_references`)
    reserve    the count it may have and the cash hold it needs (`_reserve`)
    match      the engine: match, rest the remainder (`_match`)
    post       the ledger: order row, fills, fees, outbox, order-group limits (`_post`)
    record     one flush of all of it (fills.FillPosting._record)

then, once committed, memory follows (`_follow_commit`) and the caller publishes the events.
A failure after the book changed rebuilds the market from the database.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from sqlalchemy import Connection, select, update

from exchange import errors
from exchange import outbox as X
from exchange import statements as Q
from exchange import wallet_orders
from exchange.engine import EngineResult
from exchange.fees import ONE
from exchange.holds import market_hold
from exchange.journal import Journal
from exchange.models import Order
from exchange.positions import affordable
from exchange.schemas import FillView, OrderEvent, OrderRequest, OrderView, SelfTradePrevention, TimeInForce
from exchange.service.book_state import MarketState, OpenOrder
from exchange.service.clock import now_ms
from exchange.service.common import CANCELED, EXECUTED, HALTED, OPEN, RESTING, new_id
from exchange.service.fills import CommandWrites
from exchange.service.parts import ServiceParts
from exchange.service.unit_of_work import GroupAbort
from exchange.views import order_view

_orders = Order.__table__


class OrderCommands(ServiceParts):
    def place_order(self, user_id: int, request: OrderRequest) -> tuple[OrderView, list[FillView]]:
        """Validate, match, post, commit; returns the order as it stands and its fills."""
        with self.unit_of_work.lock:
            result = self._place(user_id, request)
        self.events.publish(result[2])
        return result[0], result[1]

    def batch_place(self, user_id: int, requests: list[OrderRequest]) -> list[tuple[OrderView, list[FillView]] | errors.ExchangeError]:
        """Each order on its own (Kalshi's batch): a refused one does not stop the others."""
        out: list = []
        events: list = []
        with self.unit_of_work.lock:
            for request in requests:
                try:
                    order, fills, published = self._place(user_id, request)
                    out.append((order, fills))
                    events.extend(published)
                except errors.ExchangeError as exc:
                    out.append(exc)
        self.events.publish(events)
        return out

    # ------------------------------------------------------------------ place: validate → reserve → match → post → record
    def _place(self, user_id: int, req: OrderRequest, replaces: OpenOrder | None = None) -> tuple[OrderView, list[FillView], list]:
        """One order, under the caller's lock: (the order as it stands, its taker fills, the
        events to publish once committed). `replaces`: amend's old order, which leaves the book
        in the same transaction."""
        ts = now_ms()
        state = self.books.market(req.ticker)
        self._validate(state, req, ts)
        order_id = new_id()
        book_changed = False
        try:
            with self.unit_of_work.transaction() as conn:
                self._validate_references(conn, user_id, req)
                count, tif = self._reserve(conn, state, user_id, req, replaces, ts)
                book_changed = True  # from here a failure rebuilds the book from the database
                result, replaced_left = self._match(state, order_id, user_id, req, count, tif, replaces, ts)
                if result.rejected:  # the engine changed nothing, unless it swept expired orders first
                    book_changed = replaces is not None or bool(result.expired_makers)
                    raise errors.InvalidRequest(result.rejected, code=result.reject_code or "invalid_order")
                cmd, order_row, taker, fills = self._post(conn, state, order_id, user_id, req, count, tif, result,
                                                          replaces, ts)
                self._record(conn, cmd, ts)
                # The other orders this command changed (makers filled or cancelled, amend's old
                # order), read as they now stand: their owners' `user_orders` hear of them too.
                others = self._changed_orders(conn, cmd) if self.events.listening else []
        except Exception as exc:
            group = self.unit_of_work.group
            if group is not None:
                group.markets.add(req.ticker)
                if book_changed or not isinstance(exc, errors.ExchangeError):
                    raise GroupAbort from exc  # the group's memory and transaction are both suspect
            elif book_changed:
                self.books.load_market(req.ticker)  # memory must not run ahead of what committed
            raise
        # Committed (or part of a group commit): bring memory in line.
        self.unit_of_work.note_market(req.ticker)
        placed, events = self._follow_commit(state, cmd, order_row, taker, result, replaces, replaced_left)
        if self.events.listening:
            events.extend(OrderEvent(v) for v in others)
        return placed, fills, events

    @staticmethod
    def _changed_orders(conn: Connection, cmd: CommandWrites) -> list[OrderView]:
        ids = list(dict.fromkeys(u["b_order_id"] for u in cmd.order_updates))
        if not ids:
            return []
        rows = conn.execute(select(_orders).where(_orders.c.order_id.in_(ids))).mappings().all()
        by_id = {r["order_id"]: r for r in rows}
        return [order_view(by_id[i]) for i in ids if i in by_id]

    def _validate(self, state: MarketState, req: OrderRequest, now: int) -> None:
        """Validate, the request alone: refused before anything is read or written."""
        row = state.row
        if row["status"] != OPEN:
            raise errors.MarketNotOpen(f"market {row['ticker']} is {row['status']}", code="market_closed" if row["status"] != HALTED else "trading_is_paused")
        if now >= row["close_ms"]:
            raise errors.MarketNotOpen(f"market {row['ticker']} closed at its close time", code="market_closed")
        if req.book_side not in ("bid", "ask"):
            raise errors.InvalidRequest("side must be bid or ask")
        if req.type not in ("limit", "market"):
            raise errors.InvalidRequest("type must be limit or market")
        if req.type == "market":
            req.price = ONE - row["tick"] if req.book_side == "bid" else row["tick"]
            if req.time_in_force == "good_till_canceled":
                req.time_in_force = "immediate_or_cancel"
        if not isinstance(req.price, int) or not 0 < req.price < ONE or req.price % row["tick"]:
            raise errors.InvalidRequest(f"price must be a multiple of the tick {row['tick']} strictly between 0 and $1",
                                        code="invalid_price")
        if not isinstance(req.count, int) or req.count <= 0 or req.count % row["lot"]:
            raise errors.InvalidRequest(f"count must be a positive multiple of {row['lot']}", code="invalid_count")
        if req.time_in_force not in get_args(TimeInForce):
            raise errors.InvalidRequest("unknown time_in_force")
        if req.post_only and req.time_in_force != "good_till_canceled":
            raise errors.InvalidRequest("post_only orders must be good_till_canceled")
        if req.expiration_ms is not None and req.expiration_ms <= now:
            raise errors.InvalidRequest("expiration time is in the past", code="invalid_expiration")
        if req.self_trade_prevention not in get_args(SelfTradePrevention):
            raise errors.InvalidRequest("self_trade_prevention_type must be taker_at_cross or maker")
        if req.builder_code is not None and req.builder_code not in self.books.builders:
            raise errors.InvalidRequest(f"unknown builder {req.builder_code}", code="builder_not_found")
        if req.buy_max_cost is not None and req.buy_max_cost <= 0:
            raise errors.InvalidRequest("buy_max_cost must be positive")

    def _validate_references(self, conn: Connection, user_id: int, req: OrderRequest) -> None:
        """Validate, against the ledger: a client order id used once, the order group usable."""
        if req.client_order_id is not None and Q.ORDER_BY_CLIENT_ID.scalar(
                conn, {"user_id": user_id, "client_order_id": req.client_order_id}) is not None:
            raise errors.Conflict(f"client_order_id {req.client_order_id} already used", code="order_already_exists")
        if req.order_group_id is not None:
            group = Q.ORDER_GROUP.mappings(conn, {"order_group_id": req.order_group_id})
            if group and not group[0]["deleted"] and group[0]["user_id"] != user_id \
                    and self.same_owner(conn, group[0]["user_id"], user_id):
                raise errors.InvalidRequest(f"order group {req.order_group_id} belongs to another subaccount",
                                            code="order_group_subaccount_mismatch")
            if not group or group[0]["user_id"] != user_id or group[0]["deleted"]:
                raise errors.NotFound(f"order group {req.order_group_id} not found", code="order_group_not_found")
            if group[0]["triggered"]:
                raise errors.InvalidRequest("order group hit its contracts limit; reset it first", code="order_group_triggered")

    def _reserve(self, conn: Connection, state: MarketState, user_id: int, req: OrderRequest,
                 replaces: OpenOrder | None, ts: int) -> tuple[int, str]:
        """Reserve: (the count the order may have, its time in force). reduce-only and
        buy_max_cost shrink the count; refused unless the user's free cash covers the market's
        hold with the whole order resting at its limit (the worst case)."""
        ticker = req.ticker
        positions, cashes = self.holdings.positions_and_cash(conn, ticker, [user_id])
        cash, pos = cashes[user_id], positions[user_id]
        self.books.positions[(user_id, ticker)] = pos
        count = req.count
        # reduce_only / sell_position_floor=0: never grow or flip the position.
        if req.reduce_only or req.sell_position_floor == 0:
            reducible = (-pos if req.book_side == "bid" else pos) - self.books.committed(user_id, ticker, req.book_side)
            if reducible <= 0:
                raise errors.InvalidRequest("reduce-only order would not reduce the position", code="reduce_only")
            count = min(count, reducible - reducible % state.row["lot"])
            if count <= 0:
                raise errors.InvalidRequest("reduce-only order would not reduce the position", code="reduce_only")
        tif = req.time_in_force
        if req.buy_max_cost is not None and req.action == "buy":
            # Kalshi's buy_max_cost: spend at most this on contracts (fees apart), at the
            # makers' prices, and never rest (fill-or-kill behaviour: the rest is cancelled).
            count = affordable(state.book.preview(req.book_side, req.price, count, user_id, req.self_trade_prevention, ts),
                               req.book_side, req.buy_max_cost, state.row["lot"])
            tif = "immediate_or_cancel"
            if count <= 0:
                raise errors.InvalidRequest("buy_max_cost buys nothing at the prices on the book now",
                                            code="invalid_parameters")
        mine = dict(self.books.orders_of(user_id, ticker))
        if replaces is not None:
            mine.pop(replaces.order_id, None)
        bids = [(o.price, o.remaining) for o in mine.values() if o.book_side == "bid"]
        asks = [(o.price, o.remaining) for o in mine.values() if o.book_side == "ask"]
        (bids if req.book_side == "bid" else asks).append((req.price, count))
        need = market_hold(pos, bids, asks, state.rates)
        available = cash - self.books.held(user_id, exclude=ticker)
        if need > available and not req.wallet_order:  # a wallet order is held by its escrow (wallet_orders)
            raise errors.InsufficientBalance(
                f"order needs {need} held in this market, {available} available", code="insufficient_balance")
        return count, tif

    @staticmethod
    def _match(state: MarketState, order_id: str, user_id: int, req: OrderRequest, count: int, tif: str,
               replaces: OpenOrder | None, ts: int) -> tuple[EngineResult, int]:
        """Match, the engine's part: amend's old order leaves the book, then the order meets the
        book and what is left of it rests. Returns the engine's result and what the old order
        had left."""
        replaced_left = (state.book.cancel(replaces.order_id) or 0) if replaces is not None else 0
        result = state.book.submit(order_id, user_id, req.book_side, req.price, count, tif,
                                   req.post_only, req.self_trade_prevention, req.expiration_ms, ts)
        return result, replaced_left

    def _post(self, conn: Connection, state: MarketState, order_id: str, user_id: int, req: OrderRequest, count: int,
              tif: str, result: EngineResult, replaces: OpenOrder | None,
              ts: int) -> tuple[CommandWrites, dict, OpenOrder, list[FillView]]:
        """Post, the ledger's part: the order's row, its fills' movements, fees and outbox
        records, the makers it cancelled, wallet-order releases and order-group limits, all
        gathered in one CommandWrites (nothing written yet). Returns (those writes, the order
        row, the taker as it would rest, the taker's fills)."""
        ticker = req.ticker
        cmd = CommandWrites(Journal(order_id, ts))
        order_row = {
            "order_id": order_id, "user_id": user_id, "ticker": ticker, "client_order_id": req.client_order_id,
            "book_side": req.book_side, "side": req.side, "action": req.action, "price": req.price, "type": req.type,
            "time_in_force": tif, "expiration_ms": req.expiration_ms, "post_only": req.post_only,
            "reduce_only": req.reduce_only, "buy_max_cost": req.buy_max_cost, "sell_position_floor": req.sell_position_floor,
            "self_trade_prevention": req.self_trade_prevention, "order_group_id": req.order_group_id,
            "builder_code": req.builder_code, "wallet_order": req.wallet_order, "initial_count": count,
            "remaining_count": result.resting, "fill_count": 0, "status": RESTING if result.resting else EXECUTED,
            "engine_seq": result.seq, "taker_fill_count": 0, "taker_fill_cost": 0, "maker_fill_count": 0,
            "maker_fill_cost": 0, "taker_fees": 0, "maker_fees": 0, "rebates": 0, "fee_units": 0, "rebate_units": 0,
            "cancel_reason": None, "created_ms": ts, "updated_ms": ts,
        }
        taker = OpenOrder(order_id, user_id, ticker, req.book_side, req.price, result.resting, req.order_group_id,
                          req.builder_code, 0, 0, req.wallet_order, req.side, req.action)
        fills = self._post_fills(conn, cmd, state, taker, order_row, result.fills, ts)
        order_row["fill_count"] = sum(f.count for f in result.fills)
        if not result.resting and order_row["fill_count"] < count:
            order_row["status"] = CANCELED
            order_row["cancel_reason"] = result.cancel_reason or ("self_trade" if result.stp_cancelled_taker else tif)
        order_row["fee_units"] = str(order_row["fee_units"])
        order_row["rebate_units"] = str(order_row["rebate_units"])
        cmd.order_rows.append(order_row)
        for maker_id in result.cancelled_makers:  # self-trade prevention cancelled these
            cmd.order_updates.append({"b_order_id": maker_id, "remaining_count": 0, "status": CANCELED,
                                      "cancel_reason": "self_trade", "updated_ms": ts})
        for maker_id in result.expired_makers:
            cmd.order_updates.append({"b_order_id": maker_id, "remaining_count": 0, "status": CANCELED,
                                      "cancel_reason": "expired", "updated_ms": ts})
        if replaces is not None:
            cmd.order_updates.append({"b_order_id": replaces.order_id, "remaining_count": 0, "status": CANCELED,
                                      "cancel_reason": "amended", "updated_ms": ts})
        if req.wallet_order and order_row["status"] != RESTING and order_row["fill_count"] < count:
            cmd.outbox.append(X.CloseOrder(ticker, req.wallet_order, order_id, count - order_row["fill_count"]))
        if cmd.fill_rows or req.wallet_order:  # what wallet orders got leaves the ledger to them
            wallet_orders.after_fills(self, conn, cmd, taker, order_row["status"] != RESTING)
        self._apply_group_limits(conn, cmd, ts)
        return cmd, order_row, taker, fills

    def _follow_commit(self, state: MarketState, cmd: CommandWrites, order_row: dict, taker: OpenOrder,
                       result: EngineResult, replaces: OpenOrder | None, replaced_left: int) -> tuple[OrderView, list]:
        """After the commit, memory follows what committed: resting orders, holds, the market's
        figures, the books' seqs. Returns the order's view and the events to publish."""
        ticker = state.row["ticker"]
        if order_row["status"] != RESTING and result.resting:  # its order group hit the limit
            state.book.cancel(taker.order_id)
            taker.remaining = 0
            result.resting = 0
        deltas: list[tuple[str, str, int, int]] = []  # (ticker, side, price, delta)
        touched: set[tuple[int, str]] = {(taker.user_id, ticker)}
        for f in result.fills:
            maker = self.books.open.get(f.maker_order_id)
            if maker is None:
                continue
            deltas.append((ticker, maker.book_side, f.price, -f.count))
            touched.add((maker.user_id, ticker))
            if maker.remaining <= 0:
                self.books.forget(maker)
        for maker_id in result.cancelled_makers + result.expired_makers:
            maker = self.books.open.get(maker_id)
            if maker is not None:
                deltas.append((ticker, maker.book_side, maker.price, -maker.remaining))
                touched.add((maker.user_id, ticker))
                self.books.forget(maker)
        if result.resting:
            deltas.append((ticker, taker.book_side, taker.price, result.resting))
            self.books.rest(taker)
        for order_id in cmd.group_cancelled:  # order-group limit hit: off every book
            order = self.books.open.get(order_id)
            if order is not None:
                left = self.books.markets[order.ticker].book.cancel(order_id) or 0
                deltas.append((order.ticker, order.book_side, order.price, -left))
                touched.add((order.user_id, order.ticker))
                self.books.forget(order)
        if replaces is not None:
            deltas.append((ticker, replaces.book_side, replaces.price, -replaced_left))
            self.books.forget(replaces)
        for user_id, t in touched:
            self.books.recompute_hold(user_id, t)
        if result.fills:
            state.last_price = result.fills[-1].price
            state.volume += sum(f.count for f in result.fills)
            state.open_interest += sum(r["minted"] - r["merged"] for r in cmd.trade_rows)
        placed = order_view(order_row)
        if placed.status == RESTING:
            placed.queue_position = state.book.queue_position(taker.order_id)
        events = self.events.book_changes(self.books, deltas, cmd.trade_rows, cmd.fill_rows)
        if self.events.listening:
            events.append(OrderEvent(placed))
        return placed, events

    def _owned_open(self, user_id: int, order_id: str) -> OpenOrder:
        order = self.books.open.get(order_id)
        if order is None or order.user_id != user_id:
            view = self._order_row(order_id)
            if view is None or view.user_id != user_id:
                raise errors.NotFound(f"order {order_id} not found", code="order_not_found")
            raise errors.InvalidRequest(f"order {order_id} is {view.status}", code="order_not_resting")
        return order

    def cancel_order(self, user_id: int, order_id: str) -> tuple[OrderView, int]:
        """Cancel a resting order; returns it and by how much it was reduced."""
        result = self.batch_cancel(user_id, [order_id])[0]
        if isinstance(result, errors.ExchangeError):
            raise result
        return result

    def batch_cancel(self, user_id: int, order_ids: list[str]) -> list[tuple[OrderView, int] | errors.ExchangeError]:
        """Cancel each order on its own (one refusal does not stop the others), in one transaction."""
        out: list = []
        with self.unit_of_work.lock:
            mine: list[str] = []
            for order_id in order_ids:
                try:
                    order = self._owned_open(user_id, order_id)
                    out.append(order.remaining)
                    mine.append(order_id)
                except errors.ExchangeError as exc:
                    out.append(exc)
            views, events = self._cancel_many(mine, reason="canceled") if mine else ({}, [])
        self.events.publish(events)
        ids = iter(mine)
        return [r if isinstance(r, errors.ExchangeError) else (views[next(ids)], r) for r in out]

    def cancel_all(self, user_id: int, ticker: str | None = None) -> list[str]:
        with self.unit_of_work.lock:
            ids = [o.order_id for o in self.books.open.values() if o.user_id == user_id and (ticker is None or o.ticker == ticker)]
            events = self._cancel_many(ids, reason="canceled")[1] if ids else []
        self.events.publish(events)
        return ids

    def _cancel_many(self, order_ids: list[str], reason: str,
                     also: Callable[[Connection], None] | None = None,
                     close_wallet_orders: bool = True) -> tuple[dict[str, OrderView], list]:
        """Cancel resting orders in one transaction (with `also(conn)`, if given); returns their
        views as committed, and the events. Wallet orders release their escrow and get a
        close_order, unless `close_wallet_orders` is False (force-closed on chain: gone)."""
        ts = now_ms()
        orders = [self.books.open[o] for o in order_ids if o in self.books.open]
        wallet = [o for o in orders if o.wallet_order]
        outbox = [X.CloseOrder(o.ticker, o.wallet_order, o.order_id, o.remaining) for o in wallet] if close_wallet_orders else []
        views: dict[str, OrderView] = {}
        if self.unit_of_work.group is not None:
            self.unit_of_work.group.markets.update(o.ticker for o in orders)
        with self.unit_of_work.transaction() as conn:
            params = {"remaining_count": 0, "status": CANCELED, "cancel_reason": reason, "updated_ms": ts}
            for o in orders:
                params["b_order_id"] = o.order_id
                views[o.order_id] = order_view(Q.CANCEL_ORDER.mappings(conn, params)[0])
            if outbox:
                self.outbox.write(conn, outbox, ts)
            if wallet:
                wallet_orders.release_cancelled(self, conn, wallet, ts)
            if also is not None:
                also(conn)
        deltas = []
        for o in orders:
            left = self.books.markets[o.ticker].book.cancel(o.order_id) or 0
            deltas.append((o.ticker, o.book_side, o.price, -left))
            self.books.forget(o)
            self.books.recompute_hold(o.user_id, o.ticker)
        events = self.events.book_changes(self.books, deltas)
        if self.events.listening:
            events.extend(OrderEvent(v) for v in views.values())
        return views, events

    def decrease_order(self, user_id: int, order_id: str, *, reduce_by: int | None = None, reduce_to: int | None = None) -> OrderView:
        """Shrink a resting order in place (it keeps its queue priority); to zero cancels it."""
        if (reduce_by is None) == (reduce_to is None):
            raise errors.InvalidRequest("give exactly one of reduce_by or reduce_to")
        with self.unit_of_work.lock:
            order = self._owned_open(user_id, order_id)
            new = order.remaining - reduce_by if reduce_by is not None else reduce_to
            lot = self.books.markets[order.ticker].row["lot"]
            if new is None or new < 0 or new >= order.remaining or new % lot:
                raise errors.InvalidRequest("the new size must be smaller than the remaining size and a whole lot")
            if new == 0:
                events = self._cancel_many([order_id], reason="canceled")[1]
            else:
                ts = now_ms()
                with self.unit_of_work.transaction() as conn:
                    conn.execute(update(_orders).where(_orders.c.order_id == order_id).values(
                        remaining_count=new, initial_count=_orders.c.initial_count - (order.remaining - new), updated_ms=ts))
                reduction = self.books.markets[order.ticker].book.decrease(order_id, new)
                order.remaining = new
                self.books.recompute_hold(user_id, order.ticker)
                events = self.events.book_changes(self.books, [(order.ticker, order.book_side, order.price, -reduction)])
        self.events.publish(events)
        return self.get_order(user_id, order_id)

    def amend_order(self, user_id: int, order_id: str, *, price: int | None = None, count: int | None = None,
                    client_order_id: str | None = None) -> tuple[OrderView, OrderView, list[FillView]]:
        """Kalshi's amend: new YES price and/or new total count (filled + remaining).

        Only shrinking at the same price keeps queue priority (a decrease). Otherwise the
        order is replaced in ONE transaction by a new order (new order id) for the rest at
        the new price, which may match at once. Returns (old order, new order, fills)."""
        with self.unit_of_work.lock:
            order = self._owned_open(user_id, order_id)
            old = self.get_order(user_id, order_id)
            new_price = old.price if price is None else price
            new_total = old.initial_count if count is None else count
            new_remaining = new_total - old.fill_count
            if new_remaining <= 0:
                raise errors.InvalidRequest("amended count must exceed what already filled")
            if new_price == old.price and new_remaining == order.remaining:
                return old, old, []
        if new_price == old.price and new_remaining < order.remaining:
            view = self.decrease_order(user_id, order_id, reduce_to=new_remaining)
            return old, view, []
        request = OrderRequest(ticker=old.ticker, book_side=old.book_side, price=new_price, count=new_remaining,
                               side=old.side, action=old.action, time_in_force="good_till_canceled",
                               expiration_ms=old.expiration_ms, self_trade_prevention=old.self_trade_prevention,
                               client_order_id=client_order_id, order_group_id=old.order_group_id,
                               builder_code=old.builder_code, post_only=old.post_only)
        with self.unit_of_work.lock:
            order = self._owned_open(user_id, order_id)
            new_view, fills, events = self._place(user_id, request, replaces=order)
        self.events.publish(events)
        return self.get_order(user_id, order_id), new_view, fills

    def expire_orders(self, now: int | None = None) -> list[str]:
        """Cancel every resting order past its expiration time (call periodically)."""
        now = now_ms() if now is None else now
        with self.unit_of_work.lock:
            ids = [order_id for state in self.books.markets.values() for order_id, _left in state.book.expiring(now)]
            events = self._cancel_many(ids, reason="expired")[1] if ids else []
        self.events.publish(events)
        return ids
