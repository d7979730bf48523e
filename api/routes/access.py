"""API access: a builder bound to an API key (for clients that cannot send `builder_code`:
Kalshi's SDK has no such field) — and, below, the account's API usage tier and endpoint costs."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from exchange import api_access
from exchange.errors import NotFound

from api.auth import operator
from api.routes._common import ok, service

operator_router = APIRouter(tags=["operator"], dependencies=[Depends(operator)])


class BindBuilder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    builder_code: str | None = Field(min_length=1, max_length=64, description="null: unbind")


@operator_router.put("/api_keys/{key_id}/builder", summary="Credit a builder on the key's orders that name none")
async def bind_api_key_builder(request: Request, key_id: str, body: BindBuilder):
    svc = service(request)
    if svc.get_api_key(key_id) is None:
        raise NotFound(f"API key {key_id} not found", code="api_key_not_found")
    api_access.bind_builder(svc.db.writer, key_id, body.builder_code)
    request.app.state.auth.forget(key_id)  # the next request loads the binding
    return ok({"api_key_id": key_id, "builder_code": body.builder_code})
