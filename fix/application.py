"""Order entry and market data over FIX, on the exchange's public service calls.

Order entry (TargetCompID KalshiRT / KalshiNR): NewOrderSingle (D), OrderCancelRequest (F),
OrderCancelReplaceRequest (G), OrderMassCancelRequest (q) -> ExecutionReport (8),
OrderCancelReject (9), OrderMassCancelReport (r). Market data (KalshiMD):
MarketDataRequest (V) -> snapshot (W), incremental refresh (X), MarketDataRequestReject (Y).

Kalshi's conventions: Side 1 = buy YES (a bid), 2 = sell YES (an ask, i.e. buy NO); Price in
YES cents (decimals allowed down to the market's tick); OrderQty in contracts (to 0.01).
ClOrdID is the order's client_order_id. A refusal of the exchange (the same checks as REST)
is an ExecutionReport with ExecType=8 Rejected and the exchange's code and message in Text.

What the client's own command caused is reported from the command's result; what others
caused (a REST user filling a resting FIX order, an expiry, a cancel over REST) from the
service's events (`Gateway.on_event`).
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from exchange.errors import ExchangeError, InvalidRequest
from exchange.schemas import FillView, OrderRequest, OrderView, TradeView
from exchange.units import ONE, parse_count, parse_dollars

from fix import tags as T
from fix.codec import Message, parse_utc_timestamp, utc_timestamp

log = logging.getLogger(__name__)

CLORDID = re.compile(r"^[-\w:+=/]{1,64}$")
TIF = {b"1": "good_till_canceled", b"3": "immediate_or_cancel", b"4": "fill_or_kill", b"6": "good_till_canceled"}
STP = {b"1": "taker_at_cross", b"2": "maker"}
# exchange error code -> OrdRejReason (103)
REJECT_REASON = {"market_not_found": 1, "not_found": 1, "insufficient_balance": 3, "duplicate_client_order_id": 6,
                 "conflict": 6, "market_closed": 2, "invalid_price": 99, "invalid_count": 99}


class FieldError(Exception):
    """A missing or malformed tag: a session-level Reject (3)."""

    def __init__(self, tag: int, reason: int, text: str) -> None:
        super().__init__(text)
        self.tag, self.reason, self.text = tag, reason, text


@lru_cache(maxsize=4096)
def cents_text(price: int) -> str:
    """YES base units -> cents as FIX Price ("56", "56.5")."""
    return _plain(Decimal(price) / (ONE // 100))


@lru_cache(maxsize=4096)
def qty_text(count: int) -> str:
    return _plain(Decimal(count) / ONE)


@lru_cache(maxsize=4096)
def _qty_bytes(count: int) -> bytes:
    return qty_text(count).encode()


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text


def parse_cents(text: str, tag: int) -> int:
    try:
        units = parse_dollars(text, "Price")
    except InvalidRequest as exc:
        raise FieldError(tag, 6, exc.message) from None
    if units % 100:
        raise FieldError(tag, 5, f"Price {text} cents is finer than a base unit")
    return units // 100


@dataclass
class Tracked:
    """An order entered over FIX, as its session reports it."""

    session: object  # fix.session.Session
    cl_ord_id: str
    order_id: str
    symbol: str
    side: bytes
    price: int
    qty: int  # OrderQty as the client sees it (across replaces)
    cum: int = 0
    cost: int = 0  # sum of price * count of fills, for AvgPx
    cancel_cl_ord_id: str | None = None  # a cancel this session asked for, in flight
    orig_cl_ord_id: str | None = None
    busy: bool = False  # a command of this session on it is running: its events are reported by the command
    fixed: bytes = b""  # its ExecutionReports' unchanging fields, encoded once (Application.report)

    @property
    def leaves(self) -> int:
        return max(0, self.qty - self.cum)


def _req(m: Message, tag: int) -> str:
    value = m.get(tag)
    if value is None or value == b"":
        raise FieldError(tag, 1, f"required tag {tag} missing")
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise FieldError(tag, 6, f"tag {tag} is not ASCII") from None


def _opt(m: Message, tag: int) -> str | None:
    return _req(m, tag) if m.get(tag) not in (None, b"") else None


def _side(m: Message) -> bytes:
    side = m.get(T.Side)
    if side is None:
        raise FieldError(T.Side, 1, "required tag 54 missing")
    if side not in (b"1", b"2"):
        raise FieldError(T.Side, 5, "Side must be 1 (buy YES) or 2 (sell YES)")
    return side


def _qty(m: Message) -> int:
    text = _req(m, T.OrderQty)
    try:
        count = parse_count(text, "OrderQty")
    except InvalidRequest as exc:
        raise FieldError(T.OrderQty, 6, exc.message) from None
    if count <= 0:
        raise FieldError(T.OrderQty, 5, "OrderQty must be positive")
    return count


def _cl_ord_id(m: Message, tag: int = T.ClOrdID) -> str:
    value = _req(m, tag)
    if not CLORDID.match(value):
        raise FieldError(tag, 5, "ClOrdID: at most 64 of letters, digits, - _ : + = /")
    return value


class Application:
    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self.service = gateway.service
        self.orders: dict[str, Tracked] = {}  # order id -> its FIX view
        self.pending: dict[tuple[int, str], list[FillView]] = {}  # (user, ClOrdID) being placed -> maker fills seen meanwhile
        self._exec = 0
        self._boot = gateway.boot_id.encode()
        self.by_cl_ord_id: dict[tuple[str, str], str] = {}  # (key, ClOrdID) -> order id, this process's (the store has all)

    def exec_id(self) -> bytes:
        self._exec += 1
        return b"%s-%d" % (self._boot, self._exec)

    # ------------------------------------------------------------------ dispatch
    async def handle_batch(self, session, batch: list[Message]) -> None:
        """Handle messages in order. NewOrderSingles and cancels are started without waiting for
        the ones before them: they reach the API's group commit together and share its
        transactions, which run them in the order queued and answer in that order. Anything
        else, or a cancel of an order still being placed, first waits for what is in flight.
        With `gateway.wait_per_batch` (SQLite) the next batch also waits for this one: what
        arrives meanwhile then makes one larger group (SQLite commits a group at once, so
        without the wait a pipelining client gets groups of one; measured with `bench fix`:
        about 1,700 against 1,100-1,500 orders/s). On PostgreSQL, whose groups wait a loop
        turn, not waiting measured better (about 550 against 380 orders/s)."""
        running: list[asyncio.Task] = session.running
        placing: set[bytes] = session.placing  # ClOrdIDs of the NewOrderSingles in flight
        for m in batch:
            msg_type = m.get(T.MsgType)
            running[:] = [t for t in running if not t.done()]
            if not running:
                placing.clear()
            groupable = session.kind.order_entry and (
                msg_type == b"D" or (msg_type == b"F" and m.get(T.OrigClOrdID) not in placing))
            if groupable:
                if msg_type == b"D":
                    placing.add(m.get(T.ClOrdID))
                running.append(asyncio.ensure_future(self._guarded(session, m)))
                continue
            if running:
                await asyncio.gather(*running)
                running.clear()
                placing.clear()
            await self._guarded(session, m)
        if running and self.gateway.wait_per_batch:
            await asyncio.gather(*running)
            running.clear()
            placing.clear()

    async def _guarded(self, session, m: Message) -> None:
        try:
            await self.handle(session, m)
        except Exception:  # a bug, not the client's: logged, answered, the session goes on
            log.exception("fix: application message failed")
            session.business_reject(int(m.get(T.MsgSeqNum) or 0), m.get(T.MsgType) or b"?", 0, "internal error")

    async def handle(self, session, m: Message) -> None:
        msg_type = m.get(T.MsgType)
        seq = int(m.get(T.MsgSeqNum))
        handlers = ({b"D": self.new_order, b"F": self.cancel, b"G": self.replace, b"q": self.mass_cancel,
                     b"H": self.order_status}
                    if session.kind.order_entry else {b"V": self.market_data_request})
        handler = handlers.get(msg_type)
        if handler is None:
            session.business_reject(seq, msg_type, 3, f"MsgType {msg_type.decode(errors='replace')} is not served on "
                                                      f"{session.target}")
            return
        try:
            await handler(session, m)
        except FieldError as exc:
            session.reject(seq, msg_type, exc.reason, exc.text, ref_tag=exc.tag)

    def _limit(self, session) -> str | None:
        try:
            self.gateway.limiter(session.sender)
        except Exception as exc:  # the REST rate limiter's refusal (same buckets as REST)
            return getattr(exc, "message", str(exc))
        return None

    # ------------------------------------------------------------------ reports
    def report(self, o: Tracked, exec_type: bytes, status: bytes, *, cl_ord_id: str | None = None,
               orig: str | None = None, fill: FillView | None = None, text: str | None = None,
               extra: bytes = b"") -> None:
        """An ExecutionReport, encoded straight to bytes: OrderID 37, ClOrdID 11, [OrigClOrdID 41],
        ExecID 17, ExecType 150, OrdStatus 39, the order's fixed part (Symbol 55, Side 54,
        OrdType 40, OrderQty 38, Price 44; encoded once per order), [a fill: LastQty 32, LastPx 31,
        TrdMatchID 880, AggressorIndicator 1057, Commission 12, CommType 13], LeavesQty 151,
        CumQty 14, AvgPx 6, TransactTime 60, [Text 58]."""
        fixed = o.fixed
        if not fixed:
            fixed = o.fixed = b"55=%s\x0154=%s\x0140=2\x0138=%s\x0144=%s\x01" % (
                o.symbol.encode(), o.side, _qty_bytes(o.qty), cents_text(o.price).encode())
        parts = [b"37=%s\x0111=%s\x01" % (o.order_id.encode(), (cl_ord_id or o.cl_ord_id).encode())]
        if orig:
            parts.append(b"41=%s\x01" % orig.encode())
        parts.append(b"17=%s\x01150=%s\x0139=%s\x01" % (self.exec_id(), exec_type, status))
        parts.append(fixed)
        if fill is not None:
            parts.append(b"32=%s\x0131=%s\x01880=%s\x011057=%s\x0112=%s\x0113=3\x01" % (
                _qty_bytes(fill.count), cents_text(fill.price).encode(), fill.trade_id.encode(),
                b"Y" if fill.is_taker else b"N", _plain(Decimal(fill.fee - fill.rebate) / ONE).encode()))
        avg = (_plain((Decimal(o.cost) * ONE / o.cum / (ONE // 100)).quantize(Decimal("0.0001"))).encode()
               if o.cum else b"0")
        parts.append(b"151=%s\x0114=%s\x016=%s\x0160=%s\x01" % (
            _qty_bytes(0 if status in (b"2", b"4", b"8") else o.leaves), _qty_bytes(o.cum), avg, utc_timestamp()))
        if text:
            parts.append(b"58=%s\x01" % text.encode())
        parts.append(extra)
        o.session.send(b"8", b"".join(parts))

    def _fill(self, o: Tracked, f: FillView) -> None:
        o.cum += f.count
        o.cost += f.price * f.count // ONE
        self.report(o, b"F", b"2" if o.leaves == 0 else b"1", fill=f)

    def _reject(self, session, m: Message, cl_ord_id: str, text: str, reason: int, exec_type: str = "8",
                extra: list[tuple[int, object]] = ()) -> None:
        price = m.get(T.Price)
        body: list[tuple[int, object]] = [
            (T.OrderID, "NONE"), (T.ClOrdID, cl_ord_id), (T.ExecID, self.exec_id()), (T.ExecType, exec_type),
            (T.OrdStatus, "8"), (T.Symbol, m.get(T.Symbol) or b""), (T.Side, m.get(T.Side) or b"1"),
            (T.OrderQty, m.get(T.OrderQty) or b"0")]
        if price:
            body.append((T.Price, price))
        body += [(T.OrdRejReason, reason), (T.LeavesQty, 0), (T.CumQty, 0), (T.AvgPx, 0),
                 (T.TransactTime, utc_timestamp()), (T.Text, text), *extra]
        session.send(b"8", body)

    # ------------------------------------------------------------------ D
    async def new_order(self, session, m: Message) -> None:
        cl_ord_id = _cl_ord_id(m)
        symbol = _req(m, T.Symbol)
        side = _side(m)
        count = _qty(m)
        ord_type = m.get(T.OrdType)
        if ord_type not in (b"1", b"2"):
            raise FieldError(T.OrdType, 5, "OrdType must be 2 (limit) or 1 (market)")
        price = parse_cents(_req(m, T.Price), T.Price) if ord_type == b"2" else (ONE if side == b"1" else 0)
        tif_value = m.get(T.TimeInForce) or b"1"
        if tif_value == b"0":
            raise FieldError(T.TimeInForce, 5, "TimeInForce 0 (Day) is not served: Tandem's markets have no trading "
                                               "day to end; send 6 (GTD) with ExpireTime (126), or 1 (GTC)")
        if tif_value not in TIF:
            raise FieldError(T.TimeInForce, 5, "TimeInForce must be 1 (GTC), 3 (IOC), 4 (FOK) or 6 (GTD)")
        expiration_ms = None
        if tif_value == b"6":
            try:
                expiration_ms = int(parse_utc_timestamp(m.get(T.ExpireTime) or b"") * 1000)
            except ValueError:
                raise FieldError(T.ExpireTime, 1, "TimeInForce=6 (GTD) needs ExpireTime (126)") from None
        stp = STP.get(m.get(T.SelfTradePreventionType) or b"1")
        if stp is None:
            raise FieldError(T.SelfTradePreventionType, 5, "SelfTradePreventionType must be 1 or 2")
        limited = self._limit(session)
        if limited:
            self._reject(session, m, cl_ord_id, f"too_many_requests: {limited}", 99)
            return
        user = session.identity.user_id
        request = OrderRequest(ticker=symbol, book_side="bid" if side == b"1" else "ask", price=price, count=count,
                               type="limit" if ord_type == b"2" else "market", time_in_force=TIF[tif_value],
                               expiration_ms=expiration_ms, post_only=b"6" in (m.get(T.ExecInst) or b""),
                               self_trade_prevention=stp, client_order_id=cl_ord_id,
                               order_group_id=_opt(m, T.SecondaryClOrdID),
                               builder_code=self.gateway.builder_of(session.sender))
        key = (user, cl_ord_id)
        self.pending[key] = []
        try:
            order, fills = await self.gateway.run(lambda: self.service.place_order(user, request))
        except ExchangeError as exc:
            self._reject(session, m, cl_ord_id, f"{exc.code}: {exc.message}", REJECT_REASON.get(exc.code, 99))
            return
        finally:
            later = self.pending.pop(key, [])
        o = Tracked(session, cl_ord_id, order.order_id, symbol, side, order.price, order.initial_count)
        self._record(session, cl_ord_id, order.order_id)
        self.report(o, b"0", b"0")
        for f in fills:
            if f.order_id == order.order_id:
                self._fill(o, f)
        for f in later:
            self._fill(o, f)
        self._after(o, order)

    def _record(self, session, cl_ord_id: str, order_id: str) -> None:
        self.gateway.store.record_order(session.sender, session.target, cl_ord_id, order_id)
        self.by_cl_ord_id[(session.sender, cl_ord_id)] = order_id

    def _after(self, o: Tracked, order: OrderView) -> None:
        """Track a resting order; report the end of one the exchange canceled at once (IOC rest, STP)."""
        if order.status == "resting" and o.leaves > 0:
            self.orders[o.order_id] = o
        elif order.status == "canceled" and o.leaves > 0:
            self.report(o, b"4", b"4", text=order.cancel_reason or "canceled")

    # ------------------------------------------------------------------ F
    def _resolve(self, session, m: Message) -> tuple[str, str, Tracked | None]:
        orig = _cl_ord_id(m, T.OrigClOrdID)
        order_id = (_opt(m, T.OrderID) or self.by_cl_ord_id.get((session.sender, orig))
                    or self.gateway.store.order_id(session.sender, orig))
        o = self.orders.get(order_id) if order_id else None
        return orig, order_id or "NONE", o

    def _cancel_reject(self, session, cl_ord_id: str, orig: str, order_id: str, response_to: int, reason: int,
                       text: str) -> None:
        session.send(b"9", [(T.OrderID, order_id), (T.ClOrdID, cl_ord_id), (T.OrigClOrdID, orig), (T.OrdStatus, "8"),
                            (T.CxlRejResponseTo, response_to), (T.CxlRejReason, reason), (T.Text, text)])

    async def cancel(self, session, m: Message) -> None:
        cl_ord_id = _cl_ord_id(m)
        orig, order_id, o = self._resolve(session, m)
        user = session.identity.user_id
        if order_id == "NONE":
            self._cancel_reject(session, cl_ord_id, orig, order_id, 1, 1, f"unknown order {orig}")
            return
        if o is not None:
            o.busy = True
        try:
            _view, _reduced = await self.gateway.run(lambda: self.service.cancel_order(user, order_id))
        except ExchangeError as exc:
            self._cancel_reject(session, cl_ord_id, orig, order_id, 1, 1 if exc.code.endswith("not_found") else 0,
                                f"{exc.code}: {exc.message}")
            return
        finally:
            if o is not None:
                o.busy = False
        if o is None:  # entered before a restart: report from the order as it stands
            o = self._load(session, order_id)
        self.orders.pop(order_id, None)
        self.report(o, b"4", b"4", cl_ord_id=cl_ord_id, orig=orig)

    def _load(self, session, order_id: str) -> Tracked:
        v = self.service.get_order(session.identity.user_id, order_id)
        return Tracked(session, v.client_order_id or "", v.order_id, v.ticker, b"1" if v.book_side == "bid" else b"2",
                       v.price, v.initial_count, v.fill_count, v.price * v.fill_count // ONE)

    # ------------------------------------------------------------------ G
    async def replace(self, session, m: Message) -> None:
        cl_ord_id = _cl_ord_id(m)
        orig, order_id, o = self._resolve(session, m)
        _side(m)
        count = _qty(m)
        price = parse_cents(_req(m, T.Price), T.Price) if m.get(T.Price) else None
        user = session.identity.user_id
        if order_id == "NONE":
            self._cancel_reject(session, cl_ord_id, orig, order_id, 2, 1, f"unknown order {orig}")
            return
        if o is None:
            try:
                o = self._load(session, order_id)
            except ExchangeError as exc:
                self._cancel_reject(session, cl_ord_id, orig, order_id, 2, 1, f"{exc.code}: {exc.message}")
                return
        # FIX OrderQty is the new total; the exchange's amend count is too (filled + remaining).
        key = (user, cl_ord_id)
        self.pending[key] = []
        o.busy = True
        try:
            _old, new, fills = self.service.amend_order(user, order_id, price=price, count=count,
                                                        client_order_id=cl_ord_id)
        except ExchangeError as exc:
            self._cancel_reject(session, cl_ord_id, orig, order_id, 2, 0 if exc.code == "order_not_resting" else 99,
                                f"{exc.code}: {exc.message}")
            return
        finally:
            o.busy = False
            later = self.pending.pop(key, [])
        self.orders.pop(order_id, None)
        n = Tracked(session, cl_ord_id, new.order_id, o.symbol, o.side, new.price, count, o.cum, o.cost)
        self._record(session, cl_ord_id, new.order_id)
        self.report(n, b"5", b"1" if n.cum else b"0", orig=orig)
        for f in fills:
            if f.order_id == new.order_id:
                self._fill(n, f)
        for f in later:
            self._fill(n, f)
        self._after(n, new)

    # ------------------------------------------------------------------ H
    async def order_status(self, session, m: Message) -> None:
        """OrderStatusRequest -> ExecutionReport ExecType=I with the order as it stands (OrdStatus
        0 new, 1 partially filled, 2 filled, 4 canceled; CumQty, LeavesQty, AvgPx); an order this
        key never entered: ExecType=I, OrdStatus=8, OrdRejReason=5 (unknown order)."""
        cl_ord_id = _cl_ord_id(m)
        req_id = _opt(m, T.OrdStatusReqID)
        extra = b"790=%s\x01" % req_id.encode() if req_id else b""
        order_id = (_opt(m, T.OrderID) or self.by_cl_ord_id.get((session.sender, cl_ord_id))
                    or self.gateway.store.order_id(session.sender, cl_ord_id))
        o = self.orders.get(order_id) if order_id else None
        if o is not None and o.session is session:
            self.report(o, b"I", b"1" if o.cum else b"0", cl_ord_id=cl_ord_id, extra=extra)
            return
        try:
            if order_id is None:
                raise LookupError
            v = self.service.get_order(session.identity.user_id, order_id)
        except (ExchangeError, LookupError):
            self._reject(session, m, cl_ord_id, f"unknown order {cl_ord_id}", 5, exec_type="I",
                         extra=[(T.OrdStatusReqID, req_id)] if req_id else [])
            return
        o = Tracked(session, cl_ord_id, v.order_id, v.ticker, b"1" if v.book_side == "bid" else b"2", v.price,
                    v.initial_count, v.fill_count, v.price * v.fill_count // ONE)
        status = {"executed": b"2", "canceled": b"4"}.get(v.status, b"1" if v.fill_count else b"0")
        self.report(o, b"I", status, extra=extra)

    # ------------------------------------------------------------------ q
    async def mass_cancel(self, session, m: Message) -> None:
        cl_ord_id = _cl_ord_id(m)
        kind = m.get(T.MassCancelRequestType)
        if kind not in (b"1", b"7"):
            raise FieldError(T.MassCancelRequestType, 5, "MassCancelRequestType must be 1 (by Symbol) or 7 (all)")
        ticker = _req(m, T.Symbol) if kind == b"1" else None
        user = session.identity.user_id
        ids = await self.gateway.run(lambda: self.service.cancel_all(user, ticker=ticker))
        # The cancels' ExecutionReports went out from the events (on_event), before this report.
        report_id = self.exec_id()
        body: list[tuple[int, object]] = [(T.ClOrdID, cl_ord_id), (T.MassActionReportID, report_id), (T.OrderID, report_id),
                                          (T.MassCancelRequestType, kind), (T.MassCancelResponse, kind),
                                          (T.TotalAffectedOrders, len(ids))]
        if ticker:
            body.append((T.Symbol, ticker))
        session.send(b"r", body)

    # ------------------------------------------------------------------ events of others
    def on_fill(self, f: FillView) -> None:
        o = self.orders.get(f.order_id)
        if o is None:
            if f.client_order_id and (f.user_id, f.client_order_id) in self.pending and not f.is_taker:
                self.pending[(f.user_id, f.client_order_id)].append(f)
                return
            o = self._restored(f.order_id, f.user_id)
            if o is None:
                return
            o.cum -= f.count  # read after this fill committed: counted below
            o.cost -= f.price * f.count // ONE
        if o.busy:
            return
        self._fill(o, f)
        if o.leaves == 0:
            self.orders.pop(o.order_id, None)

    def on_order(self, v: OrderView) -> None:
        o = self.orders.get(v.order_id)
        if o is None or o.busy or v.status != "canceled":
            return
        self.orders.pop(v.order_id, None)
        self.report(o, b"4", b"4", text=v.cancel_reason or "canceled")

    def _restored(self, order_id: str, user_id: int) -> Tracked | None:
        """An order entered over FIX before this process started (its session from the store)."""
        found = self.gateway.store.order_session(order_id)
        if found is None:
            return None
        sender, target, _cl = found
        session = self.gateway.session_by_target(sender, target)
        if session is None:
            return None
        v = self.service.get_order(user_id, order_id)
        o = Tracked(session, v.client_order_id or _cl, v.order_id, v.ticker, b"1" if v.book_side == "bid" else b"2",
                    v.price, v.initial_count, v.fill_count, v.price * v.fill_count // ONE)
        self.orders[order_id] = o
        return o

    # ------------------------------------------------------------------ V
    async def market_data_request(self, session, m: Message) -> None:
        req_id = _req(m, T.MDReqID)
        kind = m.get(T.SubscriptionRequestType)
        if kind not in (b"0", b"1", b"2"):
            raise FieldError(T.SubscriptionRequestType, 5, "SubscriptionRequestType must be 0, 1 or 2")
        md = self.gateway.market_data
        if kind == b"2":
            md.unsubscribe(session, req_id)
            return
        symbols = [v.decode(errors="replace") for t, v in m.pairs if int(t) == T.Symbol]
        if not symbols:
            raise FieldError(T.Symbol, 1, "NoRelatedSym (146) with at least one Symbol (55) is required")
        for symbol in symbols:
            try:
                self.service.get_market(symbol)
            except ExchangeError:
                session.send(b"Y", [(T.MDReqID, req_id), (T.MDReqRejReason, 0), (T.Text, f"unknown symbol {symbol}")])
                return
        depth = int(m.get(T.MarketDepth) or 0)
        for symbol in symbols:
            md.snapshot(session, req_id, symbol, depth)
        if kind == b"1":
            md.subscribe(session, req_id, symbols, trades=any(t == T.MDEntryType and v == b"2" for t, v in m.pairs))


@dataclass
class _Book:
    seq: int
    levels: dict[tuple[bytes, int], int]  # (MDEntryType 0 bid / 1 offer, YES price) -> size


class MarketData:
    """Shared books of the subscribed markets, kept from one snapshot and the service's deltas."""

    def __init__(self, service) -> None:
        self.service = service
        self.books: dict[str, _Book] = {}
        self.subs: dict[str, list[tuple[object, str]]] = {}  # ticker -> (session, MDReqID)
        self.trade_subs: dict[str, list[tuple[object, str]]] = {}  # those whose request listed MDEntryType 2

    def _book(self, ticker: str) -> _Book:
        book = self.books.get(ticker)
        if book is None:
            view = self.service.orderbook(ticker)
            levels = {(b"0", p): c for p, c in view.yes}
            levels.update({(b"1", ONE - p): c for p, c in view.no})
            book = self.books[ticker] = _Book(view.seq, levels)
        return book

    def snapshot(self, session, req_id: str, ticker: str, depth: int) -> None:
        book = self._book(ticker)
        bids = sorted(((p, c) for (t, p), c in book.levels.items() if t == b"0" and c > 0), reverse=True)
        asks = sorted((p, c) for (t, p), c in book.levels.items() if t == b"1" and c > 0)
        if depth > 0:
            bids, asks = bids[:depth], asks[:depth]
        body: list[tuple[int, object]] = [(T.MDReqID, req_id), (T.Symbol, ticker), (T.NoMDEntries, len(bids) + len(asks))]
        for entry_type, levels in ((b"0", bids), (b"1", asks)):
            for p, c in levels:
                body += [(T.MDEntryType, entry_type), (T.MDEntryPx, cents_text(p)), (T.MDEntrySize, qty_text(c))]
        session.send(b"W", body)

    def subscribe(self, session, req_id: str, tickers: list[str], trades: bool = False) -> None:
        for ticker in tickers:
            self.subs.setdefault(ticker, []).append((session, req_id))
            if trades:
                self.trade_subs.setdefault(ticker, []).append((session, req_id))

    def unsubscribe(self, session, req_id: str | None = None) -> None:
        for table in (self.subs, self.trade_subs):
            for ticker, subs in list(table.items()):
                subs[:] = [(s, r) for s, r in subs if s is not session or (req_id is not None and r != req_id)]
                if not subs:
                    del table[ticker]

    def on_trade(self, trade: TradeView) -> None:
        """A trade: MarketDataIncrementalRefresh with one MDEntryType 2 entry (price in YES cents,
        size in contracts, TradeID 1003 = the REST trade id, AggressorSide 2446: 1 the taker
        bought YES, 2 it sold YES) to the subscriptions that asked for trades."""
        for session, req_id in self.trade_subs.get(trade.ticker, ()):
            if session.conn is None:
                continue
            session.send(b"X", [(T.MDReqID, req_id), (T.NoMDEntries, 1), (T.MDUpdateAction, 0), (T.MDEntryType, 2),
                                (T.Symbol, trade.ticker), (T.MDEntryPx, cents_text(trade.price)),
                                (T.MDEntrySize, qty_text(trade.count)), (T.TradeID, trade.trade_id),
                                (T.AggressorSide, 1 if trade.taker_book_side == "bid" else 2)])

    def on_delta(self, ticker: str, seq: int, book_side: str, price: int, delta: int) -> None:
        book = self.books.get(ticker)
        if book is None or seq <= book.seq:
            return
        book.seq = seq
        key = (b"0" if book_side == "bid" else b"1", price)
        old = book.levels.get(key, 0)
        new = old + delta
        if new > 0:
            book.levels[key] = new
        else:
            book.levels.pop(key, None)
        subs = self.subs.get(ticker)
        if not subs:
            return
        action = b"0" if old <= 0 else (b"2" if new <= 0 else b"1")
        for session, req_id in subs:
            if session.conn is None:
                continue  # market data is not stored for later: a new request gets a new snapshot
            session.send(b"X", [(T.MDReqID, req_id), (T.NoMDEntries, 1), (T.MDUpdateAction, action),
                                (T.MDEntryType, key[0]), (T.Symbol, ticker), (T.MDEntryPx, cents_text(price)),
                                (T.MDEntrySize, qty_text(max(new, 0)))])
