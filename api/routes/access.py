"""API access: a builder bound to an API key (for clients that cannot send `builder_code`:
Kalshi's SDK has no such field) — and, below, the account's API usage tier and endpoint costs."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from exchange.errors import NotFound

from api import limits
from api.auth import Principal, current_user, operator
from api.routes._common import ok, service

router = APIRouter(tags=["account"])
operator_router = APIRouter(tags=["operator"], dependencies=[Depends(operator)])


class BindBuilder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    builder_code: str | None = Field(min_length=1, max_length=64, description="null: unbind")


@operator_router.put("/api_keys/{key_id}/builder", summary="Credit a builder on the key's orders that name none")
async def bind_api_key_builder(request: Request, key_id: str, body: BindBuilder):
    svc = service(request)
    if svc.get_api_key(key_id) is None:
        raise NotFound(f"API key {key_id} not found", code="api_key_not_found")
    svc.bind_api_key_builder(key_id, body.builder_code)
    request.app.state.auth.forget(key_id)  # the next request loads the binding
    return ok({"api_key_id": key_id, "builder_code": body.builder_code})


# ---------------------------------------------------------------------------------- limits
@router.get("/account/limits", summary="Your API usage tier and its read/write token buckets")
async def get_account_api_limits(request: Request, user: Principal = Depends(current_user)):
    limiter = request.app.state.auth.limiter
    budget = limits.budget(user.tier, limiter.read_per_s, limiter.write_per_s)
    return ok({"usage_tier": budget.tier, "grants": [],
               "read": {"refill_rate": int(budget.refill(False)), "bucket_capacity": int(budget.capacity(False))},
               "write": {"refill_rate": int(budget.refill(True)), "bucket_capacity": int(budget.capacity(True))}})


@router.get("/account/endpoint_costs", summary="Token costs of the endpoints that differ from the default")
async def get_account_endpoint_costs(request: Request, user: Principal = Depends(current_user)):
    return ok({"default_cost": limits.DEFAULT_COST,
               "endpoint_costs": [{"method": m, "path": p, "cost": c} for (m, p), c in limits.ENDPOINT_COSTS.items()]})


class SetTier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier: Literal["basic", "advanced", "premier", "paragon", "prime"] | None = Field(
        description="Kalshi's API usage tier; null: the venue's default")


@operator_router.put("/users/{user_id}/api_tier", summary="Set a user's API usage tier (its rate-limit budgets)")
async def set_api_tier(request: Request, user_id: Annotated[int, Path(ge=0, le=2**63 - 1)], body: SetTier):
    svc = service(request)
    svc.get_user(user_id)  # 404 for an unknown user
    svc.set_api_tier(user_id, body.tier)
    request.app.state.auth.forget_user(user_id)  # the next request loads the tier
    return ok({"user_id": user_id, "usage_tier": body.tier or limits.DEFAULT_TIER})
