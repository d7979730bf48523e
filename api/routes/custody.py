"""Custody endpoints for custodial users (DESIGN.md, "Wallet and custody endpoints"), signed
as Kalshi requests: the deposit reference wallets name in `deposit_*`, and withdrawals of
YES/NO positions or cash to a Solana wallet (`custody_withdraw`, sent by the bridge).
`?subaccount=N` (0 / omitted: the primary) acts for one of the user's subaccounts: each is its
own custodial user row, so its ledger cash and positions, deposit reference and withdrawals
are its own; chain-side custody is one pool for all custodial users (nothing per user there)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request


from exchange.tickers import check_ticker
from exchange.units import count_fp, dollars, parse_count, parse_dollars

from api.auth import Principal, current_user
from api.routes._common import ok, service
from api.schemas.convert import rfc3339
from api.schemas.wallet import WithdrawalBody
from api.wallet_chain import parse_wallet

router = APIRouter(prefix="/v1/custody", tags=["custody"])


@router.get("/deposit_reference", summary="The 16-byte reference (32 hex) that credits a deposit to you")
async def get_deposit_reference(request: Request, subaccount: int | None = None, user: Principal = Depends(current_user)):
    svc = service(request)
    return ok({"reference": svc.deposit_reference(svc.subaccount_user(user.user_id, subaccount))})


@router.post("/withdrawals", status_code=201, summary="Withdraw YES/NO contracts or cash to a Solana wallet")
async def create_withdrawal(request: Request, body: WithdrawalBody, subaccount: int | None = None,
                            user: Principal = Depends(current_user)):
    uid = service(request).subaccount_user(user.user_id, subaccount)
    wallet = str(parse_wallet(body.wallet))
    if body.side == "cash":  # count in dollars; a cash withdrawal names no market
        amount, ticker = parse_dollars(body.count, "count"), None
    else:
        check_ticker(body.ticker)  # None too: a YES/NO withdrawal names its market
        amount, ticker = parse_count(body.count), body.ticker
    view = service(request).withdraw(uid, body.side, amount, wallet, ticker)
    return ok({"withdrawal_id": view.withdrawal_id, "status": view.status}, 201)


@router.get("/withdrawals/{withdrawal_id}", summary="A withdrawal: pending, sent (with its signature), finalized")
async def get_withdrawal(request: Request, withdrawal_id: str, subaccount: int | None = None,
                         user: Principal = Depends(current_user)):
    svc = service(request)
    view = svc.get_withdrawal(svc.subaccount_user(user.user_id, subaccount), withdrawal_id)
    return ok({"status": view.status, "signature": view.signature})


def _amount(asset: str, amount: int) -> str:
    """The way POST /withdrawals takes `count`: contracts for yes/no, dollars for cash."""
    return dollars(amount) if asset == "cash" else count_fp(amount)


@router.get("/deposits", summary="Your deposits seen on chain (every asset), newest first")
async def list_deposits(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                        subaccount: int | None = None, user: Principal = Depends(current_user)):
    svc = service(request)
    page = svc.chain_deposits(svc.subaccount_user(user.user_id, subaccount), cursor=cursor, limit=limit)
    return ok({"deposits": [{"signature": d["signature"], "ix_index": d["ix_index"], "side": d["asset"],
                             "ticker": d["ticker"], "count": _amount(d["asset"], d["amount"]),
                             "created_time": rfc3339(d["created_ms"])} for d in page.items],
               "cursor": page.cursor})


@router.get("/withdrawals", summary="Your withdrawals to wallets (every asset and status), newest first")
async def list_withdrawals(request: Request, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                           subaccount: int | None = None, user: Principal = Depends(current_user)):
    svc = service(request)
    page = svc.chain_withdrawals(svc.subaccount_user(user.user_id, subaccount), cursor=cursor, limit=limit)
    return ok({"withdrawals": [{"withdrawal_id": w["withdrawal_id"], "status": w["status"], "side": w["asset"],
                                "ticker": w["ticker"], "count": _amount(w["asset"], w["amount"]),
                                "wallet": w["wallet"], "signature": w["signature"],
                                "created_time": rfc3339(w["created_ms"]), "updated_time": rfc3339(w["updated_ms"])}
                               for w in page.items],
               "cursor": page.cursor})
