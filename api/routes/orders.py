"""Orders: the V2 endpoints (`/portfolio/events/orders`, one book, `bid`/`ask` at a YES price)
and the legacy `/portfolio/orders` ones (side yes/no, action buy/sell, cents or dollars).

Batches run each order on its own, as Kalshi's do: one refusal does not stop the others,
and each item reports its own result or error. A body that does not parse is refused
whole (400) before anything is written.
"""
from __future__ import annotations

import time

from fastapi import APIRouter, Body, Depends, Query, Request

from exchange.errors import ExchangeError, InvalidRequest, NotFound
from exchange.schemas import FillView, OrderView

from api.auth import Principal, charge_items, current_user
from api.errors import error_item
from api.routes._common import (AppContext, UnixSecondsQuery, app_context, csv, grouped, ms, ms_end,
                                no_content, ok, service)
from api.schemas import requests as rq
from api.schemas import wire
from api.schemas.convert import ONE, count_fp, from_contracts, parse_count, parse_dollars

router = APIRouter(tags=["orders"])


def _now_ms() -> int:
    return int(time.time() * 1000)


def _v2_result(order: OrderView, fills: list[FillView]) -> dict:
    mine = [f for f in fills if f.order_id == order.order_id]
    avg_price, avg_fee = wire.fills_summary(mine)
    return {"order_id": order.order_id, "client_order_id": order.client_order_id,
            "fill_count": count_fp(order.fill_count), "remaining_count": count_fp(order.remaining_count),
            "average_fill_price": avg_price, "average_fee_paid": avg_fee, "ts_ms": order.updated_ms or _now_ms()}


BATCH_V2 = "/trade-api/v2/portfolio/events/orders/batched"  # its cost per item (api/limits.py)


def _acting(svc, user: Principal, subaccount: int | None) -> int:
    """The user an order command acts as: the signer, or its numbered subaccount (a DB read only then)."""
    return user.user_id if not subaccount else svc.subaccount_user(user.user_id, subaccount)


def _one_subaccount(items) -> int | None:
    """A batch acts for one subaccount (Tandem: its orders are one command of one account)."""
    numbers = {item.subaccount or 0 for item in items}
    if len(numbers) > 1:
        raise InvalidRequest("the orders of a batch must name the same subaccount", code="invalid_parameters")
    return numbers.pop()


def _any_subaccounts_order(svc, user: Principal, order_id: str) -> OrderView:
    """One of the user's orders, in whichever of its subaccounts it is (Kalshi's get_order names none)."""
    try:
        return svc.get_order(user.user_id, order_id)
    except NotFound:
        for _number, uid in svc.subaccounts(user.user_id)[1:]:
            try:
                return svc.get_order(uid, order_id)
            except NotFound:
                continue
        raise


def _attributed(req, user: Principal):
    """An order naming no builder is credited to the builder bound to the signing key, if any."""
    if req.builder_code is None:
        req.builder_code = user.builder_code
    return req


# ---------------------------------------------------------------------------------- V2
# The hottest routes are also served by api/fast_lane.py, straight off ASGI; both ways run
# these handlers (place_v2, batch_place_v2, batch_cancel_v2, place_legacy), so they cannot drift apart.
async def place_v2(context: AppContext, user: Principal, body: rq.CreateOrderV2) -> dict:
    svc, req = context.service, _attributed(body.to_request(), user)
    uid = _acting(svc, user, body.subaccount)
    order, fills = await context.grouped(lambda: svc.place_order(uid, req))
    return _v2_result(order, fills)


async def batch_cancel_v2(context: AppContext, user: Principal, body: rq.BatchCancelV2) -> dict:
    svc, ids = context.service, [o.order_id for o in body.orders]
    charge_items(context.auth, user, "DELETE", BATCH_V2, len(ids))  # every cancel is billed
    uid = _acting(svc, user, _one_subaccount(body.orders))
    results = await context.grouped(lambda: svc.batch_cancel(uid, ids))
    out = []
    for item, result in zip(body.orders, results):
        if isinstance(result, ExchangeError):
            out.append({"order_id": item.order_id, "reduced_by": count_fp(0), "error": error_item(result)})
        else:
            order, reduced = result
            out.append({"order_id": order.order_id, "client_order_id": order.client_order_id,
                        "reduced_by": count_fp(reduced), "ts_ms": order.updated_ms})
    return {"orders": out}


@router.post("/portfolio/events/orders", status_code=201, summary="Create an order (V2: bid/ask at a YES price)")
async def create_order_v2(request: Request, body: rq.CreateOrderV2, user: Principal = Depends(current_user)):
    return ok(await place_v2(app_context(request.app.state), user, body), 201)


async def batch_place_v2(context: AppContext, user: Principal, body: rq.BatchCreateV2) -> dict:
    results = await _batch_place(context, user, body.orders)
    out = []
    for item, result in zip(body.orders, results):
        if isinstance(result, ExchangeError):
            out.append({"client_order_id": item.client_order_id, "error": error_item(result)})
        else:
            out.append(_v2_result(*result))
    return {"orders": out}


@router.post("/portfolio/events/orders/batched", status_code=201, summary="Create up to 20 orders (V2)")
async def batch_create_orders_v2(request: Request, body: rq.BatchCreateV2, user: Principal = Depends(current_user)):
    return ok(await batch_place_v2(app_context(request.app.state), user, body), 201)


async def _batch_place(context: AppContext, user: Principal, items) -> list:
    """Convert each item (a bad one becomes its own error), then place the good ones in one go."""
    charge_items(context.auth, user, "POST", BATCH_V2, len(items))  # every order is billed
    converted: list = []
    for item in items:
        try:
            converted.append(_attributed(item.to_request(), user))
        except ExchangeError as exc:
            converted.append(exc)
    good = [c for c in converted if not isinstance(c, ExchangeError)]
    svc = context.service
    uid = _acting(svc, user, _one_subaccount(items))
    placed = iter(await context.grouped(lambda: svc.batch_place(uid, good)) if good else [])
    return [c if isinstance(c, ExchangeError) else next(placed) for c in converted]


@router.delete("/portfolio/events/orders", status_code=204, summary="Cancel all of the user's resting orders")
async def cancel_all_orders(request: Request, subaccount: int | None = None, ticker: str | None = None,
                            user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, subaccount)
    service(request).cancel_all(uid, ticker=ticker)
    return no_content()


@router.delete("/portfolio/events/orders/batched", summary="Cancel up to 20 orders (V2)")
async def batch_cancel_orders_v2(request: Request, body: rq.BatchCancelV2, user: Principal = Depends(current_user)):
    return ok(await batch_cancel_v2(app_context(request.app.state), user, body))


@router.delete("/portfolio/events/orders/{order_id}", summary="Cancel an order (V2)")
async def cancel_order_v2(request: Request, order_id: str, subaccount: int | None = None,
                          exchange_index: int | None = None, market_ticker: str | None = None,
                          user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, subaccount)
    svc = service(request)
    order, reduced = await grouped(request, lambda: svc.cancel_order(uid, order_id))
    return ok({"order_id": order.order_id, "client_order_id": order.client_order_id,
               "reduced_by": count_fp(reduced), "ts_ms": order.updated_ms})


def _check_same_order(order: OrderView, ticker: str, book_side: str | None = None,
                      side: str | None = None, action: str | None = None) -> None:
    if order.ticker != ticker:
        raise InvalidRequest(f"order {order.order_id} is in {order.ticker}, not {ticker}", code="invalid_parameters")
    if book_side is not None and order.book_side != book_side:
        raise InvalidRequest(f"order {order.order_id} is a {order.book_side}, not a {book_side}", code="invalid_parameters")
    if side is not None and (order.side, order.action) != (side, action):
        raise InvalidRequest(f"order {order.order_id} is {order.action} {order.side}, not {action} {side}",
                             code="invalid_parameters")


@router.post("/portfolio/events/orders/{order_id}/amend", summary="Amend price and/or count (V2)")
async def amend_order_v2(request: Request, order_id: str, body: rq.AmendOrderV2, subaccount: int | None = None,
                         user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, subaccount)
    svc = service(request)
    _check_same_order(svc.get_order(uid, order_id), body.ticker, book_side=body.side)
    price = parse_dollars(body.price, "price")
    _old, new, fills = svc.amend_order(uid, order_id, price=price, count=parse_count(body.count),
                                       client_order_id=body.updated_client_order_id)
    return ok(_v2_result(new, fills))


@router.post("/portfolio/events/orders/{order_id}/decrease", summary="Decrease an order in place (V2)")
async def decrease_order_v2(request: Request, order_id: str, body: rq.DecreaseOrderV2, subaccount: int | None = None,
                            user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, subaccount)
    order = service(request).decrease_order(
        uid, order_id,
        reduce_by=parse_count(body.reduce_by, "reduce_by") if body.reduce_by is not None else None,
        reduce_to=parse_count(body.reduce_to, "reduce_to") if body.reduce_to is not None else None)
    return ok({"order_id": order.order_id, "client_order_id": order.client_order_id,
               "remaining_count": count_fp(order.remaining_count), "ts_ms": order.updated_ms})


# ---------------------------------------------------------------------------------- legacy
async def place_legacy(context: AppContext, user: Principal, body: rq.CreateOrderLegacy) -> dict:
    svc, req = context.service, _attributed(body.to_request(), user)
    uid = _acting(svc, user, body.subaccount)
    order, _fills = await context.grouped(lambda: svc.place_order(uid, req))
    return {"order": wire.order(order)}


@router.post("/portfolio/orders", status_code=201, summary="Create an order (legacy: side/action, cents or dollars)")
async def create_order(request: Request, body: rq.CreateOrderLegacy, user: Principal = Depends(current_user)):
    return ok(await place_legacy(app_context(request.app.state), user, body), 201)


@router.get("/portfolio/orders", summary="The user's orders, newest first")
async def get_orders(request: Request, ticker: str | None = None, event_ticker: str | None = None,
                     min_ts: UnixSecondsQuery = None, max_ts: UnixSecondsQuery = None, status: str | None = None,
                     limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                     subaccount: int | None = None, exchange_index: int | None = None,
                     user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, subaccount)
    if status is not None and status not in ("resting", "canceled", "executed"):
        raise InvalidRequest("status must be resting, canceled or executed", code="invalid_parameters")
    page = service(request).list_orders(uid, ticker=ticker, event_ticker=event_ticker, status=status,
                                        min_ms=ms(min_ts), max_ms=ms_end(max_ts), cursor=cursor, limit=limit)
    return ok({"orders": [wire.order(o) for o in page.items], "cursor": page.cursor})


@router.post("/portfolio/orders/batched", status_code=201, summary="Create up to 20 orders (legacy)")
async def batch_create_orders(request: Request, body: rq.BatchCreateLegacy, user: Principal = Depends(current_user)):
    results = await _batch_place(app_context(request.app.state), user, body.orders)
    out = []
    for item, result in zip(body.orders, results):
        if isinstance(result, ExchangeError):
            out.append({"client_order_id": item.client_order_id, "order": None, "error": error_item(result)})
        else:
            out.append({"client_order_id": result[0].client_order_id, "order": wire.order(result[0]), "error": None})
    return ok({"orders": out}, 201)


@router.delete("/portfolio/orders/batched", summary="Cancel up to 20 orders (legacy)")
async def batch_cancel_orders(request: Request, body: rq.BatchCancelLegacy = Body(...),
                              user: Principal = Depends(current_user)):
    ids, svc = body.order_ids(), service(request)
    charge_items(request.app.state.auth, user, "DELETE", "/trade-api/v2/portfolio/orders/batched", len(ids))
    results = await grouped(request, lambda: svc.batch_cancel(user.user_id, ids))
    out = []
    for order_id, result in zip(ids, results):
        if isinstance(result, ExchangeError):
            out.append({"order_id": order_id, "order": None, "reduced_by_fp": count_fp(0), "error": error_item(result)})
        else:
            order, reduced = result
            out.append({"order_id": order_id, "order": wire.order(order), "reduced_by_fp": count_fp(reduced),
                        "error": None})
    return ok({"orders": out})


@router.get("/portfolio/orders/queue_positions", summary="Queue positions of the user's resting orders")
async def get_order_queue_positions(request: Request, market_tickers: str | None = None,
                                    event_ticker: str | None = None, subaccount: int | None = None,
                                    user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, subaccount)
    tickers = csv(market_tickers)
    positions = []
    for ticker in tickers or [None]:
        positions += service(request).queue_positions(uid, ticker=ticker, event_ticker=event_ticker)
    return ok({"queue_positions": [{"order_id": q.order_id, "market_ticker": q.ticker,
                                    "queue_position_fp": count_fp(q.queue_position)} for q in positions]})


@router.get("/portfolio/orders/{order_id}", summary="One of the user's orders")
async def get_order(request: Request, order_id: str, user: Principal = Depends(current_user)):
    return ok({"order": wire.order(_any_subaccounts_order(service(request), user, order_id))})


@router.delete("/portfolio/orders/{order_id}", summary="Cancel an order (legacy)")
async def cancel_order(request: Request, order_id: str, subaccount: int | None = None,
                       user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, subaccount)
    svc = service(request)
    order, reduced = await grouped(request, lambda: svc.cancel_order(uid, order_id))
    return ok({"order": wire.order(order), "reduced_by": reduced // ONE, "reduced_by_fp": count_fp(reduced)})


@router.post("/portfolio/orders/{order_id}/amend", summary="Amend price and/or count (legacy)")
async def amend_order(request: Request, order_id: str, body: rq.AmendOrderLegacy, user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, body.subaccount)
    svc = service(request)
    current = svc.get_order(uid, order_id)
    _check_same_order(current, body.ticker, side=body.side, action=body.action)
    yes, no = rq.legacy_prices(body.yes_price, body.no_price, body.yes_price_dollars, body.no_price_dollars)
    price = yes if yes is not None else (ONE - no if no is not None else None)
    count = rq.legacy_count(body.count, body.count_fp)
    if price is None and count is None:
        raise InvalidRequest("give a new price and/or count", code="invalid_parameters")
    old, new, _fills = svc.amend_order(uid, order_id, price=price, count=count,
                                       client_order_id=body.updated_client_order_id)
    return ok({"old_order": wire.order(old), "order": wire.order(new)})


@router.post("/portfolio/orders/{order_id}/decrease", summary="Decrease an order in place (legacy)")
async def decrease_order(request: Request, order_id: str, body: rq.DecreaseOrderLegacy,
                         user: Principal = Depends(current_user)):
    uid = _acting(service(request), user, body.subaccount)
    reduce_by = rq.legacy_count(body.reduce_by, body.reduce_by_fp)
    reduce_to = (parse_count(body.reduce_to_fp, "reduce_to_fp") if body.reduce_to_fp is not None
                 else from_contracts(body.reduce_to) if body.reduce_to is not None else None)
    order = service(request).decrease_order(uid, order_id, reduce_by=reduce_by, reduce_to=reduce_to)
    return ok({"order": wire.order(order)})


@router.get("/portfolio/orders/{order_id}/queue_position", summary="Contracts ahead of a resting order")
async def get_order_queue_position(request: Request, order_id: str, user: Principal = Depends(current_user)):
    order = service(request).get_order(user.user_id, order_id)
    if order.status != "resting":
        raise InvalidRequest(f"order {order_id} is {order.status}", code="order_not_resting")
    return ok({"queue_position_fp": count_fp(order.queue_position or 0)})
