"""Market candlesticks: one market, a batch, an event's markets (public market data; built from
the trades by exchange/candlesticks.py, which says what is exact and what approximated)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from exchange import candlesticks as cs
from exchange.errors import InvalidRequest, NotFound
from exchange.units import MAX_UNIX_SECONDS

from api.routes._common import csv, ok, service

router = APIRouter(tags=["market data"])

# Annotated, not one shared Query(): FastAPI binds a shared FieldInfo to the first name that uses it.
Ts = Annotated[int, Query(ge=0, le=MAX_UNIX_SECONDS)]


def _market_in_series(request: Request, series_ticker: str, ticker: str):
    market = service(request).get_market(ticker)
    if market.series_ticker != series_ticker:
        raise NotFound(f"market {ticker} is not in series {series_ticker}", code="market_not_found")
    return market


def _read(request: Request, tickers: list[str], w: cs.Window, include_latest_before_start: bool = False):
    return service(request).candlesticks(tickers, w, include_latest_before_start=include_latest_before_start)


@router.get("/markets/candlesticks", summary="Candlesticks of up to 100 markets")
async def batch_get_market_candlesticks(request: Request, market_tickers: Annotated[str, Query()], start_ts: Ts,
                                        end_ts: Ts, period_interval: Annotated[int, Query()],
                                        include_latest_before_start: bool = False):
    tickers = list(dict.fromkeys(csv(market_tickers) or []))
    if not tickers or len(tickers) > cs.MAX_TICKERS:
        raise InvalidRequest(f"give 1 to {cs.MAX_TICKERS} market_tickers", code="invalid_parameters")
    w = cs.window(start_ts, end_ts, period_interval)
    cs.check_range(w, len(tickers))
    svc = service(request)
    for ticker in tickers:
        svc.get_market(ticker)  # 404 for an unknown market
    candles = _read(request, tickers, w, include_latest_before_start)
    return ok({"markets": [{"market_ticker": t, "candlesticks": candles[t]} for t in tickers]})


@router.get("/series/{series_ticker}/markets/{ticker}/candlesticks", summary="A market's candlesticks")
async def get_market_candlesticks(request: Request, series_ticker: str, ticker: str, start_ts: Ts,
                                  end_ts: Ts, period_interval: Annotated[int, Query()],
                                  include_latest_before_start: bool = False):
    w = cs.window(start_ts, end_ts, period_interval)
    cs.check_range(w)
    _market_in_series(request, series_ticker, ticker)
    return ok({"ticker": ticker, "candlesticks": _read(request, [ticker], w, include_latest_before_start)[ticker]})


@router.get("/series/{series_ticker}/events/{ticker}/candlesticks", summary="Candlesticks of an event's markets")
async def get_market_candlesticks_by_event(request: Request, series_ticker: str, ticker: str, start_ts: Ts,
                                           end_ts: Ts, period_interval: Annotated[int, Query()]):
    w = cs.window(start_ts, end_ts, period_interval)
    event = service(request).get_event(ticker, with_markets=True)
    if event.series_ticker != series_ticker:
        raise NotFound(f"event {ticker} is not in series {series_ticker}", code="event_not_found")
    tickers = sorted(m.ticker for m in event.markets or [])
    capped = cs.event_window(w, len(tickers))
    candles = _read(request, tickers, capped)
    return ok({"market_tickers": tickers, "market_candlesticks": [candles[t] for t in tickers],
               "adjusted_end_ts": end_ts if capped is w else capped.last_end})
