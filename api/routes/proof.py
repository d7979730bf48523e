"""`GET /v1/custody/proof?ticker=T&asset=yes|no|cash`: the signed-in custodial user's proof of
backing from the latest epoch (DESIGN.md, "Proof of backing"), for `tandem verify-proof FILE`.

The indexer computes and stores the epochs (indexer/epochs.py) in the same database; this route
only reads them, for the user who signed the request and nobody else, through the reader that
`tandem api` hands to create_app (api does not import its sibling indexer: DESIGN.md, Layering).
"""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from exchange.errors import ExchangeError, InvalidRequest, NotFound
from exchange.tickers import check_ticker

from api.auth import Principal, current_user
from api.routes._common import ok, service

router = APIRouter(prefix="/v1/custody", tags=["custody"])


class ProofsNotServed(ExchangeError):
    code = "service_unavailable"
    status = 503


@router.get("/proof", summary="Your proof of backing for one market's YES or NO, or for cash, from the latest epoch")
async def get_proof(
    request: Request,
    asset: Literal["yes", "no", "cash"] = Query(..., description="yes | no (with ticker) or cash (without)"),
    ticker: str | None = Query(None, description="The market; omitted for cash"),
    user: Principal = Depends(current_user),
):
    if asset == "cash":
        if ticker is not None:
            raise InvalidRequest("a cash proof names no ticker", code="invalid_parameters")
    else:
        check_ticker(ticker)
    # Off the event loop, unlike the service's calls: the first request for a tree rebuilds it from
    # its stored leaves, which for a large tree takes seconds of CPU.
    reader = request.app.state.proof_reader
    if reader is None:
        raise ProofsNotServed("this API process serves no proofs of backing (started without the indexer's reader)")
    proof = await run_in_threadpool(reader, service(request).db, user_id=user.user_id, ticker=ticker, asset=asset)
    if proof is None:
        what = "cash" if asset == "cash" else f"{asset.upper()} of {ticker}"
        raise NotFound(f"no proof of backing for your {what} in the latest epoch (no epoch yet, or no balance then)",
                       code="proof_not_found")
    return ok(proof.to_json())
