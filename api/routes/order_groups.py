"""Order groups: a contracts limit over several orders, counted over a rolling 15-second
window; when the group's fills in the window reach it (or on trigger), the group's orders are
cancelled and it refuses new ones until reset."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from api.auth import Principal, current_user
from api.routes._common import check_subaccount, ok, service
from api.schemas import requests as rq
from api.schemas import wire

router = APIRouter(tags=["order groups"])


def _tell(request: Request, user_id: int, event_type: str, group_id: str, contracts_limit: int) -> None:
    """The WebSocket order_group_updates channel hears of every command that changed a group."""
    request.app.state.hub.order_group_event(user_id, event_type, group_id, contracts_limit)


@router.post("/portfolio/order_groups/create", status_code=201, summary="Create an order group")
async def create_order_group(request: Request, body: rq.CreateOrderGroup, user: Principal = Depends(current_user)):
    group = service(request).create_order_group(user.user_id, body.limit())
    _tell(request, user.user_id, "created", group.order_group_id, group.contracts_limit)
    return ok({"order_group_id": group.order_group_id, "subaccount": 0}, 201)


@router.get("/portfolio/order_groups", summary="The user's order groups")
async def get_order_groups(request: Request, subaccount: int | None = None, user: Principal = Depends(current_user)):
    check_subaccount(subaccount)
    return ok({"order_groups": [wire.order_group_summary(g) for g in service(request).list_order_groups(user.user_id)]})


@router.get("/portfolio/order_groups/{order_group_id}", summary="One order group and its resting orders")
async def get_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                          user: Principal = Depends(current_user)):
    check_subaccount(subaccount)
    return ok(wire.order_group(service(request).get_order_group(user.user_id, order_group_id)))


@router.delete("/portfolio/order_groups/{order_group_id}", summary="Cancel the group's orders and delete it")
async def delete_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                             exchange_index: int | None = None, user: Principal = Depends(current_user)):
    check_subaccount(subaccount)
    svc = service(request)
    limit = svc.get_order_group(user.user_id, order_group_id).contracts_limit
    svc.delete_order_group(user.user_id, order_group_id)
    _tell(request, user.user_id, "deleted", order_group_id, limit)
    return ok({})


@router.put("/portfolio/order_groups/{order_group_id}/reset", summary="Zero the group's filled count")
async def reset_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                            exchange_index: int | None = None, user: Principal = Depends(current_user)):
    check_subaccount(subaccount)
    group = service(request).reset_order_group(user.user_id, order_group_id)
    _tell(request, user.user_id, "reset", order_group_id, group.contracts_limit)
    return ok({})


@router.put("/portfolio/order_groups/{order_group_id}/trigger", summary="Cancel the group's orders; refuse new ones until reset")
async def trigger_order_group(request: Request, order_group_id: str, subaccount: int | None = None,
                              exchange_index: int | None = None, user: Principal = Depends(current_user)):
    check_subaccount(subaccount)
    svc = service(request)
    svc.trigger_order_group(user.user_id, order_group_id)
    _tell(request, user.user_id, "triggered", order_group_id, svc.get_order_group(user.user_id, order_group_id).contracts_limit)
    return ok({})


@router.put("/portfolio/order_groups/{order_group_id}/limit", summary="Change the group's contracts limit")
async def update_order_group_limit(request: Request, order_group_id: str, body: rq.UpdateOrderGroupLimit,
                                   subaccount: int | None = None, exchange_index: int | None = None,
                                   user: Principal = Depends(current_user)):
    check_subaccount(subaccount)
    group = service(request).update_order_group_limit(user.user_id, order_group_id, body.limit())
    _tell(request, user.user_id, "limit_updated", order_group_id, group.contracts_limit)
    if group.is_auto_cancel_enabled:  # what the window already matched reaches the new limit
        _tell(request, user.user_id, "triggered", order_group_id, group.contracts_limit)
    return ok({})
