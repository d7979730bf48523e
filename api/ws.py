"""WebSocket at /trade-api/ws/v2, Kalshi's protocol.

Commands `{"id": n, "cmd": "subscribe" | "unsubscribe" | "update_subscription" |
"list_subscriptions", "params": {...}}`. Channels: `orderbook_delta` (an
`orderbook_snapshot`, then `orderbook_delta`s; `seq` counts the subscription's messages
without gaps, so a client that sees a gap resubscribes), `ticker`, `trade`,
`market_lifecycle_v2`, `ticker_v2` (only what changed since the subscription's last
message: prices and top of book when they moved, volume and open interest as deltas), and the
private `fill`, `user_orders`, `market_positions` (the position after each fill, settlement or custody move)
and `order_group_updates` (created, triggered, reset, deleted, limit_updated) — the
connection's own user only — and `communications` (rfq_created / rfq_deleted to every signed-in
subscriber; quote_created / quote_accepted / quote_executed to the quote's maker and the RFQ's
creator). The handshake is signed with the REST headers over
`GET /trade-api/ws/v2`; a connection without them gets the public channels only (`ticker`,
`ticker_v2`, `trade`, `market_lifecycle_v2`), as on Kalshi; a bad signature is refused with 401.

Events come from `ExchangeService.subscribe` after each commit. Routes call the service
on the event loop's thread, so a snapshot and the deltas that follow it are ordered
exactly; the market's own book sequence number filters anything already in a snapshot.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from exchange.errors import ExchangeError
from exchange.service.rfq import CommunicationEvent
from exchange.schemas import (BookDelta, FillEvent, MarketEvent, MarketView, OrderEvent, PositionEvent, TickerUpdate,
                              TradeEvent)

from api.errors import ApiError, error_response
from api.routes import communications
from api.schemas import wire
from api.schemas.convert import ONE, count_fp, dollars, rfc3339, seconds

log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"
# multivariate_market_lifecycle: accepted, and silent: Tandem lists no multivariate markets.
PUBLIC_CHANNELS = {"ticker", "ticker_v2", "trade", "market_lifecycle_v2", "multivariate_market_lifecycle"}
PRIVATE_CHANNELS = {"orderbook_delta", "fill", "user_orders", "market_positions", "order_group_updates", "communications"}
# Tandem's lifecycle changes -> Kalshi's market_lifecycle_v2 event types.
LIFECYCLE = {"created": "created", "halted": "deactivated", "resumed": "activated", "open": "activated",
             "closed": "closed", "determined": "determined", "finalized": "settled"}
CHANNELS = PUBLIC_CHANNELS | PRIVATE_CHANNELS
SEND_QUEUE = 10_000  # a client this far behind is disconnected rather than buffered forever

# Kalshi's WebSocket error codes.
E_PROCESSING, E_PARAMS, E_CHANNELS, E_SIDS, E_COMMAND = 1, 2, 3, 4, 5
E_UNKNOWN_SID, E_CHANNEL, E_AUTH, E_CHANNEL_ERROR, E_PARAM, E_ONE_SID, E_ACTION, E_TICKER = 7, 8, 9, 10, 11, 12, 13, 14

router = APIRouter()


@dataclass
class Subscription:
    sid: int
    channel: str
    tickers: set[str] | None  # None: every market
    seq: int = 0
    book_seq: dict[str, int] = field(default_factory=dict)  # orderbook_delta: market seq of the last snapshot
    quotes: dict[str, tuple] = field(default_factory=dict)  # ticker_v2: the market as this subscription last saw it

    def wants(self, ticker: str) -> bool:
        return self.tickers is None or ticker in self.tickers


class CommandError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Connection:
    def __init__(self, hub: "Hub", websocket: WebSocket, user_id: int | None) -> None:
        self.hub = hub
        self.websocket = websocket
        self.user_id = user_id
        self.subs: dict[int, Subscription] = {}
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(SEND_QUEUE)
        self.closed = False

    def send(self, message: dict) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(json.dumps(message, separators=(",", ":")))
        except asyncio.QueueFull:
            log.warning("websocket client too slow; disconnecting")
            self.closed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    def next_seq(self, sub: Subscription) -> int:
        sub.seq += 1
        return sub.seq

    async def writer(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None:
                await self.websocket.close(code=1008, reason="too slow")
                return
            await self.websocket.send_text(text)

    # ------------------------------------------------------------------ commands
    def handle(self, raw: str) -> None:
        cmd_id = None
        try:
            try:
                command = json.loads(raw)
            except ValueError:
                raise CommandError(E_PROCESSING, "Unable to process message") from None
            if not isinstance(command, dict):
                raise CommandError(E_PROCESSING, "Unable to process message")
            cmd_id = command.get("id")
            name = command.get("cmd")
            params = command.get("params")
            if name == "list_subscriptions":
                self.send({"id": cmd_id, "type": "ok",
                           "msg": [{"channel": s.channel, "sid": s.sid} for s in self.subs.values()]})
                return
            if name not in ("subscribe", "unsubscribe", "update_subscription"):
                raise CommandError(E_COMMAND, "Unknown command")
            if not isinstance(params, dict):
                raise CommandError(E_PARAMS, "Params required")
            getattr(self, f"_{name}")(cmd_id, params)
        except CommandError as exc:
            self.send({"id": cmd_id, "type": "error", "msg": {"code": exc.code, "msg": exc.message}})
        except Exception:  # a bug, not the client's: logged, answered, and the connection lives on
            log.exception("websocket command failed: %.200s", raw)
            self.send({"id": cmd_id, "type": "error", "msg": {"code": E_PROCESSING, "msg": "Unable to process message"}})

    def _tickers(self, params: dict) -> list[str] | None:
        tickers = params.get("market_tickers")
        if tickers is None and params.get("market_ticker") is not None:
            tickers = [params["market_ticker"]]
        if tickers is None:
            return None
        if not isinstance(tickers, list) or not all(isinstance(t, str) and t for t in tickers):
            raise CommandError(E_PARAM, "market_tickers must be a list of tickers")
        for ticker in tickers:
            try:
                self.hub.service.get_market(ticker)
            except ExchangeError:
                raise CommandError(E_TICKER, f"Unknown market ticker {ticker}") from None
        return tickers

    def _subscribe(self, cmd_id, params: dict) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise CommandError(E_CHANNELS, "Channels required")
        for channel in channels:
            if not isinstance(channel, str) or channel not in CHANNELS:
                raise CommandError(E_CHANNEL, f"Unknown channel name {channel}")
            if channel in PRIVATE_CHANNELS and self.user_id is None:
                raise CommandError(E_AUTH, f"Authentication required for {channel}")
        tickers = self._tickers(params)
        if "orderbook_delta" in channels and not tickers:
            raise CommandError(E_PARAM, "orderbook_delta needs market_ticker or market_tickers")
        for channel in channels:
            sid = self.hub.next_sid()
            sub = Subscription(sid, channel, set(tickers) if tickers else None)
            self.subs[sid] = sub
            self.send({"id": cmd_id, "type": "subscribed", "msg": {"channel": channel, "sid": sid}})
            if channel == "orderbook_delta":
                for ticker in tickers or []:
                    self._snapshot(sub, ticker)
            elif channel == "ticker_v2":
                for ticker in tickers or []:
                    sub.quotes[ticker] = _quote_state(self.hub.service.get_market(ticker))
            elif channel == "order_group_updates":  # groups already triggered are not news
                self.hub.seen_triggered(self.user_id)

    def _snapshot(self, sub: Subscription, ticker: str) -> None:
        book = self.hub.service.orderbook(ticker)
        sub.book_seq[ticker] = book.seq
        self.send({"type": "orderbook_snapshot", "sid": sub.sid, "seq": self.next_seq(sub),
                   "msg": {"market_ticker": ticker, "market_id": ticker,
                           "yes_dollars_fp": [[dollars(p), count_fp(c)] for p, c in book.yes],
                           "no_dollars_fp": [[dollars(p), count_fp(c)] for p, c in book.no]}})

    def _sids(self, params: dict) -> list[int]:
        sids = params.get("sids")
        if sids is None and params.get("sid") is not None:
            sids = [params["sid"]]
        if not isinstance(sids, list) or not sids:
            raise CommandError(E_SIDS, "Subscription IDs required")
        if not all(isinstance(sid, int) and not isinstance(sid, bool) for sid in sids):
            raise CommandError(E_SIDS, "Subscription IDs are integers")
        for sid in sids:
            if sid not in self.subs:
                raise CommandError(E_UNKNOWN_SID, f"Unknown subscription ID {sid}")
        return sids

    def _unsubscribe(self, cmd_id, params: dict) -> None:
        for sid in self._sids(params):
            sub = self.subs.pop(sid)
            self.send({"id": cmd_id, "sid": sid, "seq": self.next_seq(sub), "type": "unsubscribed"})

    def _update_subscription(self, cmd_id, params: dict) -> None:
        sids = self._sids(params)
        if len(sids) != 1:
            raise CommandError(E_ONE_SID, "Exactly one subscription ID is required")
        sub = self.subs[sids[0]]
        action = params.get("action")
        if action not in ("add_markets", "delete_markets"):
            raise CommandError(E_ACTION, "Unsupported action")
        tickers = self._tickers(params)
        if not tickers:
            raise CommandError(E_PARAM, "market_tickers required")
        if action == "add_markets":
            new = [t for t in tickers if sub.tickers is not None and t not in sub.tickers]
            if sub.tickers is not None:
                sub.tickers.update(tickers)
            if sub.channel == "orderbook_delta":
                for ticker in new:
                    self._snapshot(sub, ticker)
            elif sub.channel == "ticker_v2":
                for ticker in new:
                    sub.quotes[ticker] = _quote_state(self.hub.service.get_market(ticker))
        else:
            if sub.tickers is None:
                raise CommandError(E_PARAM, "this subscription covers every market")
            sub.tickers.difference_update(tickers)
            for ticker in tickers:
                sub.book_seq.pop(ticker, None)
                sub.quotes.pop(ticker, None)
        self.send({"id": cmd_id, "sid": sub.sid, "seq": self.next_seq(sub), "type": "ok",
                   "msg": {"market_tickers": sorted(sub.tickers or [])}})


def _ticker_msg(m: MarketView, ts_ms: int) -> dict:
    return {"market_ticker": m.ticker, "market_id": m.ticker, "price_dollars": dollars(m.last_price or 0),
            "yes_bid_dollars": dollars(m.yes_bid or 0), "yes_ask_dollars": dollars(m.yes_ask if m.yes_ask is not None else ONE),
            "yes_bid_size_fp": count_fp(m.yes_bid_size), "yes_ask_size_fp": count_fp(m.yes_ask_size),
            "volume_fp": count_fp(m.volume), "open_interest_fp": count_fp(m.open_interest),
            "ts": seconds(ts_ms), "ts_ms": ts_ms, "time": rfc3339(ts_ms)}


def _quote_state(m: MarketView) -> tuple:
    """What ticker_v2 compares: (last price, yes bid, yes ask, bid size, ask size, volume, open interest)."""
    return (m.last_price or 0, m.yes_bid or 0, m.yes_ask if m.yes_ask is not None else ONE, m.yes_bid_size,
            m.yes_ask_size, m.volume, m.open_interest)


def _ticker_v2_msg(m: MarketView, prev: tuple | None, trade_deltas: tuple[int, int], ts_ms: int) -> dict | None:
    """The fields that changed since `prev` (all of them when the subscription saw none yet;
    then volume and open interest move by this commit's trades). None: nothing changed."""
    now = _quote_state(m)
    body: dict = {}
    if prev is None or now[0] != prev[0]:
        body["price_dollars"] = dollars(now[0])
    if prev is None or now[1:5] != prev[1:5]:
        body.update(yes_bid_dollars=dollars(now[1]), yes_ask_dollars=dollars(now[2]),
                    yes_bid_size_fp=count_fp(now[3]), yes_ask_size_fp=count_fp(now[4]))
    volume, oi = (now[5] - prev[5], now[6] - prev[6]) if prev is not None else trade_deltas
    if volume:
        body["volume_delta_fp"] = count_fp(volume)
    if oi:
        body["open_interest_delta_fp"] = count_fp(oi)
    if not body:
        return None
    return {"market_ticker": m.ticker, "market_id": m.ticker, **body, "ts": seconds(ts_ms), "ts_ms": ts_ms,
            "time": rfc3339(ts_ms)}


def _position_msg(p, owner: int, subaccount: int) -> dict:
    # Kalshi's legacy money fields here are centi-cents (1/10,000 dollar); base units are 1/1,000,000.
    return {"user_id": str(owner), "market_ticker": p.ticker, "position": p.position // ONE,
            "position_cost": p.exposure // 100, "realized_pnl": p.realized_pnl // 100, "fees_paid": p.fees_paid // 100,
            "position_fp": count_fp(p.position), "position_cost_dollars": dollars(p.exposure),
            "realized_pnl_dollars": dollars(p.realized_pnl), "fees_paid_dollars": dollars(p.fees_paid),
            "volume": p.volume // ONE, "volume_fp": count_fp(p.volume),  # Kalshi: total volume traded (contracts)
            "subaccount": subaccount}


class Hub:
    """Fans the service's events out to the WebSocket connections."""

    def __init__(self, service, auth) -> None:
        self.service = service
        self.auth = auth
        self.connections: set[Connection] = set()
        self._sid = 0
        self._trade_deltas: dict[str, list[int]] = {}  # ticker_v2: this commit's (volume, open interest) per market
        # market_positions / order_group_updates read the database once per loop turn, not per event.
        self._pending_positions: set[tuple[int, str]] = set()
        self._pending_groups: set[int] = set()  # users
        self._flush_scheduled = False
        self._groups_triggered: set[str] = set()  # told "triggered" already (until reset)
        self._owners: dict[int, tuple[int, int]] = {}  # user id -> (parent or itself, subaccount number); fixed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._unsubscribe = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._unsubscribe = self.service.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def next_sid(self) -> int:
        self._sid += 1
        return self._sid

    def _on_event(self, event) -> None:
        if threading.get_ident() == self._loop_thread:
            self.dispatch(event)
        elif self._loop is not None:
            self._loop.call_soon_threadsafe(self.dispatch, event)

    def dispatch(self, event) -> None:
        if not self.connections:
            return
        ts_ms = int(time.time() * 1000)
        if isinstance(event, BookDelta):
            price = event.price if event.side == "yes" else ONE - event.price
            body = {"market_ticker": event.ticker, "market_id": event.ticker, "price_dollars": dollars(price),
                    "delta_fp": count_fp(event.delta), "side": event.side, "ts": rfc3339(ts_ms), "ts_ms": ts_ms}
            for conn in self.connections:
                for sub in conn.subs.values():
                    if sub.channel == "orderbook_delta" and event.ticker in (sub.tickers or ()) \
                            and event.seq > sub.book_seq.get(event.ticker, 0):
                        conn.send({"type": "orderbook_delta", "sid": sub.sid, "seq": conn.next_seq(sub), "msg": body})
        elif isinstance(event, TradeEvent):
            t = event.trade
            body = {"trade_id": t.trade_id, "market_ticker": t.ticker, "yes_price_dollars": dollars(t.price),
                    "no_price_dollars": dollars(ONE - t.price), "count_fp": count_fp(t.count), "taker_side": t.taker_side,
                    "taker_book_side": t.taker_book_side, "ts": seconds(t.created_ms), "ts_ms": t.created_ms}
            self._fan_out("trade", t.ticker, body)
            acc = self._trade_deltas.setdefault(t.ticker, [0, 0])
            acc[0] += t.count
            acc[1] += t.minted - t.merged
        elif isinstance(event, TickerUpdate):
            self._fan_out("ticker", event.market.ticker, _ticker_msg(event.market, ts_ms))
            self._ticker_v2(event.market, ts_ms)
        elif isinstance(event, FillEvent):
            f = event.fill
            body = {"trade_id": f.trade_id, "order_id": f.order_id, "client_order_id": f.client_order_id or "",
                    "market_ticker": f.ticker, "is_taker": f.is_taker, "side": f.side, "action": f.action,
                    "purchased_side": f.side if f.action == "buy" else ("no" if f.side == "yes" else "yes"),
                    "book_side": f.book_side, "yes_price_dollars": dollars(f.price), "no_price_dollars": dollars(ONE - f.price),
                    "count_fp": count_fp(f.count), "fee_cost": dollars(f.fee - f.rebate), "ts": seconds(f.created_ms),
                    "ts_ms": f.created_ms, "subaccount": 0}
            if f.reverted_ms is not None:  # the chain refused its settle_fill: the ledger reversed it
                body.update(reverted=True, revert_reason=f.revert_reason, reverted_ts_ms=f.reverted_ms)
            body["subaccount"] = self._owner(f.user_id)[1]
            self._fan_out("fill", f.ticker, body, user_id=f.user_id)
            if self._subscribed(f.user_id, "market_positions", f.ticker):
                self._pending_positions.add((f.user_id, f.ticker))
                self._schedule_flush()
            if self._subscribed(f.user_id, "order_group_updates"):
                self._pending_groups.add(f.user_id)  # did this fill trigger one of the user's groups?
                self._schedule_flush()
        elif isinstance(event, PositionEvent):  # custody moved contracts in or out
            if self._subscribed(event.user_id, "market_positions", event.ticker):
                self._pending_positions.add((event.user_id, event.ticker))
                self._schedule_flush()
        elif isinstance(event, OrderEvent):
            o = event.order
            self._fan_out("user_orders", o.ticker, wire.order(o), user_id=o.user_id, message_type="user_order")
        elif isinstance(event, CommunicationEvent):
            self._communication(event)
        elif isinstance(event, MarketEvent):
            m = event.market
            body = {"market_ticker": m.ticker, "event_type": LIFECYCLE.get(event.kind, event.kind),
                    "open_ts": seconds(m.open_ms), "close_ts": seconds(m.close_ms), "status": wire.MARKET_STATUS.get(m.status)}
            if m.yes_payout is not None:
                body["result"] = m.result or "scalar"
                body["settlement_value_dollars"] = dollars(m.yes_payout)
            self._fan_out("market_lifecycle_v2", m.ticker, body)
            if event.kind == "finalized":  # settlement pays holders out: their positions change
                for conn in self.connections:
                    if conn.user_id is not None and self._subscribed(conn.user_id, "market_positions", m.ticker):
                        for _number, user_id in self.service.subaccounts(conn.user_id):  # 0 is the user itself
                            self._pending_positions.add((user_id, m.ticker))
                        self._schedule_flush()

    def _communication(self, event: CommunicationEvent) -> None:
        """`communications`: RFQs go to every signed-in subscriber (makers quote them); a
        quote's news only to its maker and the RFQ's creator."""
        message = communications.ws_message(self.service, event)
        if message is None:
            return
        kind, body = message
        if event.users is None:
            self._fan_out("communications", event.rfq["ticker"], body, message_type=kind)
        else:
            for user_id in set(event.users):
                if kind == "quote_executed":  # each party hears of its own order only
                    mine = event.quote["rfq_order_id"] if user_id == event.rfq["parent_user_id"] else event.quote["quote_order_id"]
                    body = {**body, "order_id": mine}
                self._fan_out("communications", event.rfq["ticker"], body, user_id=user_id, message_type=kind)

    def _ticker_v2(self, m: MarketView, ts_ms: int) -> None:
        trades = tuple(self._trade_deltas.pop(m.ticker, (0, 0)))
        for conn in self.connections:
            for sub in conn.subs.values():
                if sub.channel == "ticker_v2" and sub.wants(m.ticker):
                    body = _ticker_v2_msg(m, sub.quotes.get(m.ticker), trades, ts_ms)
                    sub.quotes[m.ticker] = _quote_state(m)
                    if body is not None:
                        conn.send({"type": "ticker_v2", "sid": sub.sid, "seq": conn.next_seq(sub), "msg": body})

    def _owner(self, user_id: int) -> tuple[int, int]:
        """(the user whose connections hear of `user_id`'s activity, its subaccount number): a
        subaccount's fills, orders and positions go to its parent's connections."""
        owner = self._owners.get(user_id)
        if owner is None:
            found = self.service.subaccount_of(user_id)
            owner = self._owners[user_id] = found if found is not None else (user_id, 0)
        return owner

    def _subscribed(self, user_id: int, channel: str, ticker: str | None = None) -> bool:
        user_id = self._owner(user_id)[0]
        return any(conn.user_id == user_id and sub.channel == channel and (ticker is None or sub.wants(ticker))
                   for conn in self.connections for sub in conn.subs.values())

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """The reads the private channels wait for, once per loop turn: each touched position,
        and whether the fills triggered an order group of their user."""
        self._flush_scheduled = False
        positions, self._pending_positions = self._pending_positions, set()
        groups, self._pending_groups = self._pending_groups, set()
        try:
            if positions:
                for user_id, ticker in sorted(positions):
                    p = self.service.market_position(user_id, ticker)
                    if p is not None:
                        self._fan_out("market_positions", ticker, _position_msg(p, *self._owner(user_id)), user_id=user_id,
                                      message_type="market_position")
            for user_id in sorted(groups):
                for group in self.service.list_order_groups(user_id):
                    if group.is_auto_cancel_enabled and group.order_group_id not in self._groups_triggered:
                        self.order_group_event(user_id, "triggered", group.order_group_id, group.contracts_limit)
        except Exception:  # a failed read must not stop the loop; the next event retries
            log.exception("websocket position / order group read failed")

    def seen_triggered(self, user_id: int) -> None:
        self._groups_triggered.update(g.order_group_id for g in self.service.list_order_groups(user_id)
                                      if g.is_auto_cancel_enabled)

    def order_group_event(self, user_id: int, event_type: str, group_id: str, contracts_limit: int) -> None:
        """An order_group_updates message (the order group routes call this after each command).
        The channel ignores market filters: every group of the user."""
        if event_type == "triggered":
            if group_id in self._groups_triggered:
                return
            self._groups_triggered.add(group_id)
        elif event_type in ("reset", "created", "deleted"):
            self._groups_triggered.discard(group_id)
        ts_ms = int(time.time() * 1000)
        body = {"event_type": event_type, "order_group_id": group_id, "contracts_limit_fp": count_fp(contracts_limit),
                "ts_ms": ts_ms}
        user_id = self._owner(user_id)[0]  # a subaccount's group is heard on its parent's connections
        for conn in self.connections:
            if conn.user_id != user_id:
                continue
            for sub in conn.subs.values():
                if sub.channel == "order_group_updates":
                    conn.send({"type": "order_group_updates", "sid": sub.sid, "seq": conn.next_seq(sub), "msg": body})

    def _fan_out(self, channel: str, ticker: str, body: dict, user_id: int | None = None,
                 message_type: str | None = None) -> None:
        if user_id is not None:
            user_id = self._owner(user_id)[0]
        for conn in self.connections:
            if user_id is not None and conn.user_id != user_id:
                continue
            for sub in conn.subs.values():
                if sub.channel == channel and sub.wants(ticker):
                    conn.send({"type": message_type or channel, "sid": sub.sid, "seq": conn.next_seq(sub), "msg": body})


@router.websocket(WS_PATH)
async def websocket_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    user_id = None
    if websocket.headers.get("KALSHI-ACCESS-KEY") or websocket.headers.get("KALSHI-ACCESS-SIGNATURE"):
        try:
            user_id = hub.auth.verify(websocket.headers, "GET", WS_PATH).user_id
        except ApiError as exc:
            try:
                await websocket.send_denial_response(error_response(exc.status, exc.code, exc.message, exc.details))
            except RuntimeError:  # the server cannot send an HTTP denial: close instead
                await websocket.close(code=1008, reason=exc.message[:120])
            return
    await websocket.accept()
    conn = Connection(hub, websocket, user_id)
    hub.connections.add(conn)
    writer = asyncio.create_task(conn.writer())
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            # Commands are JSON text; a binary frame is read as UTF-8 (and refused if it is not).
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
            conn.handle(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.connections.discard(conn)
        writer.cancel()
