"""What the service keeps in memory, and how it is rebuilt from the database.

One matching engine (`exchange.engine.Book`) per market, the resting orders as the service
tracks them (`OpenOrder`), each user's cash hold per market, the positions those holds were
computed with, and the fee schedules and builders. Memory only ever follows what committed:
after a failed command the market is rebuilt from the database (`load_market`), and on start
everything is (`restore`), so after kill -9 the books are exactly what was last acknowledged.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from exchange import errors
from exchange.db import Database
from exchange.engine import Book
from exchange.fees import FeeRates
from exchange.holds import market_hold
from exchange.models import Builder, Event, FeeSchedule, LedgerAccount, LedgerBalance, Market, Order, Series, Trade
from exchange.models import ledger as L
from exchange.schemas import BookDelta, MarketView
from exchange.service.common import RESTING
from exchange.service.holdings import Holdings

_series = Series.__table__
_events = Event.__table__
_markets = Market.__table__
_orders = Order.__table__
_trades = Trade.__table__
_balances = LedgerBalance.__table__
_accounts = LedgerAccount.__table__
_fee_schedules = FeeSchedule.__table__
_builders = Builder.__table__


@dataclass(slots=True)
class OpenOrder:
    """A resting order as the service tracks it in memory (the row is in `orders`)."""

    order_id: str
    user_id: int
    ticker: str
    book_side: str
    price: int
    remaining: int
    order_group_id: str | None
    builder_code: str | None
    fee_units: int
    rebate_units: int
    wallet_order: str | None = None
    side: str = "yes"
    action: str = "buy"


@dataclass(slots=True)
class MarketState:
    """One market in memory: its row, its book and the figures the listings show."""

    row: dict
    book: Book
    rates: FeeRates
    book_seq: int = 0  # counts every committed change of the book (the orderbook_delta seq)
    last_price: int | None = None
    volume: int = 0
    open_interest: int = 0

    def view(self) -> MarketView:
        r = self.row
        top = self.book.top()
        return MarketView(
            ticker=r["ticker"], event_ticker=r["event_ticker"], series_ticker=r["series_ticker"], title=r["title"],
            subtitle=r["subtitle"], yes_sub_title=r["yes_sub_title"], no_sub_title=r["no_sub_title"],
            rules_primary=r["rules_primary"], status=r["status"], open_ms=r["open_ms"], close_ms=r["close_ms"],
            tick=r["tick"], lot=r["lot"], yes_payout=r["yes_payout"], fee_schedule_id=r.get("fee_schedule_id"),
            created_ms=r["created_ms"], determined_ms=r["determined_ms"], finalized_ms=r["finalized_ms"],
            updated_ms=r["updated_ms"],
            yes_bid=top[0], yes_bid_size=top[1], yes_ask=top[2], yes_ask_size=top[3], last_price=self.last_price,
            volume=self.volume, volume_24h=self.volume, open_interest=self.open_interest,
        )


class BookState:
    def __init__(self, db: Database, holdings: Holdings) -> None:
        self.db = db
        self.holdings = holdings
        self.markets: dict[str, MarketState] = {}
        self.open: dict[str, OpenOrder] = {}  # every resting order, by id
        self.by_user_market: dict[tuple[int, str], dict[str, OpenOrder]] = defaultdict(dict)
        self.holds: dict[int, dict[str, int]] = defaultdict(dict)  # user -> ticker -> cash held
        self.positions: dict[tuple[int, str], int] = {}  # (user, ticker) -> position the hold assumed
        self.fee_schedules: dict[int, FeeRates] = {}
        self.builders: dict[str, int] = {}  # code -> share (ppm)

    # ------------------------------------------------------------------ rebuild
    def restore(self) -> None:
        """Everything from the database (the service's start)."""
        self.markets.clear()
        self.open.clear()
        self.by_user_market.clear()
        self.holds.clear()
        self.positions.clear()
        self.holdings.accounts.forget()
        self.load_reference_data()
        with self.db.reader.connect() as conn:
            tickers = [r[0] for r in conn.execute(select(_markets.c.ticker))]
        for ticker in tickers:
            self.load_market(ticker)

    def load_reference_data(self) -> None:
        with self.db.reader.connect() as conn:
            self.fee_schedules = {
                r.id: FeeRates(r.taker_rate_ppm, r.maker_rate_ppm, r.maker_rebate_ppm)
                for r in conn.execute(select(_fee_schedules))
            }
            self.builders = {r.code: r.share_ppm for r in conn.execute(select(_builders))}

    def rates_for(self, row: dict) -> FeeRates:
        schedule = row.get("fee_schedule_id")
        if schedule is not None and schedule in self.fee_schedules:
            return self.fee_schedules[schedule]
        return FeeRates()

    def load_market(self, ticker: str, book_seq: int | None = None) -> MarketState | None:
        """(Re)build one market's engine, resting orders, holds and figures from the DB.
        `book_seq`: the seq to resume at (default: the one in memory)."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(_markets).where(_markets.c.ticker == ticker)).mappings().first()
            if row is None:
                return None
            row = dict(row)
            series_ticker = conn.execute(
                select(_events.c.series_ticker).where(_events.c.event_ticker == row["event_ticker"])
            ).scalar_one()
            row["series_ticker"] = series_ticker
            if row["fee_schedule_id"] is None:
                row["fee_schedule_id"] = conn.execute(
                    select(_series.c.fee_schedule_id).where(_series.c.ticker == series_ticker)
                ).scalar_one_or_none()
            resting = conn.execute(
                select(_orders).where(_orders.c.ticker == ticker, _orders.c.status == RESTING).order_by(_orders.c.engine_seq, _orders.c.id)
            ).mappings().all()
            stats = conn.execute(
                select(func.count(), func.coalesce(func.sum(_trades.c.count), 0)).where(_trades.c.ticker == ticker)
            ).one()
            last = conn.execute(
                select(_trades.c.price).where(_trades.c.ticker == ticker).order_by(_trades.c.id.desc()).limit(1)
            ).scalar_one_or_none()
            issuance = conn.execute(
                select(_balances.c.amount)
                .join(_accounts, _accounts.c.id == _balances.c.account_id)
                .where(_accounts.c.kind == L.ISSUANCE, _accounts.c.ref == ticker, _balances.c.asset == L.yes_asset(ticker))
            ).scalar_one_or_none()
            users = {r["user_id"] for r in resting}
            positions = self.holdings.positions(conn, ticker, users) if users else {}
        # Drop whatever memory held for this market.
        for key in [k for k in self.by_user_market if k[1] == ticker]:
            for order_id in self.by_user_market.pop(key):
                self.open.pop(order_id, None)
            self.holds[key[0]].pop(ticker, None)
        book = Book(ticker, tick=row["tick"], lot=row["lot"])
        book.restore([(r["order_id"], r["user_id"], r["book_side"], r["price"], r["remaining_count"], r["engine_seq"],
                       r["self_trade_prevention"], r["post_only"], r["expiration_ms"]) for r in resting])
        old = self.markets.get(ticker)
        if book_seq is None:
            book_seq = old.book_seq if old is not None else 0
        # A rebuild after a failed command keeps the WebSocket sequence: subscribers only ever saw
        # committed deltas, which is exactly the book rebuilt here.
        state = MarketState(row=row, book=book, rates=self.rates_for(row), last_price=last, volume=int(stats[1]),
                            open_interest=-(issuance or 0), book_seq=book_seq)
        self.markets[ticker] = state
        for r in resting:
            self.rest(OpenOrder(r["order_id"], r["user_id"], ticker, r["book_side"], r["price"], r["remaining_count"],
                                r["order_group_id"], r["builder_code"], int(r["fee_units"]), int(r["rebate_units"]),
                                r["wallet_order"], r["side"], r["action"]))
        for user_id, pos in positions.items():
            self.positions[(user_id, ticker)] = pos
        for user_id in users:
            self.recompute_hold(user_id, ticker)
        return state

    def market(self, ticker: str) -> MarketState:
        """A market's state; one created by another process is loaded on first use."""
        state = self.markets.get(ticker)
        if state is None:
            state = self.load_market(ticker)
            if state is None:
                raise errors.NotFound(f"market {ticker} not found", code="market_not_found")
        return state

    # ------------------------------------------------------------------ resting orders and holds
    def rest(self, order: OpenOrder) -> None:
        self.open[order.order_id] = order
        self.by_user_market[(order.user_id, order.ticker)][order.order_id] = order

    def forget(self, order: OpenOrder) -> None:
        self.open.pop(order.order_id, None)
        mine = self.by_user_market.get((order.user_id, order.ticker))
        if mine is not None:
            mine.pop(order.order_id, None)

    def orders_of(self, user_id: int, ticker: str) -> dict[str, OpenOrder]:
        """The user's resting orders in one market (do not change the dict)."""
        return self.by_user_market.get((user_id, ticker), {})

    def committed(self, user_id: int, ticker: str, book_side: str) -> int:
        """Contracts the user's resting orders on one side of a book would trade."""
        return sum(o.remaining for o in self.orders_of(user_id, ticker).values() if o.book_side == book_side)

    def recompute_hold(self, user_id: int, ticker: str) -> int:
        orders = self.by_user_market.get((user_id, ticker))
        if not orders:
            self.holds[user_id].pop(ticker, None)
            self.by_user_market.pop((user_id, ticker), None)
            return 0
        state = self.markets[ticker]
        bids = [(o.price, o.remaining) for o in orders.values() if o.book_side == "bid"]
        asks = [(o.price, o.remaining) for o in orders.values() if o.book_side == "ask"]
        hold = market_hold(self.positions.get((user_id, ticker), 0), bids, asks, state.rates)
        self.holds[user_id][ticker] = hold
        return hold

    def held(self, user_id: int, exclude: str | None = None) -> int:
        """Cash the user's resting orders hold, over every market but `exclude`."""
        return sum(v for t, v in self.holds.get(user_id, {}).items() if t != exclude)

    # ------------------------------------------------------------------ book sequence
    def advance(self, deltas: list[tuple[str, str, int, int]]) -> list[BookDelta]:
        """Count committed book changes [(ticker, side, price, delta)]: each non-zero delta takes
        its market's next `book_seq`, whether or not anyone listens, so an orderbook snapshot's
        seq means the same to every reader. Returns them as BookDelta events."""
        out = []
        for ticker, side, price, delta in deltas:
            if delta:
                state = self.markets[ticker]
                state.book_seq += 1
                out.append(BookDelta(ticker, state.book_seq, side, price, delta))
        return out
