"""Exchange status and schedule (Tandem trades around the clock; operators halt markets one by one)."""
from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from api.auth import Principal, current_user
from api.routes._common import ok
from api.schemas.convert import rfc3339

router = APIRouter(tags=["exchange"])

_ALL_DAY = [{"open_time": "00:00", "close_time": "24:00"}]
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@router.get("/exchange/status", summary="Exchange status")
async def get_exchange_status():
    return ok({"exchange_active": True, "trading_active": True})


@router.get("/exchange/schedule", summary="Exchange schedule")
async def get_exchange_schedule():
    week = {"start_time": "2000-01-01T00:00:00Z", "end_time": "2100-01-01T00:00:00Z", **{d: _ALL_DAY for d in _DAYS}}
    return ok({"schedule": {"standard_hours": [week], "maintenance_windows": []}})


@router.get("/exchange/user_data_timestamp", summary="When the portfolio data was last valid")
async def get_user_data_timestamp(_user: Principal = Depends(current_user)):
    return ok({"as_of_time": rfc3339(int(time.time() * 1000))})
