"""Reference data: users (custodial, wallet), API keys (RSA public keys), fee schedules,
builders, series and events. Fee schedules and builders are also kept in memory
(book_state.BookState), updated here after their commit.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange import errors
from exchange.fees import ONE, FeeRates
from exchange.keys import check_rsa_public_key
from exchange.models import ApiKey, Builder, Event, FeeSchedule, Market, Series, User
from exchange.models import ledger as L
from exchange.schemas import BuilderView, EventView, FeeScheduleView, SeriesView, UserView
from exchange.service.clock import now_ms
from exchange.service.common import new_id
from exchange.service.parts import ServiceParts

_users = User.__table__
_keys = ApiKey.__table__
_series = Series.__table__
_events = Event.__table__
_markets = Market.__table__
_fee_schedules = FeeSchedule.__table__
_builders = Builder.__table__


class ReferenceData(ServiceParts):
    def create_user(self, name: str, *, kind: str = "custodial", wallet: str | None = None) -> UserView:
        name = name.strip()
        if not name:
            raise errors.InvalidRequest("user name must not be empty")
        ts = now_ms()
        try:
            with self.unit_of_work.transaction() as conn:
                user_id = conn.execute(
                    insert(_users).values(name=name, kind=kind, wallet=wallet, created_ms=ts).returning(_users.c.id)
                ).scalar_one()
                self.holdings.user_account(conn, user_id)
        except IntegrityError:
            raise errors.Conflict(f"user {name} already exists", code="user_exists") from None
        return UserView(user_id, name, kind, wallet, ts)

    def ensure_wallet(self, wallet: str) -> UserView:
        """The wallet account of a Solana wallet trading through the bridge (created on first use)."""
        existing = self._user_where(_users.c.wallet == wallet)
        return existing or self.create_user(f"wallet:{wallet}", kind="wallet", wallet=wallet)

    def create_api_key(self, user_id: int, public_key_pem: str, name: str = "", scopes: Iterable[str] = ("read", "write")) -> str:
        """Store an RSA public key (PEM) for a user; returns the key id (KALSHI-ACCESS-KEY)."""
        check_rsa_public_key(public_key_pem)
        self.get_user(user_id)
        key_id = new_id()
        with self.unit_of_work.transaction() as conn:
            conn.execute(insert(_keys).values(key_id=key_id, user_id=user_id, name=name, public_key_pem=public_key_pem,
                                              scopes=",".join(scopes), created_ms=now_ms()))
        return key_id

    def delete_api_key(self, user_id: int, key_id: str) -> None:
        with self.unit_of_work.transaction() as conn:
            deleted = conn.execute(_keys.delete().where(_keys.c.key_id == key_id, _keys.c.user_id == user_id)).rowcount
        if not deleted:
            raise errors.NotFound(f"API key {key_id} not found", code="api_key_not_found")

    def set_fee_schedule(self, name: str, taker_rate_ppm: int, maker_rate_ppm: int = 0, maker_rebate_ppm: int = 0,
                         *, ticker: str | None = None, series_ticker: str | None = None) -> FeeScheduleView:
        """Create or update a named schedule; optionally attach it to a market or a series."""
        try:
            rates = FeeRates(taker_rate_ppm, maker_rate_ppm, maker_rebate_ppm)  # validates
        except ValueError as exc:  # the pure fee math refuses it; to the caller it is a bad request
            raise errors.InvalidRequest(str(exc), code="invalid_parameters") from None
        ts = now_ms()
        with self.unit_of_work.lock:
            with self.unit_of_work.transaction() as conn:
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
            self.books.fee_schedules[schedule_id] = rates
            for state in self.books.markets.values():
                if ticker == state.row["ticker"]:
                    state.row.update(fee_schedule_id=schedule_id, updated_ms=ts)
                if series_ticker == state.row["series_ticker"] and state.row.get("fee_schedule_id") is None:
                    state.row["fee_schedule_id"] = schedule_id
                state.rates = self.books.rates_for(state.row)
        return FeeScheduleView(schedule_id, name, taker_rate_ppm, maker_rate_ppm, maker_rebate_ppm)

    def create_builder(self, code: str, share_ppm: int, name: str = "") -> BuilderView:
        if not code or not 0 <= share_ppm <= ONE:
            raise errors.InvalidRequest("builder needs a code and a share between 0 and 1_000_000 ppm")
        with self.unit_of_work.lock:
            try:
                with self.unit_of_work.transaction() as conn:
                    conn.execute(insert(_builders).values(code=code, name=name, share_ppm=share_ppm, created_ms=now_ms()))
                    self.accounts.get(conn, L.BUILDER, code)
            except IntegrityError:
                raise errors.Conflict(f"builder {code} already exists", code="builder_exists") from None
            self.books.builders[code] = share_ppm
        return BuilderView(code, name, share_ppm, 0)

    def create_series(self, ticker: str, title: str = "", *, category: str = "", frequency: str = "custom",
                      tags: Iterable[str] = (), fee_schedule_id: int | None = None) -> SeriesView:
        if not ticker:
            raise errors.InvalidRequest("series ticker must not be empty")
        ts = now_ms()
        try:
            with self.unit_of_work.transaction() as conn:
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
        with self.unit_of_work.transaction() as conn:
            if conn.execute(select(_series.c.ticker).where(_series.c.ticker == series_ticker)).first() is None:
                raise errors.NotFound(f"series {series_ticker} not found", code="series_not_found")
            if conn.execute(select(_events.c.event_ticker).where(_events.c.event_ticker == event_ticker)).first():
                raise errors.Conflict(f"event {event_ticker} already exists", code="event_exists")
            conn.execute(insert(_events).values(event_ticker=event_ticker, series_ticker=series_ticker, title=title,
                                                sub_title=sub_title, category=category,
                                                mutually_exclusive=mutually_exclusive, created_ms=ts))
        return EventView(event_ticker, series_ticker, title, sub_title, category, mutually_exclusive, ts)
