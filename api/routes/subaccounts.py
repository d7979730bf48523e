"""Kalshi's subaccounts: create, balances, cash transfers between them (exchange/service/
subaccounts.py: each is its own custodial account under the user). Portfolio reads take
`subaccount` (api/routes/portfolio.py); order entry still refuses a subaccount other than 0."""
from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from exchange.errors import InvalidRequest

from api.auth import Principal, current_user
from api.routes._common import ok, service
from api.schemas.convert import cents, dollars, from_cents, seconds

router = APIRouter(tags=["subaccounts"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _exchange_index(value: int | None) -> None:
    if value not in (None, 0):
        raise InvalidRequest("exchange_index must be 0", code="invalid_parameters")


class CreateSubaccount(_Body):
    exchange_index: int | None = None


class Transfer(_Body):
    client_transfer_id: UUID
    from_subaccount: int = Field(ge=0, le=63)
    to_subaccount: int = Field(ge=0, le=63)
    amount_cents: int = Field(ge=1, le=92_233_720_368_547)  # base units stay within 64 bits
    exchange_index: int | None = None


@router.post("/portfolio/subaccounts", status_code=201, summary="Create the next numbered subaccount (1-63)")
async def create_subaccount(request: Request, body: CreateSubaccount | None = None,
                            user: Principal = Depends(current_user)):
    _exchange_index(body.exchange_index if body else None)
    return ok({"subaccount_number": service(request).create_subaccount(user.user_id)}, 201)


@router.get("/portfolio/subaccounts/balances", summary="The cash of the primary account (0) and each subaccount")
async def get_subaccount_balances(request: Request, user: Principal = Depends(current_user)):
    svc = service(request)
    out = []
    for number, user_id in svc.subaccounts(user.user_id):
        b = svc.balance(user_id)
        out.append({"subaccount_number": number, "exchange_index": 0, "balance": dollars(b.balance),
                    "updated_ts": seconds(b.updated_ms)})
    return ok({"subaccount_balances": out})


@router.post("/portfolio/subaccounts/transfer", summary="Move cash between two of your subaccounts")
async def apply_subaccount_transfer(request: Request, body: Transfer, user: Principal = Depends(current_user)):
    _exchange_index(body.exchange_index)
    transfer_id = service(request).transfer_between_subaccounts(
        user.user_id, str(body.client_transfer_id), body.from_subaccount, body.to_subaccount, from_cents(body.amount_cents))
    return ok({"transfer_id": transfer_id})


@router.get("/portfolio/subaccounts/transfers", summary="Transfers between your subaccounts, newest first")
async def get_subaccount_transfers(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                                   user: Principal = Depends(current_user)):
    page = service(request).subaccount_transfers(user.user_id, cursor=cursor, limit=limit)
    return ok({"transfers": [{"transfer_id": t["transfer_id"], "from_subaccount": t["from_number"],
                              "to_subaccount": t["to_number"], "amount_cents": cents(t["amount"]),
                              "created_ts": t["created_ms"] // 1000, "exchange_index": 0} for t in page.items],
               "cursor": page.cursor})
