"""Market lifecycle: create, halt, resume, close (every resting order cancelled in the same
transaction; orders.OrderCommands._cancel_many), determine, finalize (every holder settled
for their payout, dust to the treasury; custody then redeems the custodial tokens on chain:
`custody_redeem`). Each step writes its outbox record.
"""
from __future__ import annotations

from sqlalchemy import String, cast, insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange import errors
from exchange import outbox as X
from exchange.fees import ONE
from exchange.journal import Journal
from exchange.models import Event, LedgerAccount, LedgerBalance, Market, PositionStats, Series, Settlement, User
from exchange.models import ledger as L
from exchange.positions import cash_value_floor, redemption_value
from exchange.schemas import MarketEvent, MarketView, TickerUpdate
from exchange.service.clock import now_ms
from exchange.service.common import CLOSED, DETERMINED, FINALIZED, HALTED, OPEN, new_id
from exchange.service.parts import ServiceParts
from exchange.tickers import check_ticker
from exchange.units import DEFAULT_TICK, FINEST_TICK, LOT

_series = Series.__table__
_events = Event.__table__
_markets = Market.__table__
_settlements = Settlement.__table__
_balances = LedgerBalance.__table__
_accounts = LedgerAccount.__table__
_stats = PositionStats.__table__
_users = User.__table__
CUSTODIAL = "custodial"  # users.kind of custodial users (the others: wallet accounts)


class MarketLifecycle(ServiceParts):
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
        with self.unit_of_work.lock:
            try:
                with self.unit_of_work.transaction() as conn:
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
                    self.accounts.get(conn, L.COLLATERAL, ticker)
                    self.accounts.get(conn, L.ISSUANCE, ticker)
                    self.outbox.write(conn, [X.CreateMarket(ticker, close_time=close_ms // 1000 + X.CHAIN_CLOSE_GRACE_S,
                                                               tick_size=tick)], ts)
            except IntegrityError:
                raise errors.InvalidRequest("market refers to an unknown fee schedule") from None
            state = self.books.load_market(ticker)
        view = state.view()
        self.events.publish([MarketEvent(ticker, "created", view)])
        return view

    def _set_status(self, ticker: str, allowed_from: tuple[str, ...], status: str, record: X.Record,
                    extra: dict | None = None) -> MarketView:
        with self.unit_of_work.lock:
            state = self.books.market(ticker)
            if state.row["status"] not in allowed_from:
                raise errors.MarketNotOpen(f"market {ticker} is {state.row['status']}, cannot become {status}",
                                           code="invalid_market_status")
            ts = now_ms()
            values = {"status": status, "updated_ms": ts, **(extra or {})}
            with self.unit_of_work.transaction() as conn:
                conn.execute(update(_markets).where(_markets.c.ticker == ticker).values(**values))
                self.outbox.write(conn, [record], ts)
            state.row.update(values)
            view = state.view()
        self.events.publish([MarketEvent(ticker, status, view), TickerUpdate(view)])
        return view

    def halt(self, ticker: str) -> MarketView:
        return self._set_status(ticker, (OPEN,), HALTED, X.Halt(ticker))

    def resume(self, ticker: str) -> MarketView:
        return self._set_status(ticker, (HALTED,), OPEN, X.Resume(ticker))

    def close_market(self, ticker: str) -> MarketView:
        """Close trading: every resting order is cancelled in the same transaction."""
        with self.unit_of_work.lock:
            state = self.books.market(ticker)
            if state.row["status"] not in (OPEN, HALTED):
                raise errors.MarketNotOpen(f"market {ticker} is {state.row['status']}", code="invalid_market_status")
            order_ids = [o for o, v in self.books.open.items() if v.ticker == ticker]
            events = self._cancel_many(order_ids, reason="market_closed")[1] if order_ids else []
            view = self._set_status(ticker, (OPEN, HALTED), CLOSED, X.CloseMarket(ticker))
        self.events.publish(events)
        return view

    def close_expired_markets(self, now: int | None = None) -> list[str]:
        """Close every open/halted market whose close time passed (call periodically)."""
        now = now_ms() if now is None else now
        closed = []
        for ticker, state in list(self.books.markets.items()):
            if state.row["status"] in (OPEN, HALTED) and state.row["close_ms"] <= now:
                self.close_market(ticker)
                closed.append(ticker)
        return closed

    def determine(self, ticker: str, yes_payout: int) -> MarketView:
        """Set the result: YES pays `yes_payout` (0..1_000_000), NO pays the rest. May be
        called again to correct it until `finalize`."""
        if not isinstance(yes_payout, int) or not 0 <= yes_payout <= ONE:
            raise errors.InvalidRequest("yes_payout must be an integer between 0 and 1_000_000")
        state = self.books.market(ticker)
        if state.row["status"] in (OPEN, HALTED):
            self.close_market(ticker)
        return self._set_status(ticker, (CLOSED, DETERMINED), DETERMINED, X.Determine(ticker, yes_payout),
                                {"yes_payout": yes_payout, "determined_ms": now_ms()})

    def finalize(self, ticker: str) -> MarketView:
        """Settle a determined market: every holder's YES and NO are retired for their payout
        (ledger movements + a settlement row per holder), then the market is finalized."""
        with self.unit_of_work.lock:
            state = self.books.market(ticker)
            if state.row["status"] != DETERMINED:
                raise errors.MarketNotOpen(f"market {ticker} is {state.row['status']}, not determined", code="invalid_market_status")
            payout = state.row["yes_payout"]
            ts = now_ms()
            yes, no = L.yes_asset(ticker), L.no_asset(ticker)
            with self.unit_of_work.transaction() as conn:
                holders = conn.execute(
                    select(_accounts.c.id, _accounts.c.ref, _balances.c.asset, _balances.c.amount, _users.c.kind)
                    .join(_accounts, _accounts.c.id == _balances.c.account_id)
                    .join(_users, _accounts.c.ref == cast(_users.c.id, String))
                    .where(_accounts.c.kind == L.USER, _balances.c.asset.in_([yes, no]), _balances.c.amount != 0)
                ).all()
                stats = {r.user_id: r for r in conn.execute(select(_stats).where(_stats.c.ticker == ticker))}
                per_user: dict[int, dict] = {}
                custodial = {"yes": 0, "no": 0}  # what custody's tokens back on chain (not wallet accounts)
                for account_id, ref, asset, amount, user_kind in holders:
                    entry = per_user.setdefault(int(ref), {"account": account_id, "yes": 0, "no": 0})
                    entry["yes" if asset == yes else "no"] += amount
                    if user_kind == CUSTODIAL:
                        custodial["yes" if asset == yes else "no"] += amount
                j = Journal(new_id(), ts)
                collateral = self.accounts.get(conn, L.COLLATERAL, ticker)
                issuance = self.accounts.get(conn, L.ISSUANCE, ticker)
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
                    j.move(L.SETTLEMENT, f"dust:{ticker}", L.CASH, collateral, self.accounts.get(conn, L.TREASURY), dust)
                j.flush(conn)
                if rows:
                    conn.execute(insert(_settlements), rows)
                    conn.execute(update(_stats).where(_stats.c.ticker == ticker).values(exposure=0, updated_ms=ts))
                conn.execute(update(_markets).where(_markets.c.ticker == ticker).values(status=FINALIZED, finalized_ms=ts,
                                                                                        updated_ms=ts))
                self.outbox.write(conn, [X.Finalize(ticker)], ts, group=j.journal_id)
                if custodial["yes"] or custodial["no"]:
                    # Its own group after the lifecycle barrier (the bridge sends those alone):
                    # custody redeems what the ledger just settled for its custodial holders.
                    redeem = X.CustodyRedeem(ticker, custodial["yes"], custodial["no"],
                                             redemption_value(custodial["yes"], custodial["no"], payout), j.journal_id)
                    self.outbox.write(conn, [redeem], ts, group=new_id())
            state.row.update(status=FINALIZED, finalized_ms=ts, updated_ms=ts)
            state.open_interest = 0
            for user_id in per_user:
                self.books.positions[(user_id, ticker)] = 0
            view = state.view()
        self.events.publish([MarketEvent(ticker, FINALIZED, view), TickerUpdate(view)])
        return view
