"""Wallet endpoints (DESIGN.md, "Wallet and custody endpoints"): ready-to-sign transactions
for placing and cancelling wallet orders, and an order's status with its fills. Not Kalshi's
API; no Kalshi signature: a wallet proves itself by signing the transaction it sends.

Also the relay's hand-over (operator only, `/v1/wallet/relay/...`): the books live in this
process, so the bridge's relay, which follows the chain, hands each wallet-order event here
and exchange/wallet_orders.py applies it (idempotent on the order PDA).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from exchange import wallet_orders as W
from exchange.errors import InvalidRequest, NotFound
from exchange.tickers import check_ticker
from exchange.units import count_fp, dollars, parse_count, parse_price

from api.auth import operator
from api.routes._common import ok, service
from api.schemas.wallet import DepositedBody, OrderRef, PlacedBody, WalletOrderBody
from api.wallet_chain import WalletChain, parse_address, parse_wallet

router = APIRouter(prefix="/v1/wallet", tags=["wallet"])


def chain(request: Request) -> WalletChain:
    state = request.app.state
    if getattr(state, "wallet_chain", None) is None:
        settings = state.settings
        state.wallet_chain = WalletChain(settings.rpc_url, settings.program_id)
    return state.wallet_chain


@router.post("/orders", status_code=201, summary="A ready-to-sign place_order transaction for a wallet")
async def create_wallet_order(request: Request, body: WalletOrderBody):
    wallet = parse_wallet(body.wallet)
    check_ticker(body.ticker)
    svc = service(request)
    market = svc.get_market(body.ticker)  # 404 market_not_found
    if market.status != "open":
        raise InvalidRequest(f"market {body.ticker} is {market.status}", code="market_closed")
    size = parse_count(body.count)
    if size <= 0 or size % market.lot:
        raise InvalidRequest(f"count {body.count} is not a positive multiple of the lot {count_fp(market.lot)}",
                             code="invalid_count")
    price = parse_price(body.price, market.tick)
    max_fee = W.fee_budget(size, price, body.action, W.market_rates(svc, body.ticker))
    tx = await chain(request).build_place(wallet, body.ticker, body.side, body.action, size, price, max_fee)
    return ok({"order": str(tx.order), "transaction": tx.transaction, "last_valid_block_height": tx.last_valid_block_height},
              201)


@router.get("/orders/{order}", summary="A wallet order: status, fills (with their settle_fill signatures)")
async def get_wallet_order(request: Request, order: str):
    address = parse_address(order)
    svc = service(request)
    on_chain = await chain(request).order(address)
    try:
        state = W.get(svc, order)
    except NotFound:
        if on_chain is None:
            raise
        return ok({"order": order, "status": "pending", "count": count_fp(on_chain.size), "filled_count": count_fp(0),
                   "fills": [], "reverted": []})
    fills = W.fills(svc, state)
    filled = sum(f.count for f in fills if f.reverted is None)
    count = on_chain.size if on_chain is not None else state.clob_count
    cancel_requested = on_chain is not None and type(on_chain.status).__name__ == "CancelRequested"
    if state.order_id is None:
        status = "closed"  # the CLOB refused it; its escrow is refunded
    elif state.status == "resting":
        status = "cancel_requested" if cancel_requested else "open"
    elif filled >= count > 0:
        status = "filled"
    else:
        status = "closed" if on_chain is None else "cancel_requested"
    return ok({
        "order": order, "status": status, "count": count_fp(count), "filled_count": count_fp(filled),
        "fills": [{"count": count_fp(f.count), "price": dollars(f.price), "fee": dollars(f.fee), "signature": f.signature}
                  for f in fills if f.reverted is None],
        "reverted": [{"count": count_fp(f.count), "price": dollars(f.price), "fee": dollars(f.fee), "reason": f.reverted}
                     for f in fills if f.reverted is not None],
    })


@router.post("/orders/{order}/cancel", summary="A ready-to-sign request_cancel transaction for the order's owner")
async def cancel_wallet_order(request: Request, order: str):
    return ok({"transaction": await chain(request).build_cancel(parse_address(order))})


# ---------------------------------------------------------------------------------- relay
relay = APIRouter(prefix="/v1/wallet/relay", tags=["relay"], dependencies=[Depends(operator)])


def _state(s: W.WalletOrderState) -> dict:
    return {"order": s.order, "order_id": s.order_id, "status": s.status, "clob_count": s.clob_count,
            "filled_count": s.filled_count, "refused": s.refused}


@relay.post("/placed", summary="OrderPlaced seen at confirmed: escrow in and a CLOB order (idempotent)")
async def relay_placed(request: Request, body: PlacedBody):
    parse_address(body.order)
    parse_address(body.owner, "owner")
    placed = W.PlacedOrder(**body.model_dump())
    return ok(_state(W.place(service(request), placed)))


@relay.post("/cancel_requested", summary="CancelRequested seen: CLOB cancel, then close_order (idempotent)")
async def relay_cancel_requested(request: Request, body: OrderRef):
    return ok(_state(W.cancel_requested(service(request), body.order, body.order_id)))


@relay.post("/force_closed", summary="OrderClosed by force_close seen: CLOB cancel, no close_order (idempotent)")
async def relay_force_closed(request: Request, body: OrderRef):
    return ok(_state(W.force_closed(service(request), body.order, body.order_id)))


@relay.post("/deposited", summary="Deposited seen at finalized: credited once per (signature, instruction index)")
async def relay_deposited(request: Request, body: DepositedBody):
    result = service(request).credit_deposit(body.signature, body.ix_index, body.reference, body.asset, body.ticker,
                                             body.amount)
    return ok({"credited": result.credited, "user_id": result.user_id, "suspense": result.suspense,
               "message": result.message})
