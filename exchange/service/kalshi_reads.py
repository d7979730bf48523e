"""The facade's way to issue 13's reads (and the API-access writes): market candlesticks,
cash and custody history, the historical archive's finished orders, one market position, the
builder bound to an API key and a user's API usage tier. Each is a thin call into its module
(exchange/candlesticks.py, custody_history.py, historical.py, position_reads.py, api_access.py),
which owns the SQL; none touches the books or the writer lock."""
from __future__ import annotations

from exchange import api_access, candlesticks, custody_history, historical, position_reads
from exchange.db import Database
from exchange.schemas import Page


class KalshiReads:
    db: Database

    def candlesticks(self, tickers: list[str], window: candlesticks.Window, *,
                     include_latest_before_start: bool = False) -> dict[str, list[dict]]:
        with self.db.reader.connect() as conn:
            return candlesticks.market_candles(conn, tickers, window, include_latest_before_start=include_latest_before_start)

    def cash_deposits(self, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
        return custody_history.cash_deposits(self.db.reader, user_id, cursor=cursor, limit=limit)

    def cash_withdrawals(self, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
        return custody_history.cash_withdrawals(self.db.reader, user_id, cursor=cursor, limit=limit)

    def chain_deposits(self, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
        return custody_history.chain_deposits(self.db.reader, user_id, cursor=cursor, limit=limit)

    def chain_withdrawals(self, user_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
        return custody_history.chain_withdrawals(self.db.reader, user_id, cursor=cursor, limit=limit)

    def finished_orders(self, user_id: int, cutoff_ms: int, **filters) -> Page:
        return historical.finished_orders(self.db.reader, user_id, cutoff_ms, **filters)

    def market_position(self, user_id: int, ticker: str) -> position_reads.MarketPosition | None:
        with self.db.reader.connect() as conn:
            return position_reads.market_position(conn, user_id, ticker)

    def api_key_builder(self, key_id: str) -> str | None:
        return api_access.builder_for_key(self.db.reader, key_id)

    def bind_api_key_builder(self, key_id: str, builder_code: str | None) -> None:
        api_access.bind_builder(self.db.writer, key_id, builder_code)

    def api_tier(self, user_id: int) -> str | None:
        return api_access.tier_of(self.db.reader, user_id)

    def set_api_tier(self, user_id: int, tier: str | None) -> None:
        api_access.set_tier(self.db.writer, user_id, tier)
