"""Custody endpoints for custodial users (DESIGN.md, "Wallet and custody endpoints"), signed
as Kalshi requests: the deposit reference wallets name in `deposit_*`, and withdrawals of
YES/NO positions or cash to a Solana wallet (`custody_withdraw`, sent by the bridge)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from exchange.tickers import check_ticker
from exchange.units import parse_count, parse_dollars

from api.auth import Principal, current_user
from api.routes._common import ok, service
from api.schemas.wallet import WithdrawalBody
from api.wallet_chain import parse_wallet

router = APIRouter(prefix="/v1/custody", tags=["custody"])


@router.get("/deposit_reference", summary="The 16-byte reference (32 hex) that credits a deposit to you")
async def get_deposit_reference(request: Request, user: Principal = Depends(current_user)):
    return ok({"reference": service(request).deposit_reference(user.user_id)})


@router.post("/withdrawals", status_code=201, summary="Withdraw YES/NO contracts or cash to a Solana wallet")
async def create_withdrawal(request: Request, body: WithdrawalBody, user: Principal = Depends(current_user)):
    wallet = str(parse_wallet(body.wallet))
    if body.side == "cash":  # count in dollars; a cash withdrawal names no market
        amount, ticker = parse_dollars(body.count, "count"), None
    else:
        check_ticker(body.ticker)  # None too: a YES/NO withdrawal names its market
        amount, ticker = parse_count(body.count), body.ticker
    view = service(request).withdraw(user.user_id, body.side, amount, wallet, ticker)
    return ok({"withdrawal_id": view.withdrawal_id, "status": view.status}, 201)


@router.get("/withdrawals/{withdrawal_id}", summary="A withdrawal: pending, sent (with its signature), finalized")
async def get_withdrawal(request: Request, withdrawal_id: str, user: Principal = Depends(current_user)):
    view = service(request).get_withdrawal(user.user_id, withdrawal_id)
    return ok({"status": view.status, "signature": view.signature})
