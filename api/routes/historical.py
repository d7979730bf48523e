"""Kalshi's historical archive (/historical/*): the live rows from before the cut-off
(exchange/historical.py says why that is all it takes). The cut-off is 90 days back, rolling,
unless the operator fixes one (PUT /operator/historical/cutoff; kept in memory, so a restart
returns to the rolling default)."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from exchange import candlesticks as cs
from exchange import historical as H
from exchange.errors import NotFound
from exchange.units import MAX_UNIX_SECONDS

from api.auth import Principal, current_user, operator
from api.routes._common import UnixSecondsQuery, csv, ms, ms_end, ok, service
from api.schemas import wire
from api.schemas.convert import rfc3339

router = APIRouter(tags=["historical"])
operator_router = APIRouter(tags=["operator"], dependencies=[Depends(operator)])

Ts = Annotated[int, Query(ge=0, le=MAX_UNIX_SECONDS)]


def _cutoff(request: Request) -> int:
    return H.cutoff_ms(int(time.time() * 1000), getattr(request.app.state, "historical_cutoff_ms", None))


class CutoffBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cutoff_ts: int | None = Field(default=None, ge=0, le=MAX_UNIX_SECONDS)  # Unix seconds; null: the rolling default


@operator_router.put("/historical/cutoff", summary="Fix the historical cut-off (or return to the rolling default)")
async def set_historical_cutoff(request: Request, body: CutoffBody):
    request.app.state.historical_cutoff_ms = None if body.cutoff_ts is None else body.cutoff_ts * 1000
    return ok({"cutoff_ts": _cutoff(request) // 1000})


@router.get("/historical/cutoff", summary="Where the live data ends and the historical archive begins")
async def get_historical_cutoff(request: Request):
    at = rfc3339(_cutoff(request))
    return ok({"market_settled_ts": at, "trades_created_ts": at, "orders_updated_ts": at,
               "market_positions_last_updated_ts": at})


def _settled_before(request: Request, ticker: str):
    market = service(request).get_market(ticker)
    if market.finalized_ms is None or market.finalized_ms >= _cutoff(request):
        raise NotFound(f"market {ticker} is not in the historical archive (not settled before the cut-off)",
                       code="market_not_found")
    return market


@router.get("/historical/markets", summary="Markets settled before the cut-off")
async def get_historical_markets(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                                 tickers: str | None = None, event_ticker: str | None = None,
                                 series_ticker: str | None = None, mve_filter: str | None = None):
    if mve_filter == "only":
        return ok({"markets": [], "cursor": ""})
    page = service(request).list_markets(event_ticker=event_ticker, series_ticker=series_ticker, status="finalized",
                                         tickers=csv(tickers), max_settled_ms=_cutoff(request) - 1, cursor=cursor,
                                         limit=limit)
    return ok({"markets": [wire.market(m) for m in page.items], "cursor": page.cursor})


@router.get("/historical/markets/{ticker}", summary="A market settled before the cut-off")
async def get_historical_market(request: Request, ticker: str):
    return ok({"market": wire.market(_settled_before(request, ticker))})


def _historical_dist(d: dict | None) -> dict:
    d = d or {}
    return {k: d.get(f"{k}_dollars") for k in ("open", "low", "high", "close")}


@router.get("/historical/markets/{ticker}/candlesticks", summary="Candlesticks of a market settled before the cut-off")
async def get_market_candlesticks_historical(request: Request, ticker: str, start_ts: Ts, end_ts: Ts,
                                             period_interval: Annotated[int, Query()]):
    w = cs.window(start_ts, end_ts, period_interval)
    cs.check_range(w)
    _settled_before(request, ticker)
    candles = service(request).candlesticks([ticker], w)[ticker]
    out = [{"end_period_ts": c["end_period_ts"], "yes_bid": _historical_dist(c["yes_bid"]),
            "yes_ask": _historical_dist(c["yes_ask"]),
            "price": {**_historical_dist(c["price"]), "mean": c["price"].get("mean_dollars"),
                      "previous": c["price"].get("previous_dollars")},
            "volume": c["volume_fp"], "open_interest": c["open_interest_fp"]} for c in candles]
    return ok({"ticker": ticker, "candlesticks": out})


@router.get("/historical/trades", summary="Public trades before the cut-off, newest first")
async def get_trades_historical(request: Request, ticker: str | None = None, min_ts: UnixSecondsQuery = None,
                                max_ts: UnixSecondsQuery = None, limit: int = Query(100, ge=1, le=1000),
                                cursor: str | None = None, is_block_trade: bool | None = None):
    if is_block_trade:
        return ok({"trades": [], "cursor": ""})
    page = service(request).trades(ticker=ticker, min_ms=ms(min_ts), max_ms=H.before(_cutoff(request), ms_end(max_ts)),
                                   cursor=cursor, limit=limit)
    return ok({"trades": [wire.trade(t) for t in page.items], "cursor": page.cursor})


@router.get("/historical/fills", summary="Your fills before the cut-off, newest first")
async def get_fills_historical(request: Request, ticker: str | None = None, min_ts: UnixSecondsQuery = None,
                               max_ts: UnixSecondsQuery = None, limit: int = Query(100, ge=1, le=1000),
                               cursor: str | None = None, subaccount: int | None = None,
                               user: Principal = Depends(current_user)):
    user_id = service(request).subaccount_user(user.user_id, subaccount)
    page = service(request).fills(user_id, ticker=ticker, min_ms=ms(min_ts),
                                  max_ms=H.before(_cutoff(request), ms_end(max_ts)), cursor=cursor, limit=limit)
    return ok({"fills": [wire.fill(f) for f in page.items], "cursor": page.cursor})


@router.get("/historical/orders", summary="Your orders cancelled or executed before the cut-off, newest first")
async def get_historical_orders(request: Request, ticker: str | None = None, min_ts: UnixSecondsQuery = None,
                                max_ts: UnixSecondsQuery = None, limit: int = Query(100, ge=1, le=1000),
                                cursor: str | None = None, subaccount: int | None = None,
                                user: Principal = Depends(current_user)):
    user_id = service(request).subaccount_user(user.user_id, subaccount)
    page = service(request).finished_orders(user_id, _cutoff(request), ticker=ticker, min_ms=ms(min_ts),
                                            max_ms=ms_end(max_ts), cursor=cursor, limit=limit)
    return ok({"orders": [wire.order(o) for o in page.items], "cursor": page.cursor})


@router.get("/historical/positions", summary="Your positions in markets settled before the cut-off")
async def get_historical_positions(request: Request, ticker: str | None = None, event_ticker: str | None = None,
                                   subaccount: int | None = None, limit: int = Query(100, ge=1, le=1000),
                                   cursor: str | None = None, user: Principal = Depends(current_user)):
    user_id = service(request).subaccount_user(user.user_id, subaccount)
    svc = service(request)
    page, _events = svc.positions(user_id, ticker=ticker, event_ticker=event_ticker, include_closed=True,
                                  cursor=cursor, limit=limit)
    tickers = [p.ticker for p in page.items]
    settled = {m.ticker for m in svc.list_markets(tickers=tickers, status="finalized",
                                                  max_settled_ms=_cutoff(request) - 1, limit=1000).items} if tickers else set()
    # A page of live positions filtered: it may hold fewer than `limit`; the cursor still walks them all.
    return ok({"market_positions": [wire.market_position(p) for p in page.items if p.ticker in settled],
               "event_positions": [], "cursor": page.cursor})
