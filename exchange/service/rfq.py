"""Kalshi's RFQs and quotes ("communications"): a requester asks for a price on one market and
size, makers quote a YES bid and a NO bid, the requester accepts one side of a quote and the
maker confirms it. A confirmed quote executes at once as ONE fill between the two users,
through the order path's own posting (`_reserve` for both, `_post` → `_post_fills` → `_record`):
the quoter's order is the maker, the requester's the taker, so ledger movements, fees,
positions, trade and fill rows, and custody's outbox records are exactly a CLOB match's.

Sides: a quote's `yes_bid` is the price the maker pays for YES, `no_bid` what it pays for NO.
Accepting "yes" sells the maker YES at yes_bid (the requester buys NO at $1 - yes_bid);
accepting "no" sells the maker NO at no_bid (the requester buys YES at $1 - no_bid).

Time limits: an open quote lapses QUOTE_TTL_MS after it was made, an accepted one
CONFIRM_WINDOW_MS after its acceptance; a lapsed quote reads as cancelled ("expired") and is
refused. An RFQ closes when deleted, when one of its quotes executes, or when its market stops
trading (it is refused then)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from exchange import errors
from exchange.engine.types import EngineFill, EngineResult
from exchange.fees import ONE
from exchange.models import Market, Quote, Rfq
from exchange.paging import newest_first
from exchange.schemas import OrderEvent, OrderRequest
from exchange.service.book_state import OpenOrder
from exchange.service.clock import now_ms
from exchange.service.common import OPEN, RESTING, new_id
from exchange.service.parts import ServiceParts

_rfqs = Rfq.__table__
_quotes = Quote.__table__
_markets = Market.__table__

QUOTE_TTL_MS = 5 * 60_000
CONFIRM_WINDOW_MS = 30_000
MAX_OPEN_RFQS = 100  # per user, as Kalshi caps them


@dataclass(slots=True)
class CommunicationEvent:
    """An RFQ or quote changed (rfq_created, rfq_deleted, quote_created, quote_accepted,
    quote_executed, quote_deleted). `users`: who hears it (None: every signed-in subscriber)."""

    kind: str
    rfq: dict
    quote: dict | None
    users: tuple[int, ...] | None


def communications_id(parent_user_id: int) -> str:
    """A user's public pseudonymous id in RFQs and quotes (stable; not a secret)."""
    return hashlib.sha256(f"tandem-communications:{parent_user_id}".encode()).hexdigest()[:32]


def effective(quote: dict, now: int) -> dict:
    """The quote as it stands at `now`: a lapsed open or accepted quote reads as cancelled."""
    q = dict(quote)
    if q["status"] == "open" and now >= q["created_ms"] + QUOTE_TTL_MS:
        q.update(status="cancelled", cancellation_reason="expired", cancelled_ms=q["created_ms"] + QUOTE_TTL_MS)
    elif q["status"] == "accepted" and now >= q["accepted_ms"] + CONFIRM_WINDOW_MS:
        q.update(status="cancelled", cancellation_reason="expired", cancelled_ms=q["accepted_ms"] + CONFIRM_WINDOW_MS)
    return q


class RequestsForQuote(ServiceParts):
    # ------------------------------------------------------------------ RFQs
    def create_rfq(self, parent_user_id: int, user_id: int, ticker: str, contracts: int, *, rest_remainder: bool,
                   replace_existing: bool = False) -> str:
        """Open an RFQ for `contracts` on `ticker` (user_id: the parent or one of its
        subaccounts); `replace_existing` closes the user's other open RFQs first."""
        events: list = []
        with self.unit_of_work.lock:
            state = self._tradable(ticker)
            if not isinstance(contracts, int) or contracts <= 0 or contracts % state.row["lot"]:
                raise errors.InvalidRequest(f"contracts must be a positive multiple of {state.row['lot']}",
                                            code="invalid_parameters")
            ts = now_ms()
            rfq_id = new_id()
            with self.unit_of_work.transaction() as conn:
                mine = conn.execute(select(_rfqs).where(_rfqs.c.parent_user_id == parent_user_id,
                                                        _rfqs.c.status == "open")).mappings().all()
                if replace_existing:
                    for r in mine:
                        events.extend(self._close_rfq(conn, dict(r), "replaced", ts))
                elif len(mine) >= MAX_OPEN_RFQS:
                    raise errors.InvalidRequest(f"at most {MAX_OPEN_RFQS} open RFQs", code="too_many_rfqs")
                row = {"rfq_id": rfq_id, "user_id": user_id, "parent_user_id": parent_user_id, "ticker": ticker,
                       "contracts": contracts, "rest_remainder": bool(rest_remainder), "status": "open",
                       "cancellation_reason": None, "created_ms": ts, "updated_ms": ts, "cancelled_ms": None}
                conn.execute(insert(_rfqs).values(**row))
            events.append(CommunicationEvent("rfq_created", row, None, None))
        self.events.publish(events if self.events.listening else [])
        return rfq_id

    def delete_rfq(self, parent_user_id: int, rfq_id: str) -> None:
        with self.unit_of_work.lock:
            with self.unit_of_work.transaction() as conn:
                rfq = self._rfq(conn, rfq_id)
                if rfq["parent_user_id"] != parent_user_id:
                    raise errors.NotFound(f"rfq {rfq_id} not found", code="rfq_not_found")
                if rfq["status"] != "open":
                    raise errors.InvalidRequest(f"rfq {rfq_id} is {rfq['status']}", code="rfq_not_open")
                events = self._close_rfq(conn, rfq, "deleted", now_ms())
        self.events.publish(events if self.events.listening else [])

    def get_rfq(self, rfq_id: str) -> dict:
        with self.db.reader.connect() as conn:
            return self._rfq(conn, rfq_id)

    def list_rfqs(self, *, ticker: str | None = None, event_ticker: str | None = None, status: str | None = None,
                  parent_user_id: int | None = None, user_id: int | None = None, cursor: str | None = None,
                  limit: int | None = None):
        q = select(_rfqs)
        if ticker is not None:
            q = q.where(_rfqs.c.ticker == ticker)
        if event_ticker is not None:
            q = q.where(_rfqs.c.ticker.in_(select(_markets.c.ticker).where(_markets.c.event_ticker == event_ticker)))
        if status is not None:
            q = q.where(_rfqs.c.status == status)
        if parent_user_id is not None:
            q = q.where(_rfqs.c.parent_user_id == parent_user_id)
        if user_id is not None:
            q = q.where(_rfqs.c.user_id == user_id)
        return newest_first(self.db.reader, q, _rfqs, _rfqs.c.created_ms, None, None, cursor, limit, dict)

    # ------------------------------------------------------------------ quotes
    def create_quote(self, parent_user_id: int, user_id: int, rfq_id: str, yes_bid: int, no_bid: int, *,
                     rest_remainder: bool, post_only: bool = False) -> str:
        """Quote an open RFQ for its full size; a maker's new quote replaces its previous one."""
        events: list = []
        with self.unit_of_work.lock:
            ts = now_ms()
            quote_id = new_id()
            with self.unit_of_work.transaction() as conn:
                rfq = self._rfq(conn, rfq_id)
                if rfq["status"] != "open":
                    raise errors.InvalidRequest(f"rfq {rfq_id} is {rfq['status']}", code="rfq_not_open")
                state = self._tradable(rfq["ticker"])
                if rfq["parent_user_id"] == parent_user_id:
                    raise errors.InvalidRequest("you cannot quote your own RFQ", code="self_quote")
                tick = state.row["tick"]
                for name, price in (("yes_bid", yes_bid), ("no_bid", no_bid)):
                    if not isinstance(price, int) or not 0 <= price < ONE or price % tick:
                        raise errors.InvalidRequest(f"{name} must be 0 or a multiple of the tick {tick} below $1",
                                                    code="invalid_price")
                if yes_bid == 0 and no_bid == 0:
                    raise errors.InvalidRequest("yes_bid and no_bid cannot both be 0", code="invalid_price")
                previous = conn.execute(select(_quotes).where(
                    _quotes.c.rfq_id == rfq_id, _quotes.c.parent_user_id == parent_user_id,
                    _quotes.c.status.in_(("open", "accepted")))).mappings().all()
                for p in previous:
                    events.extend(self._cancel_quote(conn, rfq, dict(p), "replaced", ts))
                row = {"quote_id": quote_id, "rfq_id": rfq_id, "user_id": user_id, "parent_user_id": parent_user_id,
                       "yes_bid": yes_bid, "no_bid": no_bid, "rest_remainder": bool(rest_remainder),
                       "post_only": bool(post_only), "status": "open", "accepted_side": None,
                       "cancellation_reason": None, "rfq_order_id": None, "quote_order_id": None, "trade_id": None,
                       "created_ms": ts, "updated_ms": ts, "accepted_ms": None, "confirmed_ms": None,
                       "executed_ms": None, "cancelled_ms": None}
                conn.execute(insert(_quotes).values(**row))
            events.append(CommunicationEvent("quote_created", rfq, row, (rfq["parent_user_id"], parent_user_id)))
        self.events.publish(events if self.events.listening else [])
        return quote_id

    def get_quote(self, parent_user_id: int, quote_id: str) -> tuple[dict, dict]:
        """(the quote as it stands now, its RFQ); only its maker and the RFQ's creator see it."""
        with self.db.reader.connect() as conn:
            quote, rfq = self._visible_quote(conn, parent_user_id, quote_id)
        return effective(quote, now_ms()), rfq

    def list_quotes(self, parent_user_id: int, *, rfq_id: str | None = None, status: str | None = None,
                    quote_creator: bool | None = None, rfq_creator: bool | None = None, min_ms: int | None = None,
                    max_ms: int | None = None, cursor: str | None = None, limit: int | None = None):
        """The quotes the user made or received (`quote_creator` / `rfq_creator` narrow it),
        each with its RFQ: a page of (quote, rfq)."""
        mine_rfqs = select(_rfqs.c.rfq_id).where(_rfqs.c.parent_user_id == parent_user_id)
        made, received = _quotes.c.parent_user_id == parent_user_id, _quotes.c.rfq_id.in_(mine_rfqs)
        if quote_creator and not rfq_creator:
            q = select(_quotes).where(made)
        elif rfq_creator and not quote_creator:
            q = select(_quotes).where(received)
        else:
            q = select(_quotes).where(made | received)
        if rfq_id is not None:
            q = q.where(_quotes.c.rfq_id == rfq_id)
        now = now_ms()
        if status in ("open", "accepted"):  # those not lapsed yet
            q = q.where(_quotes.c.status == status, (_quotes.c.created_ms > now - QUOTE_TTL_MS) if status == "open"
                        else (_quotes.c.accepted_ms > now - CONFIRM_WINDOW_MS))
        elif status == "cancelled":
            q = q.where((_quotes.c.status == "cancelled")
                        | ((_quotes.c.status == "open") & (_quotes.c.created_ms <= now - QUOTE_TTL_MS))
                        | ((_quotes.c.status == "accepted") & (_quotes.c.accepted_ms <= now - CONFIRM_WINDOW_MS)))
        elif status is not None:
            q = q.where(_quotes.c.status == status)
        page = newest_first(self.db.reader, q, _quotes, _quotes.c.created_ms, min_ms, max_ms, cursor, limit, dict)
        with self.db.reader.connect() as conn:
            rfqs = {r["rfq_id"]: dict(r) for r in conn.execute(select(_rfqs).where(
                _rfqs.c.rfq_id.in_({q["rfq_id"] for q in page.items}))).mappings()} if page.items else {}
        page.items = [(effective(q, now), rfqs[q["rfq_id"]]) for q in page.items]
        return page

    def delete_quote(self, parent_user_id: int, quote_id: str) -> None:
        """The maker withdraws its quote (not once confirmed: it executed)."""
        with self.unit_of_work.lock:
            with self.unit_of_work.transaction() as conn:
                quote, rfq = self._own_quote(conn, parent_user_id, quote_id, "parent_user_id")
                events = self._cancel_quote(conn, rfq, quote, "deleted", now_ms())
        self.events.publish(events if self.events.listening else [])

    def accept_quote(self, parent_user_id: int, quote_id: str, accepted_side: str) -> None:
        """The RFQ's creator accepts one side of an open quote; the maker then has
        CONFIRM_WINDOW_MS to confirm it."""
        if accepted_side not in ("yes", "no"):
            raise errors.InvalidRequest("accepted_side must be yes or no", code="invalid_parameters")
        with self.unit_of_work.lock:
            ts = now_ms()
            with self.unit_of_work.transaction() as conn:
                quote, rfq = self._own_quote(conn, parent_user_id, quote_id, "rfq_creator")
                if quote["status"] != "open":
                    raise errors.InvalidRequest(f"quote {quote_id} is {quote['status']}", code="quote_not_open")
                self._tradable(rfq["ticker"])
                if quote[f"{accepted_side}_bid"] == 0:
                    raise errors.InvalidRequest(f"the quote has no {accepted_side} bid", code="invalid_parameters")
                conn.execute(update(_quotes).where(_quotes.c.quote_id == quote_id).values(
                    status="accepted", accepted_side=accepted_side, accepted_ms=ts, updated_ms=ts))
                quote.update(status="accepted", accepted_side=accepted_side, accepted_ms=ts, updated_ms=ts)
            events = [CommunicationEvent("quote_accepted", rfq, quote, (rfq["parent_user_id"], quote["parent_user_id"]))]
        self.events.publish(events if self.events.listening else [])

    def confirm_quote(self, parent_user_id: int, quote_id: str) -> str:
        """The maker confirms its accepted quote: it executes now, as one fill between the two
        users at the accepted side's price (module docstring). Returns the trade id."""
        with self.unit_of_work.lock:
            ts = now_ms()
            with self.db.reader.connect() as conn:
                quote, rfq = self._own_quote(conn, parent_user_id, quote_id, "parent_user_id")
            if quote["status"] != "accepted":
                raise errors.InvalidRequest(f"quote {quote_id} is {quote['status']}", code="quote_not_accepted")
            ticker = rfq["ticker"]
            state = self._tradable(ticker)
            count, side = rfq["contracts"], quote["accepted_side"]
            if side == "yes":  # the maker buys YES at yes_bid; the requester buys NO
                price, maker_book, taker_book = quote["yes_bid"], "bid", "ask"
            else:  # the maker buys NO at no_bid; the requester buys YES at $1 - no_bid
                price, maker_book, taker_book = ONE - quote["no_bid"], "ask", "bid"
            yes_no = {"bid": "yes", "ask": "no"}
            maker_req = OrderRequest(ticker, maker_book, price, count, side=yes_no[maker_book], action="buy",
                                     time_in_force="immediate_or_cancel")
            taker_req = OrderRequest(ticker, taker_book, price, count, side=yes_no[taker_book], action="buy",
                                     time_in_force="immediate_or_cancel")
            maker_id, taker_id = new_id(), new_id()
            maker = OpenOrder(maker_id, quote["user_id"], ticker, maker_book, price, count, None, None, 0, 0, None,
                              maker_req.side, "buy")
            result = EngineResult()
            result.fills = [EngineFill(maker_id, quote["user_id"], price, count)]
            posted = False
            try:
                with self.unit_of_work.transaction() as conn:
                    self._reserve(conn, state, quote["user_id"], maker_req, None, ts)
                    self._reserve(conn, state, rfq["user_id"], taker_req, None, ts)
                    posted = True  # from here memory (positions, fee units) follows the posting
                    self.books.open[maker_id] = maker  # the maker side of the one fill, never on the book
                    cmd, order_row, taker, fills = self._post(conn, state, taker_id, rfq["user_id"], taker_req, count,
                                                              "immediate_or_cancel", result, None, ts)
                    cmd.order_rows.insert(0, self._quote_order_row(maker, maker_req, ts))
                    self._record(conn, cmd, ts)
                    trade_id = cmd.trade_rows[0]["trade_id"]
                    done = {"status": "executed", "confirmed_ms": ts, "executed_ms": ts, "updated_ms": ts,
                            "rfq_order_id": taker_id, "quote_order_id": maker_id, "trade_id": trade_id}
                    conn.execute(update(_quotes).where(_quotes.c.quote_id == quote_id).values(**done))
                    quote.update(done)
                    events = self._close_rfq(conn, rfq, "executed", ts, keep=quote_id)
                    others = self._changed_orders(conn, cmd) if self.events.listening else []
            except Exception:
                self.books.open.pop(maker_id, None)
                if posted:
                    self.books.load_market(ticker)  # positions and holds as committed
                raise
            self.books.open.pop(maker_id, None)
            self.unit_of_work.note_market(ticker)
            _placed, published = self._follow_commit(state, cmd, order_row, taker, result, None, 0)
            self.books.recompute_hold(quote["user_id"], ticker)
            if self.events.listening:
                published.extend(OrderEvent(v) for v in others)
                published.append(CommunicationEvent("quote_executed", rfq, quote,
                                                    (rfq["parent_user_id"], quote["parent_user_id"])))
                published.extend(events)
        self.events.publish(published if self.events.listening else [])
        return trade_id

    # ------------------------------------------------------------------ helpers
    def _tradable(self, ticker: str):
        state = self.books.market(ticker)
        if state.row["status"] != OPEN or now_ms() >= state.row["close_ms"]:
            raise errors.MarketNotOpen(f"market {ticker} is not open for trading", code="market_closed")
        return state

    @staticmethod
    def _rfq(conn: Connection, rfq_id: str) -> dict:
        row = conn.execute(select(_rfqs).where(_rfqs.c.rfq_id == rfq_id)).mappings().first()
        if row is None:
            raise errors.NotFound(f"rfq {rfq_id} not found", code="rfq_not_found")
        return dict(row)

    def _visible_quote(self, conn: Connection, parent_user_id: int, quote_id: str) -> tuple[dict, dict]:
        row = conn.execute(select(_quotes).where(_quotes.c.quote_id == quote_id)).mappings().first()
        if row is not None:
            rfq = self._rfq(conn, row["rfq_id"])
            if parent_user_id in (row["parent_user_id"], rfq["parent_user_id"]):
                return dict(row), rfq
        raise errors.NotFound(f"quote {quote_id} not found", code="quote_not_found")

    def _own_quote(self, conn: Connection, parent_user_id: int, quote_id: str, role: str) -> tuple[dict, dict]:
        """The quote as it stands now, if the user may act on it as `role` (the quote's maker
        "parent_user_id", or "rfq_creator"); refused once lapsed or done."""
        quote, rfq = self._visible_quote(conn, parent_user_id, quote_id)
        owner = quote["parent_user_id"] if role == "parent_user_id" else rfq["parent_user_id"]
        if owner != parent_user_id:
            who = "the quote's maker" if role == "parent_user_id" else "the RFQ's creator"
            raise errors.Forbidden(f"only {who} may do this", code="forbidden")
        quote = effective(quote, now_ms())
        if quote["status"] in ("cancelled", "executed"):
            reason = quote["cancellation_reason"] or quote["status"]
            raise errors.InvalidRequest(f"quote {quote_id} is {quote['status']} ({reason})",
                                        code="quote_expired" if reason == "expired" else "quote_not_open")
        return quote, rfq

    def _cancel_quote(self, conn: Connection, rfq: dict, quote: dict, reason: str, ts: int) -> list:
        conn.execute(update(_quotes).where(_quotes.c.quote_id == quote["quote_id"]).values(
            status="cancelled", cancellation_reason=reason, cancelled_ms=ts, updated_ms=ts))
        quote.update(status="cancelled", cancellation_reason=reason, cancelled_ms=ts, updated_ms=ts)
        return [CommunicationEvent("quote_deleted", rfq, quote, (rfq["parent_user_id"], quote["parent_user_id"]))]

    def _close_rfq(self, conn: Connection, rfq: dict, reason: str, ts: int, keep: str | None = None) -> list:
        """Close an RFQ and cancel its live quotes (but `keep`, the one that executed)."""
        conn.execute(update(_rfqs).where(_rfqs.c.rfq_id == rfq["rfq_id"]).values(
            status="closed", cancellation_reason=reason, cancelled_ms=ts, updated_ms=ts))
        rfq.update(status="closed", cancellation_reason=reason, cancelled_ms=ts, updated_ms=ts)
        events: list = []
        live = conn.execute(select(_quotes).where(_quotes.c.rfq_id == rfq["rfq_id"],
                                                  _quotes.c.status.in_(("open", "accepted")))).mappings().all()
        for q in live:
            if q["quote_id"] != keep:
                events.extend(self._cancel_quote(conn, rfq, dict(q), f"rfq_{reason}", ts))
        events.append(CommunicationEvent("rfq_deleted", rfq, None, None))
        return events

    @staticmethod
    def _quote_order_row(maker: OpenOrder, req: OrderRequest, ts: int) -> dict:
        """The quoter's order: written resting for the whole size, then filled (ORDER_FILLED)
        by the same flush, so it ends executed with its maker fill figures."""
        return {
            "order_id": maker.order_id, "user_id": maker.user_id, "ticker": maker.ticker, "client_order_id": None,
            "book_side": maker.book_side, "side": req.side, "action": req.action, "price": maker.price, "type": "limit",
            "time_in_force": "immediate_or_cancel", "expiration_ms": None, "post_only": False, "reduce_only": False,
            "buy_max_cost": None, "sell_position_floor": None, "self_trade_prevention": "taker_at_cross",
            "order_group_id": None, "builder_code": None, "wallet_order": None, "initial_count": req.count,
            "remaining_count": req.count, "fill_count": 0, "status": RESTING, "engine_seq": 0, "taker_fill_count": 0,
            "taker_fill_cost": 0, "maker_fill_count": 0, "maker_fill_cost": 0, "taker_fees": 0, "maker_fees": 0,
            "rebates": 0, "fee_units": "0", "rebate_units": "0", "cancel_reason": None, "created_ms": ts,
            "updated_ms": ts,
        }
