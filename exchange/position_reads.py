"""One user's position in one market, read straight from the ledger (the WebSocket
`market_positions` channel reads it after each fill, settlement or custody move; indexed
look-ups, not the portfolio listing, which walks every market). `volume`: Kalshi's "total
volume traded", the contracts the user's fills in the market matched (reverted fills not)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from exchange.models import Fill, LedgerAccount, LedgerBalance, PositionStats
from exchange.models import ledger as L

_accounts = LedgerAccount.__table__
_balances = LedgerBalance.__table__
_stats = PositionStats.__table__
_fills = Fill.__table__


@dataclass(frozen=True)
class MarketPosition:
    user_id: int
    ticker: str
    position: int  # Kalshi sign: + YES, - NO (contract base units)
    exposure: int  # cost basis of what is held
    realized_pnl: int
    fees_paid: int
    total_traded: int
    volume: int = 0  # contract base units the user's fills in the market matched


def market_position(conn: Connection, user_id: int, ticker: str) -> MarketPosition | None:
    """None when the user never held or traded the market."""
    held = dict(conn.execute(
        select(_balances.c.asset, _balances.c.amount)
        .join(_accounts, _accounts.c.id == _balances.c.account_id)
        .where(_accounts.c.kind == L.USER, _accounts.c.ref == str(user_id),
               _balances.c.asset.in_([L.yes_asset(ticker), L.no_asset(ticker)]))).all())
    stats = conn.execute(select(_stats).where(_stats.c.user_id == user_id, _stats.c.ticker == ticker)).mappings().first()
    if stats is None and not any(held.values()):
        return None
    s = stats or {"exposure": 0, "realized_pnl": 0, "fees_paid": 0, "total_traded": 0}
    volume = conn.execute(select(func.coalesce(func.sum(_fills.c.count), 0)).where(
        _fills.c.user_id == user_id, _fills.c.ticker == ticker, _fills.c.reverted_ms.is_(None))).scalar_one()
    return MarketPosition(user_id, ticker, held.get(L.yes_asset(ticker), 0) - held.get(L.no_asset(ticker), 0),
                          s["exposure"], s["realized_pnl"], s["fees_paid"], s["total_traded"], int(volume))
