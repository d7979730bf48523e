"""The order handlers shared by the fast lane and the routes take a typed AppContext
(api/routes/_common.py): they need nothing else of the app, so they run here without a server."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from api.auth import Authenticator, Principal, RateLimiter
from api.group_commit import GroupCommit
from api.routes._common import AppContext, app_context
from api.routes.orders import batch_cancel_v2, batch_place_v2, place_v2
from api.schemas import requests as rq
from exchange.service import ExchangeService
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def svc(request, tmp_path):
    with fresh_database(request.param, tmp_path, "context") as url:
        service = ExchangeService(url)
        yield service
        service.close()


async def test_the_order_handlers_run_on_the_app_context_alone(svc):
    maker, taker = svc.create_user("maker"), svc.create_user("taker")
    for user in (maker, taker):
        svc.fund(user.id, cents=100_00)
    svc.create_market("CTX", close_ms=int(time.time() * 1000) + 3_600_000)
    auth = Authenticator(svc, window_ms=30_000, operator_token=None, limiter=RateLimiter(1_000, 1_000))
    state = SimpleNamespace(service=svc, group_commit=GroupCommit(svc), auth=auth, unrelated=object())
    context = app_context(state)
    assert context == AppContext(svc, state.group_commit, auth)
    me, them = Principal(maker.id, "k1", ("read", "write")), Principal(taker.id, "k2", ("read", "write"))

    rested = await place_v2(context, me, rq.CreateOrderV2(ticker="CTX", side="bid", count="3.00", price="0.4000"))
    assert rested["remaining_count"] == "3.00" and rested["fill_count"] == "0.00"
    batch = await batch_place_v2(context, them, rq.BatchCreateV2(orders=[
        {"ticker": "CTX", "side": "ask", "count": "1.00", "price": "0.4000", "time_in_force": "immediate_or_cancel"},
        {"ticker": "NOPE", "side": "ask", "count": "1.00", "price": "0.4000"}]))
    assert batch["orders"][0]["fill_count"] == "1.00" and batch["orders"][1]["error"]["code"] == "market_not_found"
    cancelled = await batch_cancel_v2(context, me, rq.BatchCancelV2(orders=[{"order_id": rested["order_id"]},
                                                                            {"order_id": "unknown"}]))
    assert cancelled["orders"][0]["reduced_by"] == "2.00"
    assert cancelled["orders"][1]["error"]["code"] == "order_not_found"
    assert svc.get_order(maker.id, rested["order_id"]).status == "canceled"
