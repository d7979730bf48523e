"""A user's own balance, positions, fills and settlements (never anyone else's)."""
from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Depends, Query, Request

from exchange.errors import InvalidRequest

from api.auth import Principal, current_user
from api.routes import access, history, subaccounts
from api.routes._common import UnixSecondsQuery, csv, ms, ms_end, ok, service
from api.schemas import wire
from api.schemas.convert import dollars

router = APIRouter(tags=["portfolio"])
router.include_router(history.router)  # deposits and withdrawals
router.include_router(access.router)  # /account/limits, /account/endpoint_costs
router.include_router(subaccounts.router)  # /portfolio/subaccounts...


@router.get("/portfolio/balance", summary="Cash available to trade and portfolio value, in cents")
async def get_balance(request: Request, subaccount: int | None = None, exchange_index: int | None = None,
                      user: Principal = Depends(current_user)):
    user_id = service(request).subaccount_user(user.user_id, subaccount)  # 0 / None: the user itself
    return ok(wire.balance(service(request).balance(user_id)))


@router.get("/portfolio/positions", summary="Market and event positions")
async def get_positions(request: Request, cursor: str | None = None, limit: int = Query(100, ge=1, le=1000),
                        count_filter: str | None = None, settlement_status: str | None = None,
                        ticker: str | None = None, event_ticker: str | None = None, subaccount: int | None = None,
                        exchange_index: int | None = None, user: Principal = Depends(current_user)):
    user_id = service(request).subaccount_user(user.user_id, subaccount)  # 0 / None: the user itself
    filters = set(csv(count_filter) or [])
    if filters - {"position", "total_traded"}:
        raise InvalidRequest("count_filter takes position and/or total_traded", code="invalid_parameters")
    if settlement_status not in (None, "all", "settled", "unsettled"):
        raise InvalidRequest("settlement_status must be all, settled or unsettled", code="invalid_parameters")
    page, _events = service(request).positions(user_id, ticker=ticker, event_ticker=event_ticker,
                                               include_closed=settlement_status in ("all", "settled"),
                                               cursor=cursor, limit=limit)
    positions = [p for p in page.items
                 if not filters or ("position" in filters and p.position) or ("total_traded" in filters and p.total_traded)]
    shares: dict[str, int] = defaultdict(int)
    for p in positions:
        shares[p.event_ticker] += abs(p.position)
    events = [e for e in _events if e.event_ticker in shares]
    return ok({"market_positions": [wire.market_position(p) for p in positions],
               "event_positions": [wire.event_position(e, shares[e.event_ticker]) for e in events],
               "cursor": page.cursor})


@router.get("/portfolio/fills", summary="The user's fills, newest first")
async def get_fills(request: Request, ticker: str | None = None, order_id: str | None = None,
                    min_ts: UnixSecondsQuery = None, max_ts: UnixSecondsQuery = None, limit: int = Query(100, ge=1, le=1000),
                    cursor: str | None = None, subaccount: int | None = None, exchange_index: int | None = None,
                    user: Principal = Depends(current_user)):
    user_id = service(request).subaccount_user(user.user_id, subaccount)  # 0 / None: the user itself
    page = service(request).fills(user_id, ticker=ticker, order_id=order_id, min_ms=ms(min_ts), max_ms=ms_end(max_ts),
                                  cursor=cursor, limit=limit)
    return ok({"fills": [wire.fill(f) for f in page.items], "cursor": page.cursor})


@router.get("/portfolio/settlements", summary="Payouts of finalized markets")
async def get_settlements(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                          ticker: str | None = None, event_ticker: str | None = None, min_ts: UnixSecondsQuery = None,
                          max_ts: UnixSecondsQuery = None, subaccount: int | None = None,
                          user: Principal = Depends(current_user)):
    user_id = service(request).subaccount_user(user.user_id, subaccount)  # 0 / None: the user itself
    page = service(request).settlements(user_id, ticker=ticker, event_ticker=event_ticker, min_ms=ms(min_ts),
                                        max_ms=ms_end(max_ts), cursor=cursor, limit=limit)
    return ok({"settlements": [wire.settlement(s) for s in page.items], "cursor": page.cursor})


@router.get("/portfolio/summary/total_resting_order_value", summary="Cash held by resting orders, in cents")
async def get_total_resting_order_value(request: Request, user: Principal = Depends(current_user)):
    held = service(request).balance(user.user_id).held
    return ok({"total_resting_order_value": held // 10_000,
               "resting_order_value_breakdown": [{"exchange_index": 0, "balance": dollars(held)}]})
