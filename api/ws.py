"""WebSocket at /trade-api/ws/v2, Kalshi's protocol.

Commands `{"id": n, "cmd": "subscribe" | "unsubscribe" | "update_subscription" |
"list_subscriptions", "params": {...}}`. Channels: `orderbook_delta` (an
`orderbook_snapshot`, then `orderbook_delta`s; `seq` counts the subscription's messages
without gaps, so a client that sees a gap resubscribes), `ticker`, `trade`,
`market_lifecycle_v2`, and the private `fill` and `user_orders` (the connection's own user only). The handshake is signed with the REST
headers over `GET /trade-api/ws/v2`; a connection without them gets the public channels
only (`ticker`, `trade`, `market_lifecycle_v2`), as on Kalshi; a bad signature is refused with 401.

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
from exchange.schemas import BookDelta, FillEvent, MarketEvent, MarketView, OrderEvent, TickerUpdate, TradeEvent

from api.errors import ApiError, error_response
from api.schemas import wire
from api.schemas.convert import ONE, count_fp, dollars, rfc3339, seconds

log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"
PUBLIC_CHANNELS = {"ticker", "trade", "market_lifecycle_v2"}
PRIVATE_CHANNELS = {"orderbook_delta", "fill", "user_orders"}
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
        else:
            if sub.tickers is None:
                raise CommandError(E_PARAM, "this subscription covers every market")
            sub.tickers.difference_update(tickers)
            for ticker in tickers:
                sub.book_seq.pop(ticker, None)
        self.send({"id": cmd_id, "sid": sub.sid, "seq": self.next_seq(sub), "type": "ok",
                   "msg": {"market_tickers": sorted(sub.tickers or [])}})


def _ticker_msg(m: MarketView, ts_ms: int) -> dict:
    return {"market_ticker": m.ticker, "market_id": m.ticker, "price_dollars": dollars(m.last_price or 0),
            "yes_bid_dollars": dollars(m.yes_bid or 0), "yes_ask_dollars": dollars(m.yes_ask if m.yes_ask is not None else ONE),
            "yes_bid_size_fp": count_fp(m.yes_bid_size), "yes_ask_size_fp": count_fp(m.yes_ask_size),
            "volume_fp": count_fp(m.volume), "open_interest_fp": count_fp(m.open_interest),
            "ts": seconds(ts_ms), "ts_ms": ts_ms, "time": rfc3339(ts_ms)}


class Hub:
    """Fans the service's events out to the WebSocket connections."""

    def __init__(self, service, auth) -> None:
        self.service = service
        self.auth = auth
        self.connections: set[Connection] = set()
        self._sid = 0
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
        elif isinstance(event, TickerUpdate):
            self._fan_out("ticker", event.market.ticker, _ticker_msg(event.market, ts_ms))
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
            self._fan_out("fill", f.ticker, body, user_id=f.user_id)
        elif isinstance(event, OrderEvent):
            o = event.order
            self._fan_out("user_orders", o.ticker, wire.order(o), user_id=o.user_id, message_type="user_order")
        elif isinstance(event, MarketEvent):
            m = event.market
            body = {"market_ticker": m.ticker, "event_type": LIFECYCLE.get(event.kind, event.kind),
                    "open_ts": seconds(m.open_ms), "close_ts": seconds(m.close_ms), "status": wire.MARKET_STATUS.get(m.status)}
            if m.yes_payout is not None:
                body["result"] = m.result or "scalar"
                body["settlement_value_dollars"] = dollars(m.yes_payout)
            self._fan_out("market_lifecycle_v2", m.ticker, body)

    def _fan_out(self, channel: str, ticker: str, body: dict, user_id: int | None = None,
                 message_type: str | None = None) -> None:
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
