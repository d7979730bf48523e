"""Kalshi's cash deposit and withdrawal history of the signed-in user (exchange/custody_history.py
says where each comes from). Custodial users only: a wallet account's money never passes
through the venue's cash rails."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from exchange import custody_history as H
from exchange.units import cents

from api.auth import Principal, current_user
from api.routes._common import ok, service

router = APIRouter(tags=["portfolio"])


def _movement(m: H.CashMovement) -> dict:
    return {"id": m.id, "status": m.status, "type": m.type, "amount_cents": cents(m.amount), "fee_cents": 0,
            "created_ts": m.created_ms // 1000,
            "finalized_ts": None if m.finalized_ms is None else m.finalized_ms // 1000}


@router.get("/portfolio/deposits", summary="Cash deposits, newest first")
async def get_deposits(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                       user: Principal = Depends(current_user)):
    page = service(request).cash_deposits(user.user_id, cursor=cursor, limit=limit)
    return ok({"deposits": [_movement(m) for m in page.items], "cursor": page.cursor})


@router.get("/portfolio/withdrawals", summary="Cash withdrawals, newest first")
async def get_withdrawals(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                          user: Principal = Depends(current_user)):
    page = service(request).cash_withdrawals(user.user_id, cursor=cursor, limit=limit)
    return ok({"withdrawals": [_movement(m) for m in page.items], "cursor": page.cursor})
