"""The indexer's proof-of-backing route: `GET /v1/proof/latest`, the newest epoch's roots with the
custody balance each is held against (what the dashboard's "latest proof epoch" panel shows)."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from indexer.epochs import latest_epoch

router = APIRouter(tags=["proof of backing"])


@router.get("/v1/proof/latest")
async def proof_latest(request: Request):
    """`{epoch, slot, time_ms, roots: [{ticker, asset, hash, sum, leaves, custody_account, custody_balance,
    custody_balance_historical}]}`; 404 before the first epoch."""
    summary = await asyncio.to_thread(latest_epoch, request.app.state.indexer.db)
    if summary is None:
        return JSONResponse({"detail": "no proof epoch yet"}, status_code=404)
    return summary.body()
