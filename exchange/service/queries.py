"""Reader-only queries: what the API, the CLI and the indexer read. Nothing here writes.

Listings read the database through the reader (pages are filtered in the query, so they are
full); what lives in memory (order books, queue positions, holds, market figures) is read
under the writer lock, so it is a committed state.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from exchange import errors
from exchange.fees import ONE
from exchange.models import ApiKey, Builder, CustodyWithdrawal, Deposit, Event, FeeSchedule, Fill, LedgerAccount, LedgerBalance, Market, Order, OrderGroup, OutboxStream, PositionStats, Series, Settlement, Trade, User
from exchange.models import ledger as L
from exchange.paging import MAX_LIMIT, newest_first, page_limit
from exchange.positions import cash_value_floor
from exchange.schemas import ApiKeyView, BalanceView, BuilderView, DepositView, EventPositionView, EventView, FeeScheduleView, FillView, MarketView, OrderGroupView, OrderView, OrderbookView, Page, PositionView, QueuePosition, SeriesView, SettlementView, TradeView, UserView, WithdrawalView
from exchange.service.clock import now_ms
from exchange.service.common import FINALIZED, RESTING
from exchange.service.parts import ServiceParts
from exchange.views import event_view, fill_view, order_view, series_view, settlement_view, trade_view

_users = User.__table__
_keys = ApiKey.__table__
_series = Series.__table__
_events = Event.__table__
_markets = Market.__table__
_orders = Order.__table__
_groups = OrderGroup.__table__
_trades = Trade.__table__
_fills = Fill.__table__
_settlements = Settlement.__table__
_balances = LedgerBalance.__table__
_accounts = LedgerAccount.__table__
_streams = OutboxStream.__table__
_fee_schedules = FeeSchedule.__table__
_builders = Builder.__table__
_stats = PositionStats.__table__
_withdrawals = CustodyWithdrawal.__table__
_deposits = Deposit.__table__


class Queries(ServiceParts):
    def get_user(self, user_id: int) -> UserView:
        user = self._user_where(_users.c.id == user_id)
        if user is None:
            raise errors.NotFound(f"user {user_id} not found", code="user_not_found")
        return user

    def get_user_by_name(self, name: str) -> UserView | None:
        return self._user_where(_users.c.name == name)

    def _user_where(self, cond) -> UserView | None:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_users).where(cond)).mappings().first()
        return UserView(r["id"], r["name"], r["kind"], r["wallet"], r["created_ms"]) if r else None

    def get_api_key(self, key_id: str) -> ApiKeyView | None:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_keys).where(_keys.c.key_id == key_id)).mappings().first()
        return self._key_view(r) if r else None

    def list_api_keys(self, user_id: int) -> list[ApiKeyView]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_keys).where(_keys.c.user_id == user_id).order_by(_keys.c.created_ms)).mappings().all()
        return [self._key_view(r) for r in rows]

    def _key_view(self, r) -> ApiKeyView:
        return ApiKeyView(r["key_id"], r["user_id"], r["name"], r["public_key_pem"], [s for s in r["scopes"].split(",") if s], r["created_ms"])

    def balance(self, user_id: int) -> BalanceView:
        with self.db.reader.connect() as conn:
            account = self.accounts.cached(L.USER, user_id)
            if account is None:
                account = conn.execute(select(_accounts.c.id).where(_accounts.c.kind == L.USER, _accounts.c.ref == str(user_id))).scalar_one_or_none()
            rows = conn.execute(select(_balances.c.asset, _balances.c.amount).where(_balances.c.account_id == account)).all() if account else []
        cash = 0
        value = 0
        for asset, amount in rows:
            if asset == L.CASH:
                cash = amount
            elif amount:
                kind, ticker = asset.split(":", 1)
                state = self.books.markets.get(ticker)
                mark = state.last_price if state and state.last_price is not None else ONE // 2
                if state and state.row["status"] == FINALIZED and state.row["yes_payout"] is not None:
                    mark = state.row["yes_payout"]
                value += cash_value_floor(mark if kind == "YES" else ONE - mark, amount)
        held = self.books.held(user_id)
        return BalanceView(balance=cash - held, cash=cash, held=held, portfolio_value=value, updated_ms=now_ms())

    def list_fee_schedules(self) -> list[FeeScheduleView]:
        with self.db.reader.connect() as conn:
            return [FeeScheduleView(r.id, r.name, r.taker_rate_ppm, r.maker_rate_ppm, r.maker_rebate_ppm)
                    for r in conn.execute(select(_fee_schedules).order_by(_fee_schedules.c.id))]

    def list_builders(self) -> list[BuilderView]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_builders)).mappings().all()
            balances = dict(conn.execute(
                select(_accounts.c.ref, _balances.c.amount).join(_accounts, _accounts.c.id == _balances.c.account_id)
                .where(_accounts.c.kind == L.BUILDER, _balances.c.asset == L.CASH)).all())
        return [BuilderView(r["code"], r["name"], r["share_ppm"], balances.get(r["code"], 0)) for r in rows]

    def get_market(self, ticker: str) -> MarketView:
        return self.books.market(ticker).view()

    def list_markets(self, *, event_ticker: str | None = None, series_ticker: str | None = None,
                     status: str | Iterable[str] | None = None, tickers: Iterable[str] | None = None,
                     min_close_ms: int | None = None, max_close_ms: int | None = None,
                     min_created_ms: int | None = None, max_created_ms: int | None = None,
                     min_updated_ms: int | None = None, max_updated_ms: int | None = None,
                     min_settled_ms: int | None = None, max_settled_ms: int | None = None,
                     cursor: str | None = None, limit: int | None = None) -> Page[MarketView]:
        """Markets ordered by ticker; `cursor` is the last ticker of the previous page. Every
        filter is in the query, so pages are full. Settled = finalized (holders paid)."""
        limit = page_limit(limit)
        q = select(_markets.c.ticker).order_by(_markets.c.ticker).limit(limit + 1)
        if event_ticker:
            q = q.where(_markets.c.event_ticker == event_ticker)
        if series_ticker:
            q = q.where(_markets.c.event_ticker.in_(select(_events.c.event_ticker).where(_events.c.series_ticker == series_ticker)))
        if status:
            q = q.where(_markets.c.status.in_([status] if isinstance(status, str) else list(status)))
        if tickers:
            q = q.where(_markets.c.ticker.in_(list(tickers)))
        for column, low, high in ((_markets.c.close_ms, min_close_ms, max_close_ms),
                                  (_markets.c.created_ms, min_created_ms, max_created_ms),
                                  (_markets.c.updated_ms, min_updated_ms, max_updated_ms),
                                  (_markets.c.finalized_ms, min_settled_ms, max_settled_ms)):
            if low is not None:
                q = q.where(column >= low)
            if high is not None:
                q = q.where(column <= high)
        if cursor:
            q = q.where(_markets.c.ticker > cursor)
        with self.db.reader.connect() as conn:
            names = [r[0] for r in conn.execute(q)]
        page = [self.get_market(t) for t in names[:limit]]
        return Page(page, names[limit - 1] if len(names) > limit else "")

    def get_series(self, ticker: str) -> SeriesView:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_series).where(_series.c.ticker == ticker)).mappings().first()
        if r is None:
            raise errors.NotFound(f"series {ticker} not found", code="series_not_found")
        return series_view(r)

    def list_series(self, *, category: str | None = None, cursor: str | None = None, limit: int | None = None) -> Page[SeriesView]:
        limit = page_limit(limit)
        q = select(_series).order_by(_series.c.ticker).limit(limit + 1)
        if category:
            q = q.where(_series.c.category == category)
        if cursor:
            q = q.where(_series.c.ticker > cursor)
        with self.db.reader.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return Page([series_view(r) for r in rows[:limit]], rows[limit - 1]["ticker"] if len(rows) > limit else "")

    def get_event(self, event_ticker: str, *, with_markets: bool = False) -> EventView:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_events).where(_events.c.event_ticker == event_ticker)).mappings().first()
        if r is None:
            raise errors.NotFound(f"event {event_ticker} not found", code="event_not_found")
        view = event_view(r)
        if with_markets:
            view.markets = self.list_markets(event_ticker=event_ticker, limit=MAX_LIMIT).items
        return view

    def list_events(self, *, series_ticker: str | None = None, status: str | None = None, with_markets: bool = False,
                    tickers: Iterable[str] | None = None, min_close_ms: int | None = None,
                    min_updated_ms: int | None = None, cursor: str | None = None,
                    limit: int | None = None) -> Page[EventView]:
        """Events ordered by ticker, every filter in the query (full pages). An event matches
        `status`, `min_close_ms` or `min_updated_ms` when one of its markets does."""
        limit = page_limit(limit)
        q = select(_events).order_by(_events.c.event_ticker).limit(limit + 1)
        if series_ticker:
            q = q.where(_events.c.series_ticker == series_ticker)
        if tickers:
            q = q.where(_events.c.event_ticker.in_(list(tickers)))
        for condition in ((_markets.c.status == status) if status else None,
                          (_markets.c.close_ms >= min_close_ms) if min_close_ms is not None else None,
                          (_markets.c.updated_ms >= min_updated_ms) if min_updated_ms is not None else None):
            if condition is not None:
                q = q.where(_events.c.event_ticker.in_(select(_markets.c.event_ticker).where(condition)))
        if cursor:
            q = q.where(_events.c.event_ticker > cursor)
        with self.db.reader.connect() as conn:
            rows = conn.execute(q).mappings().all()
        views = [event_view(r) for r in rows[:limit]]
        if with_markets:
            for v in views:
                v.markets = self.list_markets(event_ticker=v.event_ticker, limit=MAX_LIMIT).items
        return Page(views, rows[limit - 1]["event_ticker"] if len(rows) > limit else "")

    def orderbook(self, ticker: str, depth: int | None = None) -> OrderbookView:
        """YES bids and NO bids (= asks seen from NO), each ascending by its own price."""
        with self.unit_of_work.lock:
            state = self.books.market(ticker)
            bids, asks = state.book.levels(depth)
            seq = state.book_seq
        yes = sorted(bids)
        no = sorted((ONE - p, c) for p, c in asks)
        return OrderbookView(ticker, yes, no, seq)

    def trades(self, *, ticker: str | None = None, min_ms: int | None = None, max_ms: int | None = None,
               cursor: str | None = None, limit: int | None = None) -> Page[TradeView]:
        """Public trades, newest first."""
        q = select(_trades)
        if ticker:
            q = q.where(_trades.c.ticker == ticker)
        return newest_first(self.db.reader, q, _trades, _trades.c.created_ms, min_ms, max_ms, cursor, limit, trade_view)

    def _order_row(self, order_id: str) -> OrderView | None:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_orders).where(_orders.c.order_id == order_id)).mappings().first()
        return order_view(r) if r else None

    def get_order(self, user_id: int, order_id: str) -> OrderView:
        view = self._order_row(order_id)
        if view is None or view.user_id != user_id:
            raise errors.NotFound(f"order {order_id} not found", code="order_not_found")
        if view.status == RESTING and view.ticker in self.books.markets:
            view.queue_position = self.books.markets[view.ticker].book.queue_position(order_id)
        return view

    def list_orders(self, user_id: int, *, ticker: str | None = None, event_ticker: str | None = None,
                    status: str | None = None, min_ms: int | None = None, max_ms: int | None = None,
                    cursor: str | None = None, limit: int | None = None) -> Page[OrderView]:
        """A user's orders, newest first."""
        q = select(_orders).where(_orders.c.user_id == user_id)
        if ticker:
            q = q.where(_orders.c.ticker == ticker)
        if event_ticker:
            q = q.where(_orders.c.ticker.in_(select(_markets.c.ticker).where(_markets.c.event_ticker == event_ticker)))
        if status:
            q = q.where(_orders.c.status == status)
        return newest_first(self.db.reader, q, _orders, _orders.c.created_ms, min_ms, max_ms, cursor, limit, order_view)

    def queue_positions(self, user_id: int, *, ticker: str | None = None, event_ticker: str | None = None) -> list[QueuePosition]:
        with self.unit_of_work.lock:
            out = []
            for o in self.books.open.values():
                if o.user_id != user_id or (ticker and o.ticker != ticker):
                    continue
                state = self.books.markets[o.ticker]
                if event_ticker and state.row["event_ticker"] != event_ticker:
                    continue
                out.append(QueuePosition(o.order_id, o.ticker, state.book.queue_position(o.order_id) or 0))
        return out

    def fills(self, user_id: int, *, ticker: str | None = None, order_id: str | None = None, min_ms: int | None = None,
              max_ms: int | None = None, cursor: str | None = None, limit: int | None = None) -> Page[FillView]:
        q = select(_fills).where(_fills.c.user_id == user_id)
        if ticker:
            q = q.where(_fills.c.ticker == ticker)
        if order_id:
            q = q.where(_fills.c.order_id == order_id)
        return newest_first(self.db.reader, q, _fills, _fills.c.created_ms, min_ms, max_ms, cursor, limit, fill_view)

    def positions(self, user_id: int, *, ticker: str | None = None, event_ticker: str | None = None,
                  include_closed: bool = False, cursor: str | None = None,
                  limit: int | None = None) -> tuple[Page[PositionView], list[EventPositionView]]:
        """Market positions (Kalshi sign) and their per-event sums."""
        limit = page_limit(limit)
        with self.db.reader.connect() as conn:
            account = conn.execute(select(_accounts.c.id).where(_accounts.c.kind == L.USER,
                                                                  _accounts.c.ref == str(user_id))).scalar_one_or_none()
            held = dict(conn.execute(select(_balances.c.asset, _balances.c.amount).where(
                _balances.c.account_id == account)).all()) if account else {}
            stats = {r.ticker: r for r in conn.execute(select(_stats).where(_stats.c.user_id == user_id))}
            events_of = dict(conn.execute(select(_markets.c.ticker, _markets.c.event_ticker)).all())
        tickers = set(stats)
        for asset, amount in held.items():
            if asset != L.CASH and amount:
                tickers.add(asset.split(":", 1)[1])
        resting: dict[str, int] = defaultdict(int)
        for o in list(self.books.open.values()):
            if o.user_id == user_id:
                resting[o.ticker] += 1
                tickers.add(o.ticker)
        views = []
        for t in sorted(tickers):
            if (ticker and t != ticker) or (event_ticker and events_of.get(t) != event_ticker) or (cursor and t <= cursor):
                continue
            pos = held.get(L.yes_asset(t), 0) - held.get(L.no_asset(t), 0)
            s = stats.get(t)
            if not include_closed and pos == 0 and not resting[t] and (s is None or s.exposure == 0):
                continue
            views.append(PositionView(t, events_of.get(t, ""), pos, s.exposure if s else 0, s.total_traded if s else 0,
                                      s.realized_pnl if s else 0, s.fees_paid if s else 0, resting[t], s.updated_ms if s else 0))
        page = views[:limit]
        by_event: dict[str, EventPositionView] = {}
        for v in page:
            e = by_event.setdefault(v.event_ticker, EventPositionView(v.event_ticker, 0, 0, 0, 0, 0))
            e.exposure += v.exposure
            e.total_cost += v.total_traded
            e.realized_pnl += v.realized_pnl
            e.fees_paid += v.fees_paid
            e.resting_orders_count += v.resting_orders_count
        return Page(page, page[-1].ticker if len(views) > limit else ""), list(by_event.values())

    def settlements(self, user_id: int, *, ticker: str | None = None, event_ticker: str | None = None,
                    min_ms: int | None = None, max_ms: int | None = None, cursor: str | None = None,
                    limit: int | None = None) -> Page[SettlementView]:
        """A user's settlements, newest first, filtered in the query (pages are full)."""
        q = (select(_settlements, _markets.c.event_ticker).join(_markets, _markets.c.ticker == _settlements.c.ticker)
             .where(_settlements.c.user_id == user_id))
        if ticker:
            q = q.where(_settlements.c.ticker == ticker)
        if event_ticker:
            q = q.where(_markets.c.event_ticker == event_ticker)
        return newest_first(self.db.reader, q, _settlements, _settlements.c.settled_ms, min_ms, max_ms, cursor, limit, settlement_view)

    def get_order_group(self, user_id: int, group_id: str) -> OrderGroupView:
        with self.db.reader.connect() as conn:
            g = conn.execute(select(_groups).where(_groups.c.order_group_id == group_id)).mappings().first()
            if g is None or g["user_id"] != user_id or g["deleted"]:
                raise errors.NotFound(f"order group {group_id} not found", code="order_group_not_found")
            ids = [r[0] for r in conn.execute(select(_orders.c.order_id).where(_orders.c.order_group_id == group_id,
                                                                                _orders.c.status == RESTING))]
        return OrderGroupView(group_id, user_id, g["contracts_limit"], g["filled_count"], g["triggered"], ids, g["created_ms"])

    def list_order_groups(self, user_id: int) -> list[OrderGroupView]:
        with self.db.reader.connect() as conn:
            ids = [r[0] for r in conn.execute(select(_groups.c.order_group_id).where(
                _groups.c.user_id == user_id, _groups.c.deleted.is_(False)).order_by(_groups.c.id))]
        return [self.get_order_group(user_id, g) for g in ids]

    def get_withdrawal(self, user_id: int, withdrawal_id: str) -> WithdrawalView:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_withdrawals).where(_withdrawals.c.withdrawal_id == withdrawal_id)).mappings().first()
        if r is None or r["user_id"] != user_id:
            raise errors.NotFound(f"withdrawal {withdrawal_id} not found", code="withdrawal_not_found")
        return withdrawal_view(r)

    def list_withdrawals(self, user_id: int) -> list[WithdrawalView]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_withdrawals).where(_withdrawals.c.user_id == user_id)
                                .order_by(_withdrawals.c.id.desc())).mappings().all()
        return [withdrawal_view(r) for r in rows]

    def suspense_deposits(self) -> list[DepositView]:
        """Deposits whose reference named no user: what the suspense account holds."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_deposits).where(_deposits.c.user_id.is_(None)).order_by(_deposits.c.id)).mappings().all()
        return [DepositView(r["signature"], r["ix_index"], r["reference"], r["asset"], r["ticker"], r["amount"],
                            r["created_ms"]) for r in rows]

    def outbox_streams(self) -> dict[str, int]:
        """Every stream and its last sequence number."""
        with self.db.reader.connect() as conn:
            return dict(conn.execute(select(_streams.c.stream, _streams.c.last_seq)).all())

    def outbox_reader(self):
        """The bridge's reader of this service's outbox (exchange/outbox_reader.py)."""
        from exchange.outbox_reader import OutboxReader

        return OutboxReader(self)


def withdrawal_view(r) -> WithdrawalView:
    return WithdrawalView(r["withdrawal_id"], r["user_id"], r["ticker"], r["asset"], r["amount"], r["wallet"], r["status"],
                          r["signature"], r["created_ms"], r["updated_ms"])
