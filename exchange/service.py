"""`ExchangeService`: the one entry point of the API, the CLI and the workers.

It owns one matching engine per market in memory and the ledger in the database. Each
command runs under the serialised writer lock as ONE short database transaction:

    validate → engine → fills → ledger movements + fees + outbox → commit → ack/publish

and nothing is acknowledged or published before its commit. If the transaction fails,
the market's engine is rebuilt from the database, so memory never runs ahead of disk.
On start the engines are rebuilt from the resting orders (in their original priority)
and balances come from the ledger, so after kill -9 the book and every balance are
exactly what they were at the last acknowledged command.

Processes other than the trading server (CLI, bridge, indexer) may construct their own
service with `restore=False` for users, keys, funding, markets and outbox reads; the
trading server picks up markets created elsewhere on first use.
"""
from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import get_args

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange import errors
from exchange import outbox as X
from exchange import statements as Q
from exchange import wallet_orders
from exchange.db import Database, connect, open_database
from exchange.engine import Book, EngineFill, EngineResult
from exchange.fees import (
    ONE,
    FeeRates,
    charge_increment,
    fee_units,
    rebate_increment,
    share,
)
from exchange.holds import market_hold
from exchange.journal import Accounts, Journal, cash_value, post_match
from exchange.keys import check_rsa_public_key
from exchange.models import (
    ApiKey,
    Builder,
    CustodyWithdrawal,
    Deposit,
    Event,
    FeeSchedule,
    Fill,
    LedgerAccount,
    LedgerBalance,
    LedgerEntry,
    Market,
    Order,
    OrderGroup,
    OutboxEvent,
    OutboxStream,
    PositionStats,
    Series,
    Settlement,
    Trade,
    User,
)
from exchange.models import custody as C
from exchange.models import ledger as L
from exchange.models._base import now_ms
from exchange.paging import MAX_LIMIT, newest_first, page_limit
from exchange.positions import account_fill, affordable, cash_value_floor
from exchange.schemas import (
    ApiKeyView,
    BalanceView,
    BookDelta,
    BuilderView,
    DepositResult,
    DepositView,
    EventPositionView,
    EventView,
    FeeScheduleView,
    FillEvent,
    FillView,
    MarketEvent,
    MarketView,
    OrderbookView,
    OrderEvent,
    OrderGroupView,
    OrderRequest,
    OrderView,
    Page,
    PositionView,
    QueuePosition,
    SelfTradePrevention,
    SeriesView,
    SettlementView,
    TickerUpdate,
    TimeInForce,
    TradeEvent,
    TradeView,
    UserView,
    WithdrawalView,
)
from exchange.tickers import check_ticker
from exchange.units import CENT, DEFAULT_TICK, FINEST_TICK, LOT, MAX_UNITS
from exchange.views import (
    event_view,
    fill_view,
    order_view,
    series_view,
    settlement_view,
    trade_view,
)

log = logging.getLogger(__name__)

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
_accounts_t = LedgerAccount.__table__
_entries = LedgerEntry.__table__
_outbox = OutboxEvent.__table__
_streams = OutboxStream.__table__
_fee_schedules = FeeSchedule.__table__
_builders = Builder.__table__
_stats = PositionStats.__table__
_withdrawals = CustodyWithdrawal.__table__
_deposits = Deposit.__table__

ORDER_GROUP_WINDOW_MS = 15_000  # Kalshi: a group's limit counts contracts matched in a rolling 15 s
OPEN, HALTED, CLOSED, DETERMINED, FINALIZED = "open", "halted", "closed", "determined", "finalized"
RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"
WALLET = "wallet"  # users.kind of a Solana wallet trading through the bridge


def _uuid() -> str:
    return str(uuid.uuid4())


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
    row: dict
    book: Book
    rates: FeeRates
    book_seq: int = 0
    last_price: int | None = None
    volume: int = 0
    open_interest: int = 0


@dataclass
class _Group:
    """A group commit in progress (ExchangeService.run_group)."""

    conn: Connection | None = None
    events: list = field(default_factory=list)
    markets: set[str] = field(default_factory=set)  # to rebuild if the group rolls back


class _GroupAbort(Exception):
    """A command failed in a way that spoils the whole group's transaction or memory."""


@dataclass
class _Command:
    """Everything one order command writes, gathered before a single flush."""

    journal: Journal
    order_rows: list[dict] = field(default_factory=list)
    order_updates: list[dict] = field(default_factory=list)
    trade_rows: list[dict] = field(default_factory=list)
    fill_rows: list[dict] = field(default_factory=list)
    outbox: list[X.Record] = field(default_factory=list)  # one group, in the order the program needs
    stats: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # exposure, traded, pnl, fees
    group_fills: dict[str, int] = field(default_factory=dict)
    group_cancelled: list[str] = field(default_factory=list)
    triggered_groups: list[str] = field(default_factory=list)


class ExchangeService:
    def __init__(self, url: str, *, migrate: bool = True, restore: bool = True) -> None:
        self.db: Database = open_database(url) if migrate else connect(url)
        self._lock = threading.RLock()
        self._accounts = Accounts()
        self._markets: dict[str, MarketState] = {}
        self._open: dict[str, OpenOrder] = {}
        self._user_market_orders: dict[tuple[int, str], dict[str, OpenOrder]] = defaultdict(dict)
        self._holds: dict[int, dict[str, int]] = defaultdict(dict)
        self._positions: dict[tuple[int, str], int] = {}
        self._fee_schedules: dict[int, FeeRates] = {}
        self._builders: dict[str, int] = {}
        self._subscribers: list[Callable[[object], None]] = []
        self._user_names: dict[int, str] = {}
        self._writer: Connection | None = None  # the order path's connection, used under _lock
        self._group: _Group | None = None  # the open group commit, if any (see run_group)
        if restore:
            with self._lock:
                self._restore()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.db.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """THE unit of work: every write of the service runs in one of these. It takes the
        writer lock, opens one transaction on the writer's held connection (inside a group
        commit: the group's transaction) and owns the ledger-account cache: accounts the
        transaction created are kept only if it commits, and forgotten if it rolls back (a
        rolled-back id may be handed out again, on SQLite to the very next account).

        Holding the connection saves a pool checkout per command (the README has the figure)."""
        with self._lock:
            if self._group is not None and self._group.conn is not None:
                yield self._group.conn  # the group's own _transaction commits or rolls back
                return
            conn = self._writer
            if conn is None or conn.closed or conn.invalidated:
                if conn is not None:
                    conn.close()
                conn = self._writer = self.db.writer.connect()
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                self._accounts.drop_new()
                raise
            self._accounts.keep_new()

    # ------------------------------------------------------------------ pub/sub
    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        """Call `callback(event)` after each commit with BookDelta / TradeEvent / TickerUpdate /
        FillEvent / OrderEvent / MarketEvent objects; returns an unsubscribe function.

        Callbacks run on the committing thread, in commit order, and must not block
        (hand the event to a queue / `loop.call_soon_threadsafe`)."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _publish(self, events: list) -> None:
        if self._group is not None:  # published once the group has committed
            self._group.events.extend(events)
            return
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:  # a broken subscriber must not break trading
                    log.exception("subscriber failed")

    # ------------------------------------------------------------------ group commit
    def run_group(self, commands: list[Callable[[], object]]) -> list[object]:
        """Run order commands (place / batch place / cancel / batch cancel calls) in ONE
        transaction, in order; returns each one's result or the exception it raised.

        A group commits once for all of them and publishes nothing before that commit, so a
        caller must not acknowledge a command before this returns. Commands must be ones that
        read only through the group's transaction (not amend or decrease, which re-read
        orders through the reader). If anything but a clean refusal happens — a command
        fails after changing a book, or the commit fails — the group rolls back, the books
        it touched are rebuilt from the database, and every command runs again on its own."""
        if len(commands) == 1:
            return [self._run_alone(commands[0])]
        with self._lock:
            group = self._group = _Group()
            results: list[object] = []
            try:
                with self._transaction() as conn:
                    group.conn = conn
                    for command in commands:
                        try:
                            results.append(command())
                        except errors.ExchangeError as exc:  # refused before anything changed
                            results.append(exc)
            except Exception:
                log.warning("group commit of %d commands rolled back; running them one by one", len(commands), exc_info=True)
                self._group = None
                for ticker in group.markets:
                    self._load_market(ticker)
                return [self._run_alone(c) for c in commands]
            finally:
                self._group = None
        self._publish(group.events)
        return results

    @staticmethod
    def _run_alone(command: Callable[[], object]) -> object:
        try:
            return command()
        except Exception as exc:  # handed back to its caller, not to the whole group
            return exc

    # ------------------------------------------------------------------ restore
    def _restore(self) -> None:
        self._markets.clear()
        self._open.clear()
        self._user_market_orders.clear()
        self._holds.clear()
        self._positions.clear()
        self._accounts.forget()
        self._load_reference_data()
        with self.db.reader.connect() as conn:
            tickers = [r[0] for r in conn.execute(select(_markets.c.ticker))]
        for ticker in tickers:
            self._load_market(ticker)

    def _load_reference_data(self) -> None:
        with self.db.reader.connect() as conn:
            self._fee_schedules = {
                r.id: FeeRates(r.taker_rate_ppm, r.maker_rate_ppm, r.maker_rebate_ppm)
                for r in conn.execute(select(_fee_schedules))
            }
            self._builders = {r.code: r.share_ppm for r in conn.execute(select(_builders))}

    def _rates_for(self, row: dict) -> FeeRates:
        schedule = row.get("fee_schedule_id")
        if schedule is not None and schedule in self._fee_schedules:
            return self._fee_schedules[schedule]
        return FeeRates()

    def _load_market(self, ticker: str) -> MarketState | None:
        """(Re)build one market's engine, resting orders, holds and figures from the DB."""
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
                .join(_accounts_t, _accounts_t.c.id == _balances.c.account_id)
                .where(_accounts_t.c.kind == L.ISSUANCE, _accounts_t.c.ref == ticker, _balances.c.asset == L.yes_asset(ticker))
            ).scalar_one_or_none()
            users = {r["user_id"] for r in resting}
            positions = self._read_positions(conn, ticker, users) if users else {}
        # Drop whatever memory held for this market.
        for key in [k for k in self._user_market_orders if k[1] == ticker]:
            for order_id in self._user_market_orders.pop(key):
                self._open.pop(order_id, None)
            self._holds[key[0]].pop(ticker, None)
        book = Book(ticker, tick=row["tick"], lot=row["lot"])
        book.restore([(r["order_id"], r["user_id"], r["book_side"], r["price"], r["remaining_count"], r["engine_seq"],
                       r["self_trade_prevention"], r["post_only"], r["expiration_ms"]) for r in resting])
        old = self._markets.get(ticker)
        # A rebuild after a failed command keeps the WebSocket sequence: subscribers only ever saw
        # committed deltas, which is exactly the book rebuilt here.
        state = MarketState(row=row, book=book, rates=self._rates_for(row), last_price=last, volume=int(stats[1]),
                            open_interest=-(issuance or 0), book_seq=old.book_seq if old is not None else 0)
        self._markets[ticker] = state
        for r in resting:
            order = OpenOrder(r["order_id"], r["user_id"], ticker, r["book_side"], r["price"], r["remaining_count"],
                              r["order_group_id"], r["builder_code"], int(r["fee_units"]), int(r["rebate_units"]),
                              r["wallet_order"], r["side"], r["action"])
            self._open[order.order_id] = order
            self._user_market_orders[(order.user_id, ticker)][order.order_id] = order
        for user_id, pos in positions.items():
            self._positions[(user_id, ticker)] = pos
        for user_id in users:
            self._recompute_hold(user_id, ticker)
        return state

    def _market(self, ticker: str) -> MarketState:
        state = self._markets.get(ticker)
        if state is None:
            state = self._load_market(ticker)  # created by another process
            if state is None:
                raise errors.NotFound(f"market {ticker} not found", code="market_not_found")
        return state

    # ------------------------------------------------------------------ ledger helpers
    def _user_account(self, conn, user_id: int) -> int:
        return self._accounts.get(conn, L.USER, user_id)

    def _read_positions(self, conn, ticker: str, user_ids: Iterable[int]) -> dict[int, int]:
        """Kalshi-signed positions (YES − NO) of users in one market, from ledger balances."""
        user_ids = list(user_ids)
        rows = conn.execute(
            select(_accounts_t.c.ref, _balances.c.asset, _balances.c.amount)
            .join(_accounts_t, _accounts_t.c.id == _balances.c.account_id)
            .where(
                _accounts_t.c.kind == L.USER,
                _accounts_t.c.ref.in_([str(u) for u in user_ids]),
                _balances.c.asset.in_([L.yes_asset(ticker), L.no_asset(ticker)]),
            )
        )
        positions = dict.fromkeys(user_ids, 0)
        for ref, asset, amount in rows:
            positions[int(ref)] += amount if asset.startswith("YES:") else -amount
        return positions

    def _read_holdings(self, conn, ticker: str, user_ids: Iterable[int]) -> tuple[dict[int, int], dict[int, int]]:
        """(positions, cash) of users in one market, from ledger balances (the hot path)."""
        yes = L.yes_asset(ticker)
        params = {"cash": L.CASH, "yes": yes, "no": L.no_asset(ticker)}
        positions: dict[int, int] = {}
        cash: dict[int, int] = {}
        for user in user_ids:
            params["account"] = self._user_account(conn, user)
            positions[user] = cash[user] = 0
            for asset, amount in Q.HOLDINGS.rows(conn, params):
                if asset == L.CASH:
                    cash[user] = amount
                elif asset == yes:
                    positions[user] += amount
                else:
                    positions[user] -= amount
        return positions, cash

    def _read_cash(self, conn, user_id: int) -> int:
        account = self._accounts.cached(L.USER, user_id)
        if account is None:
            account = self._user_account(conn, user_id)
        return conn.execute(
            select(_balances.c.amount).where(_balances.c.account_id == account, _balances.c.asset == L.CASH)
        ).scalar_one_or_none() or 0

    def _recompute_hold(self, user_id: int, ticker: str) -> int:
        orders = self._user_market_orders.get((user_id, ticker))
        if not orders:
            self._holds[user_id].pop(ticker, None)
            self._user_market_orders.pop((user_id, ticker), None)
            return 0
        state = self._markets[ticker]
        bids = [(o.price, o.remaining) for o in orders.values() if o.book_side == "bid"]
        asks = [(o.price, o.remaining) for o in orders.values() if o.book_side == "ask"]
        hold = market_hold(self._positions.get((user_id, ticker), 0), bids, asks, state.rates)
        self._holds[user_id][ticker] = hold
        return hold

    def _held(self, user_id: int, exclude: str | None = None) -> int:
        return sum(v for t, v in self._holds.get(user_id, {}).items() if t != exclude)

    def _next_seqs(self, conn, stream: str, n: int) -> int:
        """Reserve n sequence numbers of a stream in this transaction; returns the first."""
        last = Q.RESERVE_SEQS.scalar(conn, {"b_stream": stream, "n": n})
        if last is None:
            Q.INSERT_STREAM.execute(conn, {"stream": stream, "last_seq": n}).close()
            last = n
        return last - n + 1

    def _write_outbox(self, conn, records: list[X.Record], ts: int, group: str | None = None) -> list[tuple[str, int]]:
        """Append `records` (exchange/outbox.py), in the order given, as ONE group (default: a
        fresh id); each gets its stream's next seq. Returns their (stream, seq)."""
        group = group or _uuid()
        by_stream: dict[str, list[X.Record]] = defaultdict(list)
        for record in records:
            by_stream[X.stream_of(record)].append(record)
        rows = []
        where: dict[int, tuple[str, int]] = {}
        for stream, items in by_stream.items():
            first = self._next_seqs(conn, stream, len(items))
            for i, record in enumerate(items):
                kind, payload = X.encode(record)
                where[id(record)] = (stream, first + i)
                rows.append({"stream": stream, "seq": first + i, "group_id": group, "kind": kind, "payload": payload,
                             "created_ms": ts, "status": X.PENDING, "signature": None, "slot": None, "applied_ms": None,
                             "finalized": False, "revert_reason": None})
        Q.INSERT_OUTBOX.executemany(conn, rows)
        return [where[id(r)] for r in records]

    # ------------------------------------------------------------------ users and keys
    def create_user(self, name: str, *, kind: str = "custodial", wallet: str | None = None) -> UserView:
        name = name.strip()
        if not name:
            raise errors.InvalidRequest("user name must not be empty")
        ts = now_ms()
        try:
            with self._transaction() as conn:
                user_id = conn.execute(
                    insert(_users).values(name=name, kind=kind, wallet=wallet, created_ms=ts).returning(_users.c.id)
                ).scalar_one()
                self._user_account(conn, user_id)
        except IntegrityError:
            raise errors.Conflict(f"user {name} already exists", code="user_exists") from None
        return UserView(user_id, name, kind, wallet, ts)

    def ensure_wallet(self, wallet: str) -> UserView:
        """The wallet account of a Solana wallet trading through the bridge (created on first use)."""
        existing = self._user_where(_users.c.wallet == wallet)
        return existing or self.create_user(f"wallet:{wallet}", kind="wallet", wallet=wallet)

    def _user_where(self, cond) -> UserView | None:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_users).where(cond)).mappings().first()
        return UserView(r["id"], r["name"], r["kind"], r["wallet"], r["created_ms"]) if r else None

    def get_user(self, user_id: int) -> UserView:
        user = self._user_where(_users.c.id == user_id)
        if user is None:
            raise errors.NotFound(f"user {user_id} not found", code="user_not_found")
        return user

    def get_user_by_name(self, name: str) -> UserView | None:
        return self._user_where(_users.c.name == name)

    def create_api_key(self, user_id: int, public_key_pem: str, name: str = "", scopes: Iterable[str] = ("read", "write")) -> str:
        """Store an RSA public key (PEM) for a user; returns the key id (KALSHI-ACCESS-KEY)."""
        check_rsa_public_key(public_key_pem)
        self.get_user(user_id)
        key_id = _uuid()
        with self._transaction() as conn:
            conn.execute(insert(_keys).values(key_id=key_id, user_id=user_id, name=name, public_key_pem=public_key_pem,
                                              scopes=",".join(scopes), created_ms=now_ms()))
        return key_id

    def _key_view(self, r) -> ApiKeyView:
        return ApiKeyView(r["key_id"], r["user_id"], r["name"], r["public_key_pem"], [s for s in r["scopes"].split(",") if s], r["created_ms"])

    def get_api_key(self, key_id: str) -> ApiKeyView | None:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_keys).where(_keys.c.key_id == key_id)).mappings().first()
        return self._key_view(r) if r else None

    def list_api_keys(self, user_id: int) -> list[ApiKeyView]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_keys).where(_keys.c.user_id == user_id).order_by(_keys.c.created_ms)).mappings().all()
        return [self._key_view(r) for r in rows]

    def delete_api_key(self, user_id: int, key_id: str) -> None:
        with self._transaction() as conn:
            deleted = conn.execute(_keys.delete().where(_keys.c.key_id == key_id, _keys.c.user_id == user_id)).rowcount
        if not deleted:
            raise errors.NotFound(f"API key {key_id} not found", code="api_key_not_found")

    # ------------------------------------------------------------------ cash and custody
    def fund(self, user_id: int, amount: int | None = None, *, cents: int | None = None, ref: str = "operator") -> BalanceView:
        """An operator cash deposit (collateral base units, or `cents=`). Custodial cash is
        backed on chain: for a custodial user the same transaction writes `custody_fund`, and
        the bridge moves that collateral from the operator's float into custody."""
        amount = self._amount(amount, cents)
        user = self.get_user(user_id)
        with self._transaction() as conn:
            j = Journal(_uuid(), now_ms())
            j.move(L.DEPOSIT, ref, L.CASH, self._accounts.get(conn, L.EXTERNAL), self._user_account(conn, user_id), amount)
            j.flush(conn)
            if user.kind != WALLET:
                self._write_outbox(conn, [X.CustodyFund(amount, user_id, j.journal_id)], j.now_ms, group=j.journal_id)
        return self.balance(user_id)

    def debit(self, user_id: int, amount: int | None = None, *, cents: int | None = None, ref: str = "operator",
              to_wallet: str | None = None) -> BalanceView:
        """An operator cash withdrawal; refused beyond the available balance. With `to_wallet`
        it is a custodial withdrawal of collateral to that Solana wallet (`withdraw`, which
        writes `custody_withdraw`); without, the cash leaves the ledger only (paid out off
        chain) and the collateral behind it stays in custody as surplus for `custody_sweep`."""
        amount = self._amount(amount, cents)
        if to_wallet is not None:
            self.withdraw(user_id, "cash", amount, to_wallet)
            return self.balance(user_id)
        self.get_user(user_id)
        with self._transaction() as conn:
            available = self._read_cash(conn, user_id) - self._held(user_id)
            if amount > available:
                raise errors.InsufficientBalance(f"balance {available} is less than {amount}")
            j = Journal(_uuid(), now_ms())
            j.move(L.WITHDRAWAL, ref, L.CASH, self._user_account(conn, user_id), self._accounts.get(conn, L.EXTERNAL), amount)
            j.flush(conn)
        return self.balance(user_id)

    def withdraw(self, user_id: int, asset: str, amount: int, wallet: str, ticker: str | None = None) -> WithdrawalView:
        """A custodial withdrawal to a Solana wallet: YES/NO of `ticker` (contract base units)
        or cash (`ticker` None, collateral base units). Refused beyond what is free (cash:
        the available balance; YES/NO: the position less what resting orders would sell of
        it), with nothing written. Writes `custody_withdraw`; the withdrawal is `pending`
        until the bridge applies it (`sent`, with the signature), then `finalized`."""
        if asset not in ("yes", "no", "cash"):
            raise errors.InvalidRequest("asset must be yes, no or cash", code="invalid_parameters")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_UNITS:
            raise errors.InvalidRequest("amount must be a positive integer of base units", code="invalid_parameters")
        _check_wallet(wallet)
        if asset == "cash":
            if ticker is not None:
                raise errors.InvalidRequest("a cash withdrawal names no ticker", code="invalid_parameters")
        else:
            check_ticker(ticker)
        user = self.get_user(user_id)
        if user.kind == WALLET:
            raise errors.InvalidRequest("wallet accounts hold their tokens themselves; nothing to withdraw",
                                        code="invalid_parameters")
        with self._transaction() as conn:
            ts = now_ms()
            j = Journal(_uuid(), ts)
            account = self._user_account(conn, user_id)
            if asset == "cash":
                available = self._read_cash(conn, user_id) - self._held(user_id)
                if amount > available:
                    raise errors.InsufficientBalance(f"only {max(0, available)} cash free to withdraw, not {amount}")
                ledger_asset = L.CASH
            else:
                state = self._market(ticker)
                if amount % state.row["lot"]:
                    raise errors.InvalidRequest(f"amount must be a multiple of the lot {state.row['lot']}", code="invalid_count")
                pos = self._read_positions(conn, ticker, [user_id])[user_id]
                held = pos if asset == "yes" else -pos
                committed = sum(o.remaining for o in self._user_market_orders.get((user_id, ticker), {}).values()
                                if o.book_side == ("ask" if asset == "yes" else "bid"))
                if amount > held - committed:
                    raise errors.InsufficientBalance(f"only {max(0, held - committed)} {asset.upper()} free to withdraw, not {amount}")
                ledger_asset = L.yes_asset(ticker) if asset == "yes" else L.no_asset(ticker)
            j.move(L.WITHDRAWAL, wallet, ledger_asset, account, self._accounts.get(conn, L.EXTERNAL), amount)
            j.flush(conn)
            withdrawal_id = _uuid()
            [(stream, seq)] = self._write_outbox(
                conn, [X.CustodyWithdraw(ticker, asset, amount, wallet, withdrawal_id, user_id)], ts, group=j.journal_id)
            conn.execute(insert(_withdrawals).values(
                withdrawal_id=withdrawal_id, user_id=user_id, ticker=ticker, asset=asset, amount=amount, wallet=wallet,
                status=C.PENDING, stream=stream, seq=seq, signature=None, journal_id=j.journal_id, created_ms=ts, updated_ms=ts))
        if asset != "cash":
            self._positions[(user_id, ticker)] = pos - amount if asset == "yes" else pos + amount
            self._recompute_hold(user_id, ticker)
        return WithdrawalView(withdrawal_id, user_id, ticker, asset, amount, wallet, C.PENDING, None, ts, ts)

    def withdraw_position(self, user_id: int, ticker: str, side: str, count: int, wallet: str) -> WithdrawalView:
        """Move a custodial YES/NO position out to a Solana wallet (`withdraw`)."""
        if side not in ("yes", "no"):
            raise errors.InvalidRequest("side must be yes or no", code="invalid_parameters")
        return self.withdraw(user_id, side, count, wallet, ticker)

    def get_withdrawal(self, user_id: int, withdrawal_id: str) -> WithdrawalView:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_withdrawals).where(_withdrawals.c.withdrawal_id == withdrawal_id)).mappings().first()
        if r is None or r["user_id"] != user_id:
            raise errors.NotFound(f"withdrawal {withdrawal_id} not found", code="withdrawal_not_found")
        return _withdrawal_view(r)

    def list_withdrawals(self, user_id: int) -> list[WithdrawalView]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_withdrawals).where(_withdrawals.c.user_id == user_id)
                                .order_by(_withdrawals.c.id.desc())).mappings().all()
        return [_withdrawal_view(r) for r in rows]

    def deposit_reference(self, user_id: int) -> str:
        """The user's 16-byte custodial account reference (32 hex characters) that wallets name
        in the program's `deposit_*` instructions; random, made on first ask, then fixed."""
        user = self.get_user(user_id)
        if user.kind == WALLET:
            raise errors.InvalidRequest("wallet accounts have no deposit reference", code="invalid_parameters")
        with self.db.reader.connect() as conn:
            reference = conn.execute(select(_users.c.deposit_reference).where(_users.c.id == user_id)).scalar_one()
        if reference is not None:
            return reference
        with self._transaction() as conn:  # "IS NULL": a process that raced us keeps its reference
            conn.execute(update(_users).where(_users.c.id == user_id, _users.c.deposit_reference.is_(None))
                         .values(deposit_reference=secrets.token_hex(16)))
            return conn.execute(select(_users.c.deposit_reference).where(_users.c.id == user_id)).scalar_one()

    def credit_deposit(self, signature: str, ix_index: int, reference: str, asset: str, ticker: str | None,
                       amount: int) -> DepositResult:
        """Credit a `deposit_*` the indexer saw finalized, once per (signature, instruction
        index): a repeat is a no-op that says so (`credited` False). The 16-byte `reference`
        (hex) names the custodial user; an unknown one credits the suspense account
        (`suspense_deposits`). A token deposit to a user holding the other side is netted
        at once (Kalshi: YES or NO, never both): custody merges the pairs (`custody_merge_set`)."""
        if not isinstance(signature, str) or not 0 < len(signature) <= 100:
            raise errors.InvalidRequest("signature must be 1-100 characters", code="invalid_parameters")
        if isinstance(ix_index, bool) or not isinstance(ix_index, int) or not 0 <= ix_index < 2**31:
            raise errors.InvalidRequest("ix_index must be a non-negative integer", code="invalid_parameters")
        if not isinstance(reference, str) or len(reference) != 32 or any(c not in "0123456789abcdef" for c in reference.lower()):
            raise errors.InvalidRequest("reference must be 32 hex characters (16 bytes)", code="invalid_parameters")
        reference = reference.lower()
        if asset not in ("yes", "no", "cash"):
            raise errors.InvalidRequest("asset must be yes, no or cash", code="invalid_parameters")
        if (asset == "cash") != (ticker is None):
            raise errors.InvalidRequest("a token deposit names its ticker, a cash deposit none", code="invalid_parameters")
        if ticker is not None:
            check_ticker(ticker)
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_UNITS:
            raise errors.InvalidRequest("amount must be a positive integer of base units", code="invalid_parameters")
        key = {"signature": signature, "ix_index": ix_index}
        try:
            with self._transaction() as conn:
                done = conn.execute(select(_deposits).where(_deposits.c.signature == signature,
                                                            _deposits.c.ix_index == ix_index)).mappings().first()
                if done is not None:
                    return DepositResult(False, done["user_id"], done["user_id"] is None, "already credited", **key)
                user_id = conn.execute(select(_users.c.id).where(_users.c.deposit_reference == reference)).scalar_one_or_none()
                state = None
                if ticker is not None and user_id is not None:
                    state = self._markets.get(ticker) or self._load_market(ticker)
                    if state is None:  # tokens of a market the exchange does not know: suspense
                        user_id = None
                ts = now_ms()
                j = Journal(_uuid(), ts)
                ledger_asset = L.CASH if asset == "cash" else (L.yes_asset(ticker) if asset == "yes" else L.no_asset(ticker))
                to = self._user_account(conn, user_id) if user_id is not None else self._accounts.get(conn, L.SUSPENSE)
                # ledger_entries.ref is 64 characters and a signature up to 88: its head names it (deposits has the key)
                ref = f"{signature[:40]}:{ix_index}"
                j.move(L.DEPOSIT, ref, ledger_asset, self._accounts.get(conn, L.EXTERNAL), to, amount)
                merged = 0
                if state is not None:
                    pos = self._read_positions(conn, ticker, [user_id])[user_id]
                    yes_held, no_held = max(pos, 0), max(-pos, 0)
                    if asset == "yes":
                        merged = min(amount, no_held)
                        pos += amount
                    else:
                        merged = min(amount, yes_held)
                        pos -= amount
                    if merged:  # the deposit closes the other side: custody retires the pairs
                        issuance = self._accounts.get(conn, L.ISSUANCE, ticker)
                        ref = f"net:{ref}"
                        j.move(L.MERGE, ref, L.yes_asset(ticker), to, issuance, merged)
                        j.move(L.MERGE, ref, L.no_asset(ticker), to, issuance, merged)
                        j.move(L.MERGE, ref, L.CASH, self._accounts.get(conn, L.COLLATERAL, ticker), to, merged)
                j.flush(conn)
                if merged:
                    self._write_outbox(conn, [X.CustodyMergeSet(ticker, merged, j.journal_id)], ts, group=j.journal_id)
                conn.execute(insert(_deposits).values(reference=reference, asset=asset, ticker=ticker, amount=amount,
                                                      user_id=user_id, journal_id=j.journal_id, created_ms=ts, **key))
        except IntegrityError:  # another process credited it between our check and our insert
            return DepositResult(False, None, False, "already credited", **key)
        if state is not None:
            self._positions[(user_id, ticker)] = pos
            state.open_interest -= merged
            self._recompute_hold(user_id, ticker)
        return DepositResult(True, user_id, user_id is None, "credited to suspense" if user_id is None else "credited", **key)

    def suspense_deposits(self) -> list[DepositView]:
        """Deposits whose reference named no user: what the suspense account holds."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_deposits).where(_deposits.c.user_id.is_(None)).order_by(_deposits.c.id)).mappings().all()
        return [DepositView(r["signature"], r["ix_index"], r["reference"], r["asset"], r["ticker"], r["amount"],
                            r["created_ms"]) for r in rows]

    @staticmethod
    def _amount(amount: int | None, cents: int | None) -> int:
        if (amount is None) == (cents is None):
            raise errors.InvalidRequest("give exactly one of amount or cents")
        value = amount if amount is not None else cents * CENT  # type: ignore[operator]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_UNITS:
            raise errors.InvalidRequest("amount must be a positive integer of base units")
        return value

    def balance(self, user_id: int) -> BalanceView:
        with self.db.reader.connect() as conn:
            account = self._accounts.cached(L.USER, user_id)
            if account is None:
                account = conn.execute(select(_accounts_t.c.id).where(_accounts_t.c.kind == L.USER, _accounts_t.c.ref == str(user_id))).scalar_one_or_none()
            rows = conn.execute(select(_balances.c.asset, _balances.c.amount).where(_balances.c.account_id == account)).all() if account else []
        cash = 0
        value = 0
        for asset, amount in rows:
            if asset == L.CASH:
                cash = amount
            elif amount:
                kind, ticker = asset.split(":", 1)
                state = self._markets.get(ticker)
                mark = state.last_price if state and state.last_price is not None else ONE // 2
                if state and state.row["status"] == FINALIZED and state.row["yes_payout"] is not None:
                    mark = state.row["yes_payout"]
                value += cash_value_floor(mark if kind == "YES" else ONE - mark, amount)
        held = self._held(user_id)
        return BalanceView(balance=cash - held, cash=cash, held=held, portfolio_value=value, updated_ms=now_ms())

    # ------------------------------------------------------------------ fee schedules and builders
    def set_fee_schedule(self, name: str, taker_rate_ppm: int, maker_rate_ppm: int = 0, maker_rebate_ppm: int = 0,
                         *, ticker: str | None = None, series_ticker: str | None = None) -> FeeScheduleView:
        """Create or update a named schedule; optionally attach it to a market or a series."""
        try:
            rates = FeeRates(taker_rate_ppm, maker_rate_ppm, maker_rebate_ppm)  # validates
        except ValueError as exc:  # the pure fee math refuses it; to the caller it is a bad request
            raise errors.InvalidRequest(str(exc), code="invalid_parameters") from None
        ts = now_ms()
        with self._lock:
            with self._transaction() as conn:
                existing = conn.execute(select(_fee_schedules.c.id).where(_fee_schedules.c.name == name)).scalar_one_or_none()
                if existing is None:
                    schedule_id = conn.execute(insert(_fee_schedules).values(
                        name=name, taker_rate_ppm=taker_rate_ppm, maker_rate_ppm=maker_rate_ppm,
                        maker_rebate_ppm=maker_rebate_ppm, created_ms=now_ms()).returning(_fee_schedules.c.id)).scalar_one()
                else:
                    schedule_id = existing
                    conn.execute(update(_fee_schedules).where(_fee_schedules.c.id == existing).values(
                        taker_rate_ppm=taker_rate_ppm, maker_rate_ppm=maker_rate_ppm, maker_rebate_ppm=maker_rebate_ppm))
                if ticker is not None:
                    if not conn.execute(update(_markets).where(_markets.c.ticker == ticker).values(
                            fee_schedule_id=schedule_id, updated_ms=ts)).rowcount:
                        raise errors.NotFound(f"market {ticker} not found", code="market_not_found")
                if series_ticker is not None:
                    if not conn.execute(update(_series).where(_series.c.ticker == series_ticker).values(fee_schedule_id=schedule_id)).rowcount:
                        raise errors.NotFound(f"series {series_ticker} not found", code="series_not_found")
            self._fee_schedules[schedule_id] = rates
            for state in self._markets.values():
                if ticker == state.row["ticker"]:
                    state.row.update(fee_schedule_id=schedule_id, updated_ms=ts)
                if series_ticker == state.row["series_ticker"] and state.row.get("fee_schedule_id") is None:
                    state.row["fee_schedule_id"] = schedule_id
                state.rates = self._rates_for(state.row)
        return FeeScheduleView(schedule_id, name, taker_rate_ppm, maker_rate_ppm, maker_rebate_ppm)

    def list_fee_schedules(self) -> list[FeeScheduleView]:
        with self.db.reader.connect() as conn:
            return [FeeScheduleView(r.id, r.name, r.taker_rate_ppm, r.maker_rate_ppm, r.maker_rebate_ppm)
                    for r in conn.execute(select(_fee_schedules).order_by(_fee_schedules.c.id))]

    def create_builder(self, code: str, share_ppm: int, name: str = "") -> BuilderView:
        if not code or not 0 <= share_ppm <= ONE:
            raise errors.InvalidRequest("builder needs a code and a share between 0 and 1_000_000 ppm")
        with self._lock:
            try:
                with self._transaction() as conn:
                    conn.execute(insert(_builders).values(code=code, name=name, share_ppm=share_ppm, created_ms=now_ms()))
                    self._accounts.get(conn, L.BUILDER, code)
            except IntegrityError:
                raise errors.Conflict(f"builder {code} already exists", code="builder_exists") from None
            self._builders[code] = share_ppm
        return BuilderView(code, name, share_ppm, 0)

    def list_builders(self) -> list[BuilderView]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_builders)).mappings().all()
            balances = dict(conn.execute(
                select(_accounts_t.c.ref, _balances.c.amount).join(_accounts_t, _accounts_t.c.id == _balances.c.account_id)
                .where(_accounts_t.c.kind == L.BUILDER, _balances.c.asset == L.CASH)).all())
        return [BuilderView(r["code"], r["name"], r["share_ppm"], balances.get(r["code"], 0)) for r in rows]

    # ------------------------------------------------------------------ series, events, markets
    def create_series(self, ticker: str, title: str = "", *, category: str = "", frequency: str = "custom",
                      tags: Iterable[str] = (), fee_schedule_id: int | None = None) -> SeriesView:
        if not ticker:
            raise errors.InvalidRequest("series ticker must not be empty")
        ts = now_ms()
        try:
            with self._transaction() as conn:
                conn.execute(insert(_series).values(ticker=ticker, title=title, category=category, frequency=frequency,
                                                    tags=",".join(tags), fee_schedule_id=fee_schedule_id, created_ms=ts))
        except IntegrityError:
            raise errors.Conflict(f"series {ticker} already exists (or bad fee schedule)", code="series_exists") from None
        return SeriesView(ticker, title, category, frequency, list(tags), fee_schedule_id, ts)

    def create_event(self, event_ticker: str, series_ticker: str, title: str = "", *, sub_title: str = "",
                     category: str = "", mutually_exclusive: bool = False) -> EventView:
        if not event_ticker:
            raise errors.InvalidRequest("event ticker must not be empty")
        ts = now_ms()
        with self._transaction() as conn:
            if conn.execute(select(_series.c.ticker).where(_series.c.ticker == series_ticker)).first() is None:
                raise errors.NotFound(f"series {series_ticker} not found", code="series_not_found")
            if conn.execute(select(_events.c.event_ticker).where(_events.c.event_ticker == event_ticker)).first():
                raise errors.Conflict(f"event {event_ticker} already exists", code="event_exists")
            conn.execute(insert(_events).values(event_ticker=event_ticker, series_ticker=series_ticker, title=title,
                                                sub_title=sub_title, category=category,
                                                mutually_exclusive=mutually_exclusive, created_ms=ts))
        return EventView(event_ticker, series_ticker, title, sub_title, category, mutually_exclusive, ts)

    def create_market(self, ticker: str, event_ticker: str | None = None, title: str = "", *, close_ms: int,
                      open_ms: int | None = None, subtitle: str = "", yes_sub_title: str = "", no_sub_title: str = "",
                      rules_primary: str = "", tick: int = DEFAULT_TICK, lot: int = LOT,
                      fee_schedule_id: int | None = None, series_ticker: str | None = None) -> MarketView:
        """A market; without `event_ticker` its own event and series are created too (named after it)."""
        check_ticker(ticker)  # the program's rule: a market the chain would refuse is never written
        if tick <= 0 or ONE % tick or tick % FINEST_TICK:
            raise errors.InvalidRequest("tick must divide $1 and be a multiple of $0.0001")
        if lot <= 0 or ONE % lot or lot % LOT:
            raise errors.InvalidRequest("lot must divide one contract and be a multiple of 0.01 contract")
        ts = now_ms()
        open_ms = ts if open_ms is None else open_ms
        if close_ms <= open_ms:
            raise errors.InvalidRequest("close time must be after open time")
        with self._lock:
            try:
                with self._transaction() as conn:
                    if conn.execute(select(_markets.c.ticker).where(_markets.c.ticker == ticker)).first():
                        raise errors.Conflict(f"market {ticker} already exists", code="market_exists")
                    if event_ticker is None:
                        event_ticker = ticker
                        series_ticker = series_ticker or ticker
                        if conn.execute(select(_series.c.ticker).where(_series.c.ticker == series_ticker)).first() is None:
                            conn.execute(insert(_series).values(ticker=series_ticker, title=title, category="", frequency="custom",
                                                                tags="", created_ms=ts))
                        if conn.execute(select(_events.c.event_ticker).where(_events.c.event_ticker == event_ticker)).first() is None:
                            conn.execute(insert(_events).values(event_ticker=event_ticker, series_ticker=series_ticker, title=title,
                                                                sub_title="", category="", mutually_exclusive=False, created_ms=ts))
                    elif conn.execute(select(_events.c.event_ticker).where(_events.c.event_ticker == event_ticker)).first() is None:
                        raise errors.NotFound(f"event {event_ticker} not found", code="event_not_found")
                    conn.execute(insert(_markets).values(
                        ticker=ticker, event_ticker=event_ticker, title=title, subtitle=subtitle, yes_sub_title=yes_sub_title,
                        no_sub_title=no_sub_title, rules_primary=rules_primary, status=OPEN, open_ms=open_ms, close_ms=close_ms,
                        tick=tick, lot=lot, yes_payout=None, fee_schedule_id=fee_schedule_id, created_ms=ts, updated_ms=ts))
                    self._accounts.get(conn, L.COLLATERAL, ticker)
                    self._accounts.get(conn, L.ISSUANCE, ticker)
                    self._write_outbox(conn, [X.CreateMarket(ticker, close_time=close_ms // 1000 + X.CHAIN_CLOSE_GRACE_S,
                                                               tick_size=tick)], ts)
            except IntegrityError:
                raise errors.InvalidRequest("market refers to an unknown fee schedule") from None
            state = self._load_market(ticker)
        view = self._market_view(state)
        self._publish([MarketEvent(ticker, "created", view)])
        return view

    def _set_status(self, ticker: str, allowed_from: tuple[str, ...], status: str, record: X.Record,
                    extra: dict | None = None) -> MarketView:
        with self._lock:
            state = self._market(ticker)
            if state.row["status"] not in allowed_from:
                raise errors.MarketNotOpen(f"market {ticker} is {state.row['status']}, cannot become {status}",
                                           code="invalid_market_status")
            ts = now_ms()
            values = {"status": status, "updated_ms": ts, **(extra or {})}
            with self._transaction() as conn:
                conn.execute(update(_markets).where(_markets.c.ticker == ticker).values(**values))
                self._write_outbox(conn, [record], ts)
            state.row.update(values)
            view = self._market_view(state)
        self._publish([MarketEvent(ticker, status, view), TickerUpdate(view)])
        return view

    def halt(self, ticker: str) -> MarketView:
        return self._set_status(ticker, (OPEN,), HALTED, X.Halt(ticker))

    def resume(self, ticker: str) -> MarketView:
        return self._set_status(ticker, (HALTED,), OPEN, X.Resume(ticker))

    def close_market(self, ticker: str) -> MarketView:
        """Close trading: every resting order is cancelled in the same transaction."""
        with self._lock:
            state = self._market(ticker)
            if state.row["status"] not in (OPEN, HALTED):
                raise errors.MarketNotOpen(f"market {ticker} is {state.row['status']}", code="invalid_market_status")
            order_ids = [o for o, v in self._open.items() if v.ticker == ticker]
            events = self._cancel_many(order_ids, reason="market_closed")[1] if order_ids else []
            view = self._set_status(ticker, (OPEN, HALTED), CLOSED, X.CloseMarket(ticker))
        self._publish(events)
        return view

    def close_expired_markets(self, now: int | None = None) -> list[str]:
        """Close every open/halted market whose close time passed (call periodically)."""
        now = now_ms() if now is None else now
        closed = []
        for ticker, state in list(self._markets.items()):
            if state.row["status"] in (OPEN, HALTED) and state.row["close_ms"] <= now:
                self.close_market(ticker)
                closed.append(ticker)
        return closed

    def determine(self, ticker: str, yes_payout: int) -> MarketView:
        """Set the result: YES pays `yes_payout` (0..1_000_000), NO pays the rest. May be
        called again to correct it until `finalize`."""
        if not isinstance(yes_payout, int) or not 0 <= yes_payout <= ONE:
            raise errors.InvalidRequest("yes_payout must be an integer between 0 and 1_000_000")
        state = self._market(ticker)
        if state.row["status"] in (OPEN, HALTED):
            self.close_market(ticker)
        return self._set_status(ticker, (CLOSED, DETERMINED), DETERMINED, X.Determine(ticker, yes_payout),
                                {"yes_payout": yes_payout, "determined_ms": now_ms()})

    def finalize(self, ticker: str) -> MarketView:
        """Settle a determined market: every holder's YES and NO are retired for their payout
        (ledger movements + a settlement row per holder), then the market is finalized."""
        with self._lock:
            state = self._market(ticker)
            if state.row["status"] != DETERMINED:
                raise errors.MarketNotOpen(f"market {ticker} is {state.row['status']}, not determined", code="invalid_market_status")
            payout = state.row["yes_payout"]
            ts = now_ms()
            yes, no = L.yes_asset(ticker), L.no_asset(ticker)
            with self._transaction() as conn:
                holders = conn.execute(
                    select(_accounts_t.c.id, _accounts_t.c.ref, _balances.c.asset, _balances.c.amount)
                    .join(_accounts_t, _accounts_t.c.id == _balances.c.account_id)
                    .where(_accounts_t.c.kind == L.USER, _balances.c.asset.in_([yes, no]), _balances.c.amount != 0)
                ).all()
                stats = {r.user_id: r for r in conn.execute(select(_stats).where(_stats.c.ticker == ticker))}
                per_user: dict[int, dict] = {}
                for account_id, ref, asset, amount in holders:
                    entry = per_user.setdefault(int(ref), {"account": account_id, "yes": 0, "no": 0})
                    entry["yes" if asset == yes else "no"] += amount
                j = Journal(_uuid(), ts)
                collateral = self._accounts.get(conn, L.COLLATERAL, ticker)
                issuance = self._accounts.get(conn, L.ISSUANCE, ticker)
                rows = []
                for user_id, h in sorted(per_user.items()):
                    ref = f"settle:{ticker}"
                    j.move(L.SETTLEMENT, ref, yes, h["account"], issuance, h["yes"])
                    j.move(L.SETTLEMENT, ref, no, h["account"], issuance, h["no"])
                    revenue = cash_value_floor(payout, h["yes"]) + cash_value_floor(ONE - payout, h["no"])
                    j.move(L.SETTLEMENT, ref, L.CASH, collateral, h["account"], revenue)
                    st = stats.get(user_id)
                    exposure = st.exposure if st else 0
                    rows.append({"user_id": user_id, "ticker": ticker, "yes_count": h["yes"], "no_count": h["no"],
                                 "yes_total_cost": exposure if h["yes"] else 0, "no_total_cost": exposure if h["no"] else 0,
                                 "yes_payout": payout, "revenue": revenue, "fee_cost": st.fees_paid if st else 0, "settled_ms": ts})
                # Rounding dust of split payouts stays in collateral: sweep it to the treasury.
                remaining = conn.execute(select(_balances.c.amount).where(_balances.c.account_id == collateral,
                                                                           _balances.c.asset == L.CASH)).scalar_one_or_none() or 0
                dust = remaining + j.delta(collateral, L.CASH)
                if dust:
                    j.move(L.SETTLEMENT, f"dust:{ticker}", L.CASH, collateral, self._accounts.get(conn, L.TREASURY), dust)
                j.flush(conn)
                if rows:
                    conn.execute(insert(_settlements), rows)
                    conn.execute(update(_stats).where(_stats.c.ticker == ticker).values(exposure=0, updated_ms=ts))
                conn.execute(update(_markets).where(_markets.c.ticker == ticker).values(status=FINALIZED, finalized_ms=ts,
                                                                                        updated_ms=ts))
                self._write_outbox(conn, [X.Finalize(ticker)], ts, group=j.journal_id)
            state.row.update(status=FINALIZED, finalized_ms=ts, updated_ms=ts)
            state.open_interest = 0
            for user_id in per_user:
                self._positions[(user_id, ticker)] = 0
            view = self._market_view(state)
        self._publish([MarketEvent(ticker, FINALIZED, view), TickerUpdate(view)])
        return view

    # ------------------------------------------------------------------ reads: markets
    def _market_view(self, state: MarketState) -> MarketView:
        r = state.row
        top = state.book.top()
        return MarketView(
            ticker=r["ticker"], event_ticker=r["event_ticker"], series_ticker=r["series_ticker"], title=r["title"],
            subtitle=r["subtitle"], yes_sub_title=r["yes_sub_title"], no_sub_title=r["no_sub_title"],
            rules_primary=r["rules_primary"], status=r["status"], open_ms=r["open_ms"], close_ms=r["close_ms"],
            tick=r["tick"], lot=r["lot"], yes_payout=r["yes_payout"], fee_schedule_id=r.get("fee_schedule_id"),
            created_ms=r["created_ms"], determined_ms=r["determined_ms"], finalized_ms=r["finalized_ms"],
            updated_ms=r["updated_ms"],
            yes_bid=top[0], yes_bid_size=top[1], yes_ask=top[2], yes_ask_size=top[3], last_price=state.last_price,
            volume=state.volume, volume_24h=state.volume, open_interest=state.open_interest,
        )

    def get_market(self, ticker: str) -> MarketView:
        return self._market_view(self._market(ticker))

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
        with self._lock:
            state = self._market(ticker)
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

    # ------------------------------------------------------------------ orders
    def place_order(self, user_id: int, request: OrderRequest) -> tuple[OrderView, list[FillView]]:
        """Validate, match, post, commit; returns the order as it stands and its fills."""
        with self._lock:
            result = self._place(user_id, request)
        self._publish(result[2])
        return result[0], result[1]

    def batch_place(self, user_id: int, requests: list[OrderRequest]) -> list[tuple[OrderView, list[FillView]] | errors.ExchangeError]:
        """Each order on its own (Kalshi's batch): a refused one does not stop the others."""
        out: list = []
        events: list = []
        with self._lock:
            for request in requests:
                try:
                    order, fills, published = self._place(user_id, request)
                    out.append((order, fills))
                    events.extend(published)
                except errors.ExchangeError as exc:
                    out.append(exc)
        self._publish(events)
        return out

    def _validate(self, state: MarketState, user_id: int, req: OrderRequest, now: int) -> None:
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
        if req.builder_code is not None and req.builder_code not in self._builders:
            raise errors.InvalidRequest(f"unknown builder {req.builder_code}", code="builder_not_found")
        if req.buy_max_cost is not None and req.buy_max_cost <= 0:
            raise errors.InvalidRequest("buy_max_cost must be positive")

    def _place(self, user_id: int, req: OrderRequest, replaces: OpenOrder | None = None):
        ts = now_ms()
        state = self._market(req.ticker)
        self._validate(state, user_id, req, ts)
        ticker = req.ticker
        order_id = _uuid()
        book_changed = False
        try:
            with self._transaction() as conn:
                if req.client_order_id is not None and Q.ORDER_BY_CLIENT_ID.scalar(
                        conn, {"user_id": user_id, "client_order_id": req.client_order_id}) is not None:
                    raise errors.Conflict(f"client_order_id {req.client_order_id} already used", code="order_already_exists")
                if req.order_group_id is not None:
                    group = Q.ORDER_GROUP.mappings(conn, {"order_group_id": req.order_group_id})
                    if not group or group[0]["user_id"] != user_id or group[0]["deleted"]:
                        raise errors.NotFound(f"order group {req.order_group_id} not found", code="order_group_not_found")
                    if group[0]["triggered"]:
                        raise errors.InvalidRequest("order group hit its contracts limit; reset it first", code="order_group_triggered")
                positions, cashes = self._read_holdings(conn, ticker, [user_id])
                cash, pos = cashes[user_id], positions[user_id]
                self._positions[(user_id, ticker)] = pos
                count = req.count
                # reduce_only / sell_position_floor=0: never grow or flip the position.
                if req.reduce_only or req.sell_position_floor == 0:
                    committed = sum(o.remaining for o in self._user_market_orders.get((user_id, ticker), {}).values()
                                    if o.book_side == req.book_side)
                    reducible = (-pos if req.book_side == "bid" else pos) - committed
                    if reducible <= 0:
                        raise errors.InvalidRequest("reduce-only order would not reduce the position", code="reduce_only")
                    count = min(count, reducible - reducible % state.row["lot"])
                    if count <= 0:
                        raise errors.InvalidRequest("reduce-only order would not reduce the position", code="reduce_only")
                tif = req.time_in_force
                if req.buy_max_cost is not None and req.action == "buy":
                    # Kalshi's buy_max_cost: spend at most this on contracts (fees apart), at the
                    # makers' prices, and never rest (fill-or-kill behaviour: the rest is cancelled).
                    count = affordable(state.book.preview(req.book_side, req.price, count, user_id,
                                                           req.self_trade_prevention, ts),
                                        req.book_side, req.buy_max_cost, state.row["lot"])
                    tif = "immediate_or_cancel"
                    if count <= 0:
                        raise errors.InvalidRequest("buy_max_cost buys nothing at the prices on the book now",
                                                    code="invalid_parameters")
                # Cash check with the whole order counted as resting at its limit (the worst case).
                mine = dict(self._user_market_orders.get((user_id, ticker), {}))
                if replaces is not None:
                    mine.pop(replaces.order_id, None)
                bids = [(o.price, o.remaining) for o in mine.values() if o.book_side == "bid"]
                asks = [(o.price, o.remaining) for o in mine.values() if o.book_side == "ask"]
                (bids if req.book_side == "bid" else asks).append((req.price, count))
                need = market_hold(pos, bids, asks, state.rates)
                available = cash - self._held(user_id, exclude=ticker)
                if need > available and not req.wallet_order:  # a wallet order is held by its escrow (wallet_orders)
                    raise errors.InsufficientBalance(
                        f"order needs {need} held in this market, {available} available", code="insufficient_balance")
                book_changed = True  # from here a failure rebuilds the book from the database
                if replaces is not None:  # amend: the old order leaves the book in this same transaction
                    replaced_left = state.book.cancel(replaces.order_id) or 0
                result = state.book.submit(order_id, user_id, req.book_side, req.price, count, tif,
                                           req.post_only, req.self_trade_prevention, req.expiration_ms, ts)
                if result.rejected:  # the engine changed nothing, unless it swept expired orders first
                    book_changed = replaces is not None or bool(result.expired_makers)
                    raise errors.InvalidRequest(result.rejected, code=result.reject_code or "invalid_order")
                cmd = _Command(Journal(order_id, ts))
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
                fills = self._apply_fills(conn, cmd, state, taker, order_row, result.fills, ts)
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
                self._group_limits(conn, cmd, state, ts)
                self._flush(conn, cmd, ts)
        except Exception as exc:
            if self._group is not None:
                self._group.markets.add(ticker)
                if book_changed or not isinstance(exc, errors.ExchangeError):
                    raise _GroupAbort from exc  # the group's memory and transaction are both suspect
            elif book_changed:
                self._load_market(ticker)  # memory must not run ahead of what committed
            raise
        # Committed (or part of a group commit): bring memory in line.
        if self._group is not None:
            self._group.markets.add(ticker)
        if order_row["status"] != RESTING and result.resting:  # its order group hit the limit
            state.book.cancel(order_id)
            taker.remaining = 0
            result.resting = 0
        deltas = self._after_commit(state, cmd, taker, result, order_row["status"])
        if replaces is not None:
            deltas.append((ticker, replaces.book_side, replaces.price, -replaced_left))
            self._forget_order(replaces)
            self._recompute_hold(user_id, ticker)
        placed = order_view(order_row)
        if placed.status == RESTING:
            placed.queue_position = state.book.queue_position(order_id)
        events = self._events_for(cmd, deltas)
        if self._subscribers:
            events.append(OrderEvent(placed))
        return placed, fills, events

    def _apply_fills(self, conn, cmd: _Command, state: MarketState, taker: OpenOrder, taker_row: dict,
                     engine_fills: list[EngineFill], ts: int) -> list[FillView]:
        if not engine_fills:
            return []
        ticker = state.row["ticker"]
        users = {taker.user_id} | {f.maker_user for f in engine_fills}
        positions = self._read_holdings(conn, ticker, users)[0]
        accounts = {u: self._user_account(conn, u) for u in users}
        collateral = self._accounts.get(conn, L.COLLATERAL, ticker)
        issuance = self._accounts.get(conn, L.ISSUANCE, ticker)
        fees_account = self._accounts.get(conn, L.FEES)
        rates = state.rates
        # [exposure (absolute), traded, realized pnl, fees (deltas)] per user, for position_stats.
        stats = {u: [0, 0, 0, 0] for u in users}
        for u in users:
            stats[u][0] = Q.STATS_EXPOSURE.scalar(conn, {"user_id": u, "ticker": ticker}) or 0
        cmd.stats = {(u, ticker): v for u, v in stats.items()}
        taker_fills: list[FillView] = []
        maker_rows: dict[str, dict] = {}
        net_sets = 0
        wallet_sells: list[X.SettleFill] = []
        wallet_buys: list[X.SettleFill] = []
        j = cmd.journal
        for f in engine_fills:
            maker = self._open[f.maker_order_id]
            trade_id = _uuid()
            bid_user, ask_user = (taker.user_id, maker.user_id) if taker.book_side == "bid" else (maker.user_id, taker.user_id)
            account_fill(stats[taker.user_id], positions[taker.user_id], taker.book_side, f.price, f.count)
            account_fill(stats[maker.user_id], positions[maker.user_id], maker.book_side, f.price, f.count)
            posting = post_match(j, ticker, trade_id, f.price, f.count, accounts[bid_user], positions[bid_user],
                                 accounts[ask_user], positions[ask_user], collateral, issuance)
            positions[bid_user] = posting.bid_pos_after
            positions[ask_user] = posting.ask_pos_after
            # Fees, rounded per order (exchange/fees.py).
            t_units = fee_units(f.count, f.price, rates.taker_rate_ppm)
            taker_fee = charge_increment(taker.fee_units, t_units)
            taker.fee_units += t_units
            m_units = fee_units(f.count, f.price, rates.maker_rate_ppm)
            maker_fee = charge_increment(maker.fee_units, m_units)
            maker.fee_units += m_units
            r_units = fee_units(f.count, f.price, rates.maker_rebate_ppm)
            maker_rebate = rebate_increment(maker.rebate_units, r_units)
            maker.rebate_units += r_units
            j.move(L.FEE, trade_id, L.CASH, accounts[taker.user_id], fees_account, taker_fee)
            j.move(L.FEE, trade_id, L.CASH, accounts[maker.user_id], fees_account, maker_fee)
            j.move(L.REBATE, trade_id, L.CASH, fees_account, accounts[maker.user_id], maker_rebate)
            stats[taker.user_id][3] += taker_fee
            stats[maker.user_id][3] += maker_fee - maker_rebate
            for order, fee in ((taker, taker_fee), (maker, maker_fee)):
                if order.builder_code and fee:
                    cut = share(fee, self._builders.get(order.builder_code, 0))
                    j.move(L.BUILDER_SHARE, trade_id, L.CASH, fees_account,
                           self._accounts.get(conn, L.BUILDER, order.builder_code), cut)
            net_sets += posting.minted - posting.merged
            taker_is_bid = taker.book_side == "bid"
            cmd.trade_rows.append({"trade_id": trade_id, "ticker": ticker, "price": f.price, "count": f.count,
                                   "taker_book_side": taker.book_side, "taker_order_id": taker.order_id,
                                   "maker_order_id": maker.order_id, "minted": posting.minted, "merged": posting.merged,
                                   "created_ms": ts})
            # Orders.
            taker_row["taker_fill_count"] += f.count
            taker_row["taker_fill_cost"] += cash_value(f.price if taker_is_bid else ONE - f.price, f.count)
            taker_row["taker_fees"] += taker_fee
            taker_row["fee_units"] = taker.fee_units
            maker.remaining -= f.count
            mrow = maker_rows.get(maker.order_id)
            if mrow is None:
                mrow = maker_rows[maker.order_id] = {"b_order_id": maker.order_id, "fill": 0, "cost": 0, "fees": 0, "rebates": 0}
            mrow["fill"] += f.count
            mrow["cost"] += cash_value(f.price if maker.book_side == "bid" else ONE - f.price, f.count)
            mrow["fees"] += maker_fee
            mrow["rebates"] += maker_rebate
            for order, is_taker, fee, reb in ((taker, True, taker_fee, 0), (maker, False, maker_fee, maker_rebate)):
                side, action = order.side, order.action
                fill = {"fill_id": _uuid(), "trade_id": trade_id, "order_id": order.order_id, "user_id": order.user_id,
                        "ticker": ticker, "is_taker": is_taker, "book_side": order.book_side, "side": side, "action": action,
                        "price": f.price, "count": f.count, "fee": fee, "rebate": reb, "created_ms": ts,
                        "reverted_ms": None, "revert_reason": None}
                cmd.fill_rows.append(fill)
                if order.order_group_id:
                    cmd.group_fills[order.order_group_id] = cmd.group_fills.get(order.order_group_id, 0) + f.count
                if order.wallet_order:  # settled against custody on chain, in the order's own side terms
                    settle = X.SettleFill(ticker, order.wallet_order, side, action, f.count,
                                          f.price if side == "yes" else ONE - f.price, fee, trade_id, fill["fill_id"],
                                          order.order_id)
                    (wallet_buys if action == "buy" else wallet_sells).append(settle)
                if is_taker:
                    taker_fills.append(fill_view(fill))
        # Custody's set creation/retirement, netted per command (a transfer moves nothing on chain),
        # around the wallet fills in the order the program needs (exchange/outbox.py): the mint
        # first, then what wallets hand to custody, then what custody hands out, then the merge.
        if net_sets > 0:
            cmd.outbox.append(X.CustodyMintSet(ticker, net_sets, j.journal_id))
        cmd.outbox.extend(wallet_sells)
        cmd.outbox.extend(wallet_buys)
        if net_sets < 0:
            cmd.outbox.append(X.CustodyMergeSet(ticker, -net_sets, j.journal_id))
        for order_id, m in maker_rows.items():
            maker = self._open[order_id]
            cmd.order_updates.append({
                "b_order_id": order_id, "remaining_count": maker.remaining, "status": RESTING if maker.remaining else EXECUTED,
                "cancel_reason": None, "updated_ms": ts, "fill": m["fill"], "cost": m["cost"], "fees": m["fees"],
                "rebates": m["rebates"], "fee_units": str(maker.fee_units), "rebate_units": str(maker.rebate_units)})
        for u, p in positions.items():
            self._positions[(u, ticker)] = p
        return taker_fills

    def _flush(self, conn, cmd: _Command, ts: int) -> None:
        cmd.journal.flush(conn)
        Q.INSERT_ORDER.executemany(conn, cmd.order_rows)
        Q.INSERT_TRADE.executemany(conn, cmd.trade_rows)
        Q.INSERT_FILL.executemany(conn, cmd.fill_rows)
        Q.ORDER_FILLED.executemany(conn, [u for u in cmd.order_updates if "fill" in u])
        # Cancellations last: an order-group limit can cancel a maker this very command filled
        # in part, and the cancel must win over the fill's "still resting".
        Q.ORDER_CLOSED.executemany(conn, [u for u in cmd.order_updates if "fill" not in u])
        if cmd.stats:
            self._flush_stats(conn, cmd, ts)
        if cmd.outbox:
            self._write_outbox(conn, cmd.outbox, ts, group=cmd.journal.journal_id)

    def _flush_stats(self, conn, cmd: _Command, ts: int) -> None:
        Q.ADD_STATS.executemany(conn, [{"user_id": u, "ticker": t, "exposure": v[0], "total_traded": v[1], "realized_pnl": v[2],
                                        "fees_paid": v[3], "updated_ms": ts} for (u, t), v in cmd.stats.items()])

    def _group_window(self, conn, group_id: str, ts: int) -> int:
        """Contracts the group's orders matched in the rolling window ending at `ts`, since the
        group's last reset (committed fills)."""
        since = conn.execute(select(_groups.c.reset_ms).where(_groups.c.order_group_id == group_id)).scalar_one()
        return conn.execute(
            select(func.coalesce(func.sum(_fills.c.count), 0))
            .select_from(_fills.join(_orders, _orders.c.order_id == _fills.c.order_id))
            .where(_orders.c.order_group_id == group_id, _fills.c.created_ms > max(since, ts - ORDER_GROUP_WINDOW_MS))
        ).scalar_one()

    def _group_limits(self, conn, cmd: _Command, state: MarketState, ts: int) -> None:
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
            for order in list(self._open.values()):
                if order.order_group_id == group_id and order.remaining > 0:
                    cmd.order_updates.append({"b_order_id": order.order_id, "remaining_count": 0, "status": CANCELED,
                                              "cancel_reason": "order_group_limit", "updated_ms": ts})
                    cmd.group_cancelled.append(order.order_id)

    def _after_commit(self, state: MarketState, cmd: _Command, taker: OpenOrder, result: EngineResult,
                      taker_status: str) -> list:
        """Memory follows what committed; returns the book deltas (price, side, delta)."""
        ticker = state.row["ticker"]
        deltas: list[tuple[str, int, int, str]] = []  # (ticker, side, price, delta)
        touched: set[tuple[int, str]] = {(taker.user_id, ticker)}
        for f in result.fills:
            maker = self._open.get(f.maker_order_id)
            if maker is None:
                continue
            deltas.append((ticker, maker.book_side, f.price, -f.count))
            touched.add((maker.user_id, ticker))
            if maker.remaining <= 0:
                self._forget_order(maker)
        for maker_id in result.cancelled_makers + result.expired_makers:
            maker = self._open.get(maker_id)
            if maker is not None:
                deltas.append((ticker, maker.book_side, maker.price, -maker.remaining))
                touched.add((maker.user_id, ticker))
                self._forget_order(maker)
        if result.resting:
            deltas.append((ticker, taker.book_side, taker.price, result.resting))
            self._open[taker.order_id] = taker
            self._user_market_orders[(taker.user_id, ticker)][taker.order_id] = taker
        for order_id in cmd.group_cancelled:  # order-group limit hit: off every book
            order = self._open.get(order_id)
            if order is not None:
                left = self._markets[order.ticker].book.cancel(order_id) or 0
                deltas.append((order.ticker, order.book_side, order.price, -left))
                touched.add((order.user_id, order.ticker))
                self._forget_order(order)
        for user_id, t in touched:
            self._recompute_hold(user_id, t)
        if result.fills:
            state.last_price = result.fills[-1].price
            traded = sum(f.count for f in result.fills)
            state.volume += traded
            state.open_interest += sum(r["minted"] - r["merged"] for r in cmd.trade_rows)
        return deltas

    def _forget_order(self, order: OpenOrder) -> None:
        self._open.pop(order.order_id, None)
        mine = self._user_market_orders.get((order.user_id, order.ticker))
        if mine is not None:
            mine.pop(order.order_id, None)

    def _events_for(self, cmd: _Command, deltas: list) -> list:
        # The book's sequence counts every committed change whether or not anyone listens, so a
        # snapshot's seq (orderbook) means the same to every reader.
        if not self._subscribers:
            for ticker, _side, _price, delta in deltas:
                if delta:
                    self._markets[ticker].book_seq += 1
            return []
        events: list = []
        for ticker, side, price, delta in deltas:
            if delta:
                state = self._markets[ticker]
                state.book_seq += 1
                events.append(BookDelta(ticker, state.book_seq, side, price, delta))
        for r in cmd.trade_rows:
            events.append(TradeEvent(trade_view(r)))
        for r in cmd.fill_rows:
            events.append(FillEvent(fill_view(r)))
        for ticker in {d[0] for d in deltas}:
            events.append(TickerUpdate(self._market_view(self._markets[ticker])))
        return events

    # ------------------------------------------------------------------ cancel / decrease / amend
    def _owned_open(self, user_id: int, order_id: str) -> OpenOrder:
        order = self._open.get(order_id)
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
        with self._lock:
            mine: list[str] = []
            for order_id in order_ids:
                try:
                    order = self._owned_open(user_id, order_id)
                    out.append(order.remaining)
                    mine.append(order_id)
                except errors.ExchangeError as exc:
                    out.append(exc)
            views, events = self._cancel_many(mine, reason="canceled") if mine else ({}, [])
        self._publish(events)
        ids = iter(mine)
        return [r if isinstance(r, errors.ExchangeError) else (views[next(ids)], r) for r in out]

    def cancel_all(self, user_id: int, ticker: str | None = None) -> list[str]:
        with self._lock:
            ids = [o.order_id for o in self._open.values() if o.user_id == user_id and (ticker is None or o.ticker == ticker)]
            events = self._cancel_many(ids, reason="canceled")[1] if ids else []
        self._publish(events)
        return ids

    def _cancel_many(self, order_ids: list[str], reason: str,
                     also: Callable[[Connection], None] | None = None,
                     close_wallet_orders: bool = True) -> tuple[dict[str, OrderView], list]:
        """Cancel resting orders in one transaction (with `also(conn)`, if given); returns their
        views as committed, and the events. Wallet orders release their escrow and get a
        close_order, unless `close_wallet_orders` is False (force-closed on chain: gone)."""
        ts = now_ms()
        orders = [self._open[o] for o in order_ids if o in self._open]
        wallet = [o for o in orders if o.wallet_order]
        outbox = [X.CloseOrder(o.ticker, o.wallet_order, o.order_id, o.remaining) for o in wallet] if close_wallet_orders else []
        views: dict[str, OrderView] = {}
        if self._group is not None:
            self._group.markets.update(o.ticker for o in orders)
        with self._transaction() as conn:
            params = {"remaining_count": 0, "status": CANCELED, "cancel_reason": reason, "updated_ms": ts}
            for o in orders:
                params["b_order_id"] = o.order_id
                views[o.order_id] = order_view(Q.CANCEL_ORDER.mappings(conn, params)[0])
            if outbox:
                self._write_outbox(conn, outbox, ts)
            if wallet:
                wallet_orders.release_cancelled(self, conn, wallet, ts)
            if also is not None:
                also(conn)
        deltas = []
        for o in orders:
            left = self._markets[o.ticker].book.cancel(o.order_id) or 0
            deltas.append((o.ticker, o.book_side, o.price, -left))
            self._forget_order(o)
            self._recompute_hold(o.user_id, o.ticker)
        cmd = _Command(Journal("", ts))
        events = self._events_for(cmd, deltas)
        if self._subscribers:
            events.extend(OrderEvent(v) for v in views.values())
        return views, events

    def decrease_order(self, user_id: int, order_id: str, *, reduce_by: int | None = None, reduce_to: int | None = None) -> OrderView:
        """Shrink a resting order in place (it keeps its queue priority); to zero cancels it."""
        if (reduce_by is None) == (reduce_to is None):
            raise errors.InvalidRequest("give exactly one of reduce_by or reduce_to")
        with self._lock:
            order = self._owned_open(user_id, order_id)
            new = order.remaining - reduce_by if reduce_by is not None else reduce_to
            lot = self._markets[order.ticker].row["lot"]
            if new is None or new < 0 or new >= order.remaining or new % lot:
                raise errors.InvalidRequest("the new size must be smaller than the remaining size and a whole lot")
            if new == 0:
                events = self._cancel_many([order_id], reason="canceled")[1]
            else:
                ts = now_ms()
                with self._transaction() as conn:
                    conn.execute(update(_orders).where(_orders.c.order_id == order_id).values(
                        remaining_count=new, initial_count=_orders.c.initial_count - (order.remaining - new), updated_ms=ts))
                reduction = self._markets[order.ticker].book.decrease(order_id, new)
                order.remaining = new
                self._recompute_hold(user_id, order.ticker)
                events = self._events_for(_Command(Journal("", ts)), [(order.ticker, order.book_side, order.price, -reduction)])
        self._publish(events)
        return self.get_order(user_id, order_id)

    def amend_order(self, user_id: int, order_id: str, *, price: int | None = None, count: int | None = None,
                    client_order_id: str | None = None) -> tuple[OrderView, OrderView, list[FillView]]:
        """Kalshi's amend: new YES price and/or new total count (filled + remaining).

        Only shrinking at the same price keeps queue priority (a decrease). Otherwise the
        order is replaced in ONE transaction by a new order (new order id) for the rest at
        the new price, which may match at once. Returns (old order, new order, fills)."""
        with self._lock:
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
        with self._lock:
            order = self._owned_open(user_id, order_id)
            new_view, fills, events = self._place(user_id, request, replaces=order)
        self._publish(events)
        return self.get_order(user_id, order_id), new_view, fills

    def expire_orders(self, now: int | None = None) -> list[str]:
        """Cancel every resting order past its expiration time (call periodically)."""
        now = now_ms() if now is None else now
        with self._lock:
            ids = [order_id for state in self._markets.values() for order_id, _left in state.book.expiring(now)]
            events = self._cancel_many(ids, reason="expired")[1] if ids else []
        self._publish(events)
        return ids

    # ------------------------------------------------------------------ reads: orders, fills, portfolio
    def _order_row(self, order_id: str) -> OrderView | None:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(_orders).where(_orders.c.order_id == order_id)).mappings().first()
        return order_view(r) if r else None

    def get_order(self, user_id: int, order_id: str) -> OrderView:
        view = self._order_row(order_id)
        if view is None or view.user_id != user_id:
            raise errors.NotFound(f"order {order_id} not found", code="order_not_found")
        if view.status == RESTING and view.ticker in self._markets:
            view.queue_position = self._markets[view.ticker].book.queue_position(order_id)
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
        with self._lock:
            out = []
            for o in self._open.values():
                if o.user_id != user_id or (ticker and o.ticker != ticker):
                    continue
                state = self._markets[o.ticker]
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
            account = conn.execute(select(_accounts_t.c.id).where(_accounts_t.c.kind == L.USER,
                                                                  _accounts_t.c.ref == str(user_id))).scalar_one_or_none()
            held = dict(conn.execute(select(_balances.c.asset, _balances.c.amount).where(
                _balances.c.account_id == account)).all()) if account else {}
            stats = {r.ticker: r for r in conn.execute(select(_stats).where(_stats.c.user_id == user_id))}
            events_of = dict(conn.execute(select(_markets.c.ticker, _markets.c.event_ticker)).all())
        tickers = set(stats)
        for asset, amount in held.items():
            if asset != L.CASH and amount:
                tickers.add(asset.split(":", 1)[1])
        resting: dict[str, int] = defaultdict(int)
        for o in list(self._open.values()):
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

    # ------------------------------------------------------------------ order groups
    def create_order_group(self, user_id: int, contracts_limit: int) -> OrderGroupView:
        if not isinstance(contracts_limit, int) or contracts_limit <= 0:
            raise errors.InvalidRequest("contracts_limit must be positive")
        group_id = _uuid()
        ts = now_ms()
        with self._transaction() as conn:
            conn.execute(insert(_groups).values(order_group_id=group_id, user_id=user_id, contracts_limit=contracts_limit,
                                                filled_count=0, triggered=False, deleted=False, created_ms=ts))
        return OrderGroupView(group_id, user_id, contracts_limit, 0, False, [], ts)

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

    def delete_order_group(self, user_id: int, group_id: str) -> None:
        """Cancel the group's orders and delete it (one transaction)."""
        self._close_group(user_id, group_id, "order_group_deleted", deleted=True)

    def trigger_order_group(self, user_id: int, group_id: str) -> None:
        """Kalshi's trigger: cancel the group's orders and refuse new ones until it is reset."""
        self._close_group(user_id, group_id, "order_group_triggered", triggered=True)

    def _close_group(self, user_id: int, group_id: str, reason: str, **values) -> None:
        self.get_order_group(user_id, group_id)
        with self._lock:
            ids = [o.order_id for o in self._open.values() if o.order_group_id == group_id]
            _views, events = self._cancel_many(ids, reason=reason, also=lambda conn: conn.execute(
                update(_groups).where(_groups.c.order_group_id == group_id).values(**values)))
        self._publish(events)

    def update_order_group_limit(self, user_id: int, group_id: str, contracts_limit: int) -> OrderGroupView:
        """A new contracts limit; if what the group matched in the window already reaches it, the
        group triggers at once (its orders are cancelled)."""
        if not isinstance(contracts_limit, int) or contracts_limit <= 0:
            raise errors.InvalidRequest("contracts_limit must be positive", code="invalid_parameters")
        group = self.get_order_group(user_id, group_id)
        with self._lock:
            with self.db.reader.connect() as conn:
                window = self._group_window(conn, group_id, now_ms())
            if window >= contracts_limit and not group.is_auto_cancel_enabled:
                ids = [o.order_id for o in self._open.values() if o.order_group_id == group_id]
                _views, events = self._cancel_many(ids, reason="order_group_limit", also=lambda conn: conn.execute(
                    update(_groups).where(_groups.c.order_group_id == group_id).values(contracts_limit=contracts_limit,
                                                                                        triggered=True)))
            else:
                events = []
                with self._transaction() as conn:
                    conn.execute(update(_groups).where(_groups.c.order_group_id == group_id).values(contracts_limit=contracts_limit))
        self._publish(events)
        return self.get_order_group(user_id, group_id)

    def reset_order_group(self, user_id: int, group_id: str) -> OrderGroupView:
        """Start the group's count afresh (fills before now no longer count) and allow new orders again."""
        self.get_order_group(user_id, group_id)
        with self._transaction() as conn:
            conn.execute(update(_groups).where(_groups.c.order_group_id == group_id).values(
                filled_count=0, triggered=False, reset_ms=now_ms()))
        return self.get_order_group(user_id, group_id)

    # ------------------------------------------------------------------ outbox (bridge)
    def outbox_reader(self):
        """The bridge's reader of this service's outbox (exchange/outbox_reader.py)."""
        from exchange.outbox_reader import OutboxReader

        return OutboxReader(self)

    def outbox_streams(self) -> dict[str, int]:
        """Every stream and its last sequence number."""
        with self.db.reader.connect() as conn:
            return dict(conn.execute(select(_streams.c.stream, _streams.c.last_seq)).all())

    def revert_settle_fill(self, stream: str, seq: int, reason: str) -> list[X.OutboxRecord]:
        """The program refused the settle_fill at (stream, seq) for good (the wallet order was
        force-closed; its escrow is gone). In ONE transaction: the trade's ledger movements
        (the match, fees, rebates, builder shares) are reversed by compensating entries; both
        fills are marked reverted (the fills listing shows `reverted_ms`, `revert_reason`);
        a wallet order's account (users.kind "wallet") is left as it was, its side going to
        EXTERNAL instead (force_close refunded the escrow on chain);
        the record, and the trade's other settle_fill if it was a wallet-vs-wallet match
        still pending, become `reverted`; and custody's part is compensated by a new group
        (`custody_mint_set` of what it merged, then `custody_merge_set` of the sets it minted
        plus any a custodial user's give-back nets: Kalshi's YES or NO, never both). After the commit both users get the fills and their orders again on the
        `fill` / `user_orders` channels. Returns the compensating records (maybe none).

        The rest of the refused record's group still applies. When the trade MERGED, that
        rest (the group's custody_merge_set) needs the tokens the wallet never gave: send
        the returned custody_mint_set in the same chain transaction, before it.

        Refused (nothing written) if the record is no pending settle_fill, or if the trade's
        other side settled on chain already. Reverting a reverted record returns []. Not
        undone: the orders' fill counts, and the P&L a closing fill realized."""
        from exchange.outbox_reader import record_of

        if not isinstance(reason, str) or not 0 < len(reason) <= 200:
            raise errors.InvalidRequest("reason must be 1-200 characters")
        with self._transaction() as conn:
            row = conn.execute(select(_outbox).where(_outbox.c.stream == stream, _outbox.c.seq == seq)).mappings().first()
            if row is None:
                raise errors.NotFound(f"no outbox record {stream}/{seq}", code="outbox_not_found")
            if row["kind"] != X.SettleFill.kind:
                raise errors.InvalidRequest(f"{stream}/{seq} is a {row['kind']}, not a settle_fill", code="not_a_settle_fill")
            if row["status"] == X.REVERTED:
                return []
            if row["status"] != X.PENDING:
                raise errors.Conflict(f"{stream}/{seq} is applied on chain; it cannot be reverted", code="outbox_applied")
            fill: X.SettleFill = X.decode(row["kind"], row["payload"])
            # The trade's settle_fills (two in a wallet-vs-wallet match) are in its command's group.
            same = [r for r in conn.execute(select(_outbox).where(
                _outbox.c.stream == stream, _outbox.c.group_id == row["group_id"],
                _outbox.c.kind == X.SettleFill.kind)).mappings()
                if X.decode(r["kind"], r["payload"]).trade_id == fill.trade_id]
            if any(r["status"] == X.APPLIED for r in same):
                raise errors.Conflict(f"trade {fill.trade_id}: the other side settled on chain; it cannot be reversed here",
                                      code="outbox_applied")
            trade = conn.execute(select(_trades).where(_trades.c.trade_id == fill.trade_id)).mappings().one()
            ticker = trade["ticker"]
            ts = now_ms()
            j = Journal(_uuid(), ts)
            legs: dict[tuple[str, int], dict[str, object]] = {}
            for e in conn.execute(select(_entries).where(_entries.c.ref == fill.trade_id).order_by(_entries.c.id)).mappings():
                if e["kind"] == L.REVERSAL:
                    continue
                leg = legs.setdefault((e["journal_id"], e["leg"]), {"asset": e["asset"]})
                leg["payer" if e["amount"] < 0 else "receiver"] = e["account_id"]
                leg["amount"] = abs(e["amount"])
            for leg in legs.values():  # each movement back, receiver to payer
                j.move(L.REVERSAL, fill.trade_id, leg["asset"], leg["receiver"], leg["payer"], leg["amount"])
            trade_fills = conn.execute(select(_fills).where(_fills.c.trade_id == fill.trade_id)).mappings().all()
            before = self._read_positions(conn, ticker, {f["user_id"] for f in trade_fills})
            # A wallet order's account mirrors its escrow, which force_close already refunded on
            # chain: what the reversal would put into (or take from) it is the world's (EXTERNAL).
            wallet_users = set(conn.execute(select(_users.c.id).where(
                _users.c.id.in_(list(before)), _users.c.kind == WALLET)).scalars().all())
            wallet_accounts = {self._user_account(conn, u) for u in wallet_users}
            external = self._accounts.get(conn, L.EXTERNAL) if wallet_accounts else None
            for (account, asset), delta in list(j.deltas.items()):
                if account in wallet_accounts and delta:
                    j.move(L.REVERSAL, fill.trade_id, asset, account, external, delta)
            # Kalshi netting: a custodial user given back a side they have since crossed (YES and
            # NO at once) has the pairs merged at once, like any other match would.
            yes, no = L.yes_asset(ticker), L.no_asset(ticker)
            netted = 0
            for user_id in sorted(set(before) - wallet_users):
                account = self._user_account(conn, user_id)
                held = dict(conn.execute(select(_balances.c.asset, _balances.c.amount).where(
                    _balances.c.account_id == account, _balances.c.asset.in_([yes, no]))).all())
                pairs = min(held.get(yes, 0) + j.delta(account, yes), held.get(no, 0) + j.delta(account, no))
                if pairs > 0:
                    issuance = self._accounts.get(conn, L.ISSUANCE, ticker)
                    j.move(L.MERGE, f"net:{fill.trade_id}", yes, account, issuance, pairs)
                    j.move(L.MERGE, f"net:{fill.trade_id}", no, account, issuance, pairs)
                    j.move(L.MERGE, f"net:{fill.trade_id}", L.CASH, self._accounts.get(conn, L.COLLATERAL, ticker),
                           account, pairs)
                    netted += pairs
            j.flush(conn)
            # Kalshi's position figures: the fill undone as the opposite fill at its price (exact for
            # a fill that opened; one that closed keeps the P&L it realized), its fee given back.
            stats = []
            for f in trade_fills:
                if f["user_id"] in wallet_users:
                    continue
                figures = [Q.STATS_EXPOSURE.scalar(conn, {"user_id": f["user_id"], "ticker": ticker}) or 0, 0, 0, 0]
                account_fill(figures, before[f["user_id"]], "ask" if f["book_side"] == "bid" else "bid", f["price"], f["count"])
                stats.append({"user_id": f["user_id"], "ticker": ticker, "exposure": figures[0], "total_traded": -figures[1],
                              "realized_pnl": figures[2], "fees_paid": f["rebate"] - f["fee"], "updated_ms": ts})
            Q.ADD_STATS.executemany(conn, stats)
            conn.execute(update(_fills).where(_fills.c.trade_id == fill.trade_id).values(reverted_ms=ts, revert_reason=reason))
            conn.execute(update(_outbox).where(_outbox.c.id.in_([r["id"] for r in same]))
                         .values(status=X.REVERTED, revert_reason=reason))
            compensation: list[X.Record] = []
            if trade["merged"]:  # first: the rest of the refused group may merge what this mints
                compensation.append(X.CustodyMintSet(ticker, trade["merged"], j.journal_id))
            if trade["minted"] + netted:
                compensation.append(X.CustodyMergeSet(ticker, trade["minted"] + netted, j.journal_id))
            written = self._write_outbox(conn, compensation, ts, group=j.journal_id) if compensation else []
            fills = conn.execute(select(_fills).where(_fills.c.trade_id == fill.trade_id)).mappings().all()
            users = {f["user_id"] for f in fills}
            positions = self._read_positions(conn, ticker, users)
            orders = conn.execute(select(_orders).where(_orders.c.order_id.in_([f["order_id"] for f in fills]))).mappings().all()
            new_rows = conn.execute(select(_outbox).where(_outbox.c.stream.in_({s for s, _ in written} or {""}),
                                                          _outbox.c.group_id == j.journal_id)
                                    .order_by(_outbox.c.seq)).mappings().all()
        state = self._markets.get(ticker)
        if state is not None:
            state.open_interest += trade["merged"] - trade["minted"] - netted
            for user_id, pos in positions.items():
                self._positions[(user_id, ticker)] = pos
                self._recompute_hold(user_id, ticker)
        log.warning("settle_fill %s/%s reverted (%s): trade %s reversed", stream, seq, reason, fill.trade_id)
        self._publish([FillEvent(fill_view(f)) for f in fills] + [OrderEvent(order_view(o)) for o in orders])
        return [record_of(r) for r in new_rows]


# ---------------------------------------------------------------------- helpers
def _check_wallet(wallet: object) -> str:
    """A Solana address: base58 of 32 bytes."""
    from solders.pubkey import Pubkey

    try:
        if not isinstance(wallet, str) or not 32 <= len(wallet) <= 44:
            raise ValueError
        Pubkey.from_string(wallet)
    except ValueError:
        raise errors.InvalidRequest(f"wallet {wallet!r} is not a Solana address (base58, 32 bytes)",
                                    code="invalid_wallet") from None
    return wallet


def _withdrawal_view(r) -> WithdrawalView:
    return WithdrawalView(r["withdrawal_id"], r["user_id"], r["ticker"], r["asset"], r["amount"], r["wallet"], r["status"],
                          r["signature"], r["created_ms"], r["updated_ms"])

