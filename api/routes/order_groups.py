"""Order groups: a contracts limit over several orders, counted over a rolling 15-second
window; when the group's fills in the window reach it (or on trigger), the group's orders are
cancelled and it refuses new ones until reset. A group belongs to one subaccount (`subaccount`,
0 or omitted: the primary; each subaccount is its own user row, exchange/service/subaccounts.py);
an order naming a group of another of the user's subaccounts is refused (400
order_group_subaccount_mismatch). get/list with no `subaccount` look in all of the user's."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from api.auth import Principal, current_user
from api.routes._common import ok, service
from api.schemas import requests as rq
from api.schemas import wire
from exchange import errors


def _acting(request: Request, user: Principal, subaccount: int | None) -> int:
    """The account a group command acts for: the signer (0 / omitted) or its numbered subaccount."""
    return service(request).subaccount_user(user.user_id, subaccount)


def _searched(request: Request, user: Principal, subaccount: int | None) -> list[int]:
    """The accounts a read looks in: the one named, or (omitted) all of the user's (Kalshi's default)."""
    if subaccount is not None:
        return [_acting(request, user, subaccount)]
    return [user.user_id] + [uid for _number, uid in service(request).subaccounts(user.user_id)[1:]]

router = APIRouter(tags=["order groups"])


def _tell(request: Request, user_id: int, event_type: str, group_id: str, contracts_limit: int) -> None:
    """The WebSocket order_group_updates channel hears of every command that changed a group."""
    request.app.state.hub.order_group_event(user_id, event_type, group_id, contracts_limit)


@router.post("/portfolio/order_groups/create", status_code=201, summary="Create an order group")
async def create_order_group(request: Request, body: rq.CreateOrderGroup, user: Principal = Depends(current_user)):
    limit = body.limit()
    uid = _acting(request, user, body.subaccount)
    group = service(request).create_order_group(uid, limit)
    _tell(request, user.user_id, "created", group.order_group_id, group.contracts_limit)
    return ok({"order_group_id": group.order_group_id, "subaccount": body.subaccount or 0}, 201)


@router.get("/portfolio/order_groups", summary="The user's order groups")
async def get_order_groups(request: Request, subaccount: int | None = None, user: Principal = Depends(current_user)):
    svc = service(request)
    return ok({"order_groups": [wire.order_group_summary(g) for uid in _searched(request, user, subaccount)
                                for g in svc.list_order_groups(uid)]})


@router.get("/portfolio/order_groups/{order_group_id}", summary="One order group and its resting orders")
async def get_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                          user: Principal = Depends(current_user)):
    svc = service(request)
    for uid in _searched(request, user, subaccount):
        try:
            return ok(wire.order_group(svc.get_order_group(uid, order_group_id)))
        except errors.NotFound:
            continue
    raise errors.NotFound(f"order group {order_group_id} not found", code="order_group_not_found")


@router.delete("/portfolio/order_groups/{order_group_id}", summary="Cancel the group's orders and delete it")
async def delete_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                             exchange_index: int | None = None, user: Principal = Depends(current_user)):
    uid = _acting(request, user, subaccount)
    svc = service(request)
    limit = svc.get_order_group(uid, order_group_id).contracts_limit
    svc.delete_order_group(uid, order_group_id)
    _tell(request, user.user_id, "deleted", order_group_id, limit)
    return ok({})


@router.put("/portfolio/order_groups/{order_group_id}/reset", summary="Zero the group's filled count")
async def reset_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                            exchange_index: int | None = None, user: Principal = Depends(current_user)):
    group = service(request).reset_order_group(_acting(request, user, subaccount), order_group_id)
    _tell(request, user.user_id, "reset", order_group_id, group.contracts_limit)
    return ok({})


@router.put("/portfolio/order_groups/{order_group_id}/trigger", summary="Cancel the group's orders; refuse new ones until reset")
async def trigger_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                              exchange_index: int | None = None, user: Principal = Depends(current_user)):
    uid = _acting(request, user, subaccount)
    svc = service(request)
    svc.trigger_order_group(uid, order_group_id)
    _tell(request, user.user_id, "triggered", order_group_id, svc.get_order_group(uid, order_group_id).contracts_limit)
    return ok({})


@router.put("/portfolio/order_groups/{order_group_id}/limit", summary="Change the group's contracts limit")
async def update_order_group_limit(request: Request, order_group_id: str, body: rq.UpdateOrderGroupLimit,
                                   subaccount: int | None = None, exchange_index: int | None = None,
                                   user: Principal = Depends(current_user)):
    limit = body.limit()
    group = service(request).update_order_group_limit(_acting(request, user, subaccount), order_group_id, limit)
    _tell(request, user.user_id, "limit_updated", order_group_id, group.contracts_limit)
    if group.is_auto_cancel_enabled:  # what the window already matched reaches the new limit
        _tell(request, user.user_id, "triggered", order_group_id, group.contracts_limit)
    return ok({})
