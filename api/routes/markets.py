"""Series, events, markets, order books and public trades (public market data: no signature needed)."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from exchange.errors import InvalidRequest

from api.routes import candlesticks, historical
from api.routes._common import UnixSecondsQuery, csv, ms, ms_end, ok, service
from api.schemas import wire

router = APIRouter(tags=["market data"])
router.include_router(candlesticks.router)  # first: /markets/candlesticks before /markets/{ticker}
router.include_router(historical.router)


@router.get("/series", summary="Series list")
async def get_series_list(request: Request, category: str | None = None, tags: str | None = None,
                          include_product_metadata: bool = False, include_volume: bool = False,
                          min_updated_ts: UnixSecondsQuery = None):
    svc = service(request)
    wanted = set(csv(tags) or [])
    out, cursor = [], None
    while cursor != "":  # Kalshi's series list is not paginated: return them all
        page = svc.list_series(category=category, cursor=cursor, limit=1000)
        out.extend(s for s in page.items if not wanted or wanted & set(s.tags))
        cursor = page.cursor
    return ok({"series": [wire.series(s) for s in out]})


@router.get("/series/{series_ticker}", summary="One series")
async def get_series(request: Request, series_ticker: str, include_volume: bool = False):
    return ok({"series": wire.series(service(request).get_series(series_ticker))})


_EVENT_STATUS = {"open": "open", "closed": "closed", "settled": "finalized"}


@router.get("/events", summary="Events (cursor pagination)")
async def get_events(request: Request, limit: int = Query(100, ge=1, le=200), cursor: str | None = None,
                     with_nested_markets: bool = False, with_milestones: bool = False, status: str | None = None,
                     series_ticker: str | None = None, tickers: str | None = None, min_close_ts: UnixSecondsQuery = None,
                     min_updated_ts: UnixSecondsQuery = None):
    if status is not None and status not in ("unopened", "open", "closed", "settled"):
        raise InvalidRequest("status must be unopened, open, closed or settled", code="invalid_parameters")
    if status == "unopened":
        return ok({"events": [], "cursor": ""})
    page = service(request).list_events(series_ticker=series_ticker, status=_EVENT_STATUS.get(status or ""),
                                        with_markets=with_nested_markets, tickers=csv(tickers),
                                        min_close_ms=ms(min_close_ts), min_updated_ms=ms(min_updated_ts),
                                        cursor=cursor, limit=limit)
    return ok({"events": [wire.event(e, nested=with_nested_markets) for e in page.items], "cursor": page.cursor})


@router.get("/events/{event_ticker}", summary="One event")
async def get_event(request: Request, event_ticker: str, with_nested_markets: bool = False):
    view = service(request).get_event(event_ticker, with_markets=True)
    markets = [wire.market(m) for m in view.markets or []]
    body = wire.event(view)
    if with_nested_markets:
        body["markets"] = markets
    return ok({"event": body, "markets": [] if with_nested_markets else markets})


@router.get("/markets", summary="Markets (filters, cursor pagination)")
async def get_markets(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                      event_ticker: str | None = None, series_ticker: str | None = None,
                      max_close_ts: UnixSecondsQuery = None, min_close_ts: UnixSecondsQuery = None,
                      min_created_ts: UnixSecondsQuery = None, max_created_ts: UnixSecondsQuery = None,
                      min_updated_ts: UnixSecondsQuery = None, max_updated_ts: UnixSecondsQuery = None,
                      min_settled_ts: UnixSecondsQuery = None, max_settled_ts: UnixSecondsQuery = None,
                      status: str | None = None, tickers: str | None = None, mve_filter: str | None = None):
    if status is not None and status not in wire.STATUS_FILTER:
        raise InvalidRequest(f"status must be one of {', '.join(wire.STATUS_FILTER)}", code="invalid_parameters")
    statuses = wire.STATUS_FILTER[status] if status else None
    if status and not statuses or mve_filter == "only":  # no unopened or multivariate markets here
        return ok({"markets": [], "cursor": ""})
    page = service(request).list_markets(event_ticker=event_ticker, series_ticker=series_ticker, status=statuses,
                                         tickers=csv(tickers), min_close_ms=ms(min_close_ts), max_close_ms=ms_end(max_close_ts),
                                         min_created_ms=ms(min_created_ts), max_created_ms=ms_end(max_created_ts),
                                         min_updated_ms=ms(min_updated_ts), max_updated_ms=ms_end(max_updated_ts),
                                         min_settled_ms=ms(min_settled_ts), max_settled_ms=ms_end(max_settled_ts),
                                         cursor=cursor, limit=limit)
    return ok({"markets": [wire.market(m) for m in page.items], "cursor": page.cursor})


@router.get("/markets/trades", summary="Public trades, newest first")
async def get_trades(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                     ticker: str | None = None, min_ts: UnixSecondsQuery = None, max_ts: UnixSecondsQuery = None,
                     is_block_trade: bool | None = None):
    if is_block_trade:
        return ok({"trades": [], "cursor": ""})
    page = service(request).trades(ticker=ticker, min_ms=ms(min_ts), max_ms=ms_end(max_ts), cursor=cursor, limit=limit)
    return ok({"trades": [wire.trade(t) for t in page.items], "cursor": page.cursor})


def _depth(depth: int | None) -> int | None:
    return None if depth is None or depth <= 0 else min(depth, 100)


@router.get("/markets/orderbooks", summary="Order books of several markets")
async def get_market_orderbooks(request: Request, tickers: list[str] = Query(...)):
    names = [t for item in tickers for t in (csv(item) or [])]
    if not names or len(names) > 100:
        raise InvalidRequest("give 1 to 100 tickers", code="invalid_parameters")
    svc = service(request)
    return ok({"orderbooks": [{"ticker": t, "orderbook_fp": wire.orderbook(svc.orderbook(t))} for t in names]})


@router.get("/markets/{ticker}", summary="One market")
async def get_market(request: Request, ticker: str):
    return ok({"market": wire.market(service(request).get_market(ticker))})


@router.get("/markets/{ticker}/orderbook", summary="A market's order book: YES bids and NO bids")
async def get_market_orderbook(request: Request, ticker: str, depth: int | None = None):
    return ok({"orderbook_fp": wire.orderbook(service(request).orderbook(ticker, _depth(depth)))})
