"""Kalshi's communications API: RFQs and quotes (exchange/service/rfq.py has the flow and
the sides). RFQs are public to every signed-in user; a quote only to its maker and the RFQ's
creator. Sizing by target cost, obscured creator ids, FCM subtraders and block-trade
proposals are refused with Kalshi's error shape."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from exchange.errors import InvalidRequest, NotFound
from exchange.service.rfq import communications_id
from exchange.units import contracts as whole_contracts

from api.auth import Principal, current_user
from api.routes._common import no_content, ok, service
from api.schemas.convert import cents, count_fp, dollars, from_contracts, parse_count, parse_dollars, rfc3339

router = APIRouter(tags=["communications"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateRfq(_Body):
    market_ticker: str = Field(min_length=1, max_length=64)
    contracts: int | None = Field(default=None, ge=1, le=9_223_372_036_854)
    contracts_fp: str | None = Field(default=None, max_length=40)
    target_cost_centi_cents: int | None = None
    target_cost_dollars: str | None = Field(default=None, max_length=40)
    target_cost_excludes_fees: bool | None = None
    obscure_creator_id: bool | None = False
    rest_remainder: bool
    replace_existing: bool | None = False
    subtrader_id: str | None = Field(default=None, max_length=64)
    subaccount: int | None = None

    def count(self) -> int:
        if self.target_cost_dollars is not None or self.target_cost_centi_cents is not None or self.target_cost_excludes_fees:
            raise InvalidRequest("sizing an RFQ by target cost is not supported; give contracts_fp",
                                 code="invalid_parameters")
        if self.obscure_creator_id:
            raise InvalidRequest("obscure_creator_id is not supported", code="invalid_parameters")
        if self.subtrader_id is not None:
            raise InvalidRequest("subtrader_id is for FCM members; Tandem has none", code="invalid_parameters")
        fp = parse_count(self.contracts_fp, "contracts_fp") if self.contracts_fp is not None else None
        whole = from_contracts(self.contracts, "contracts") if self.contracts is not None else None
        if fp is None and whole is None:
            raise InvalidRequest("give contracts or contracts_fp", code="invalid_parameters")
        if fp is not None and whole is not None and fp != whole:
            raise InvalidRequest("contracts and contracts_fp differ", code="invalid_parameters")
        return fp if fp is not None else whole


class CreateQuote(_Body):
    rfq_id: str = Field(min_length=1, max_length=40)
    yes_bid: str = Field(max_length=40)
    no_bid: str = Field(max_length=40)
    rest_remainder: bool
    post_only: bool | None = None
    subaccount: int | None = None


class AcceptQuote(_Body):
    accepted_side: Literal["yes", "no"]


def _subaccount_number(svc, user_id: int) -> int:
    found = svc.subaccount_of(user_id)
    return found[1] if found is not None else 0


def rfq_wire(svc, r: dict, viewer: int) -> dict:
    out = {"id": r["rfq_id"], "creator_id": communications_id(r["parent_user_id"]), "market_ticker": r["ticker"],
           "contracts_fp": count_fp(r["contracts"]), "status": r["status"], "created_ts": rfc3339(r["created_ms"]),
           "rest_remainder": r["rest_remainder"], "updated_ts": rfc3339(r["updated_ms"])}
    if r["cancellation_reason"]:
        out["cancellation_reason"] = r["cancellation_reason"]
    if r["cancelled_ms"] is not None:
        out["cancelled_ts"] = rfc3339(r["cancelled_ms"])
    if viewer == r["parent_user_id"]:
        out.update(creator_user_id=str(r["parent_user_id"]), creator_subaccount=_subaccount_number(svc, r["user_id"]))
    return out


def quote_wire(svc, q: dict, rfq: dict, viewer: int) -> dict:
    out = {"id": q["quote_id"], "rfq_id": q["rfq_id"], "creator_id": communications_id(q["parent_user_id"]),
           "rfq_creator_id": communications_id(rfq["parent_user_id"]), "market_ticker": rfq["ticker"],
           "contracts_fp": count_fp(rfq["contracts"]), "yes_bid_dollars": dollars(q["yes_bid"]),
           "no_bid_dollars": dollars(q["no_bid"]), "created_ts": rfc3339(q["created_ms"]),
           "updated_ts": rfc3339(q["updated_ms"]), "status": q["status"], "rest_remainder": q["rest_remainder"],
           "yes_contracts_fp": count_fp(rfq["contracts"] if q["yes_bid"] else 0),
           "no_contracts_fp": count_fp(rfq["contracts"] if q["no_bid"] else 0)}
    for field, key in (("accepted_ts", "accepted_ms"), ("confirmed_ts", "confirmed_ms"), ("executed_ts", "executed_ms"),
                       ("cancelled_ts", "cancelled_ms")):
        if q[key] is not None:
            out[field] = rfc3339(q[key])
    if q["accepted_side"]:
        out["accepted_side"] = q["accepted_side"]
    if q["cancellation_reason"]:
        out["cancellation_reason"] = q["cancellation_reason"]
    if viewer == q["parent_user_id"]:
        out.update(creator_user_id=str(q["parent_user_id"]), post_only=q["post_only"],
                   creator_subaccount=_subaccount_number(svc, q["user_id"]))
        if q["quote_order_id"]:
            out["creator_order_id"] = q["quote_order_id"]
    if viewer == rfq["parent_user_id"]:
        out.update(rfq_creator_user_id=str(rfq["parent_user_id"]),
                   rfq_creator_subaccount=_subaccount_number(svc, rfq["user_id"]))
        if q["rfq_order_id"]:
            out["rfq_creator_order_id"] = q["rfq_order_id"]
    return out


def _user_filter(value: str | None, name: str) -> bool:
    if value not in (None, "", "self"):
        raise InvalidRequest(f"{name} must be 'self'", code="invalid_parameters")
    return value == "self"


@router.get("/communications/id", summary="Your public communications id (RFQs and quotes name users by it)")
async def get_communications_id(user: Principal = Depends(current_user)):
    return ok({"communications_id": communications_id(user.user_id)})


@router.post("/communications/rfqs", status_code=201, summary="Ask makers for a quote on one market and size")
async def create_rfq(request: Request, body: CreateRfq, user: Principal = Depends(current_user)):
    svc = service(request)
    count = body.count()
    acting = svc.subaccount_user(user.user_id, body.subaccount)
    rfq_id = svc.create_rfq(user.user_id, acting, body.market_ticker, count, rest_remainder=body.rest_remainder,
                            replace_existing=bool(body.replace_existing))
    return ok({"id": rfq_id}, 201)


@router.get("/communications/rfqs", summary="RFQs, newest first")
async def get_rfqs(request: Request, cursor: str | None = Query(None, max_length=64),
                   event_ticker: str | None = Query(None, max_length=64),
                   market_ticker: str | None = Query(None, max_length=64), subaccount: int | None = None,
                   limit: int = Query(100, ge=1, le=100), status: Literal["open", "closed"] | None = None,
                   creator_user_id: str | None = Query(None, max_length=64), user_filter: str | None = None,
                   user: Principal = Depends(current_user)):
    svc = service(request)
    parent = user.user_id if _user_filter(user_filter, "user_filter") else None
    acting = svc.subaccount_user(user.user_id, subaccount) if subaccount is not None else None
    if acting is not None:
        parent = user.user_id
    if creator_user_id is not None:
        if not (creator_user_id.isascii() and creator_user_id.isdigit()) or len(creator_user_id) > 18:
            return ok({"rfqs": [], "cursor": ""})  # no such user
        if parent is not None and int(creator_user_id) != parent:
            return ok({"rfqs": [], "cursor": ""})
        parent = int(creator_user_id)
    page = svc.list_rfqs(ticker=market_ticker, event_ticker=event_ticker, status=status, parent_user_id=parent,
                         user_id=acting, cursor=cursor, limit=limit)
    return ok({"rfqs": [rfq_wire(svc, r, user.user_id) for r in page.items], "cursor": page.cursor})


@router.get("/communications/rfqs/{rfq_id}", summary="One RFQ")
async def get_rfq(request: Request, rfq_id: str, user: Principal = Depends(current_user)):
    svc = service(request)
    return ok({"rfq": rfq_wire(svc, svc.get_rfq(rfq_id), user.user_id)})


@router.delete("/communications/rfqs/{rfq_id}", status_code=204, summary="Close your RFQ (its live quotes are cancelled)")
async def delete_rfq(request: Request, rfq_id: str, user: Principal = Depends(current_user)):
    service(request).delete_rfq(user.user_id, rfq_id)
    return no_content()


@router.post("/communications/quotes", status_code=201, summary="Quote an open RFQ (a YES bid and a NO bid)")
async def create_quote(request: Request, body: CreateQuote, user: Principal = Depends(current_user)):
    svc = service(request)
    yes_bid, no_bid = parse_dollars(body.yes_bid, "yes_bid"), parse_dollars(body.no_bid, "no_bid")
    acting = svc.subaccount_user(user.user_id, body.subaccount)
    quote_id = svc.create_quote(user.user_id, acting, body.rfq_id, yes_bid, no_bid, rest_remainder=body.rest_remainder,
                                post_only=bool(body.post_only))
    return ok({"id": quote_id}, 201)


@router.get("/communications/quotes", summary="Quotes you made or received, newest first")
async def get_quotes(request: Request, cursor: str | None = Query(None, max_length=64),
                     min_ts: int | None = Query(None, ge=0, le=253_402_300_799),
                     max_ts: int | None = Query(None, ge=0, le=253_402_300_799),
                     limit: int = Query(500, ge=1, le=500),
                     status: Literal["open", "accepted", "confirmed", "executed", "cancelled"] | None = None,
                     quote_creator_user_id: str | None = Query(None, max_length=64), user_filter: str | None = None,
                     rfq_user_filter: str | None = None, rfq_creator_user_id: str | None = Query(None, max_length=64),
                     rfq_creator_subtrader_id: str | None = Query(None, max_length=64),
                     rfq_id: str | None = Query(None, max_length=40), user: Principal = Depends(current_user)):
    svc = service(request)
    if rfq_creator_subtrader_id is not None:
        raise InvalidRequest("rfq_creator_subtrader_id is for FCM members; Tandem has none", code="invalid_parameters")
    made = _user_filter(user_filter, "user_filter") or quote_creator_user_id is not None
    received = _user_filter(rfq_user_filter, "rfq_user_filter") or rfq_creator_user_id is not None
    me = str(user.user_id)
    if (quote_creator_user_id not in (None, me)) or (rfq_creator_user_id not in (None, me)):
        return ok({"quotes": [], "cursor": ""})  # others' quotes are private
    if status == "confirmed":  # a confirmed quote executes at once: none stays confirmed
        return ok({"quotes": [], "cursor": ""})
    page = svc.list_quotes(user.user_id, rfq_id=rfq_id, status=status, quote_creator=made, rfq_creator=received,
                           min_ms=None if min_ts is None else min_ts * 1000,
                           max_ms=None if max_ts is None else max_ts * 1000 + 999, cursor=cursor, limit=limit)
    return ok({"quotes": [quote_wire(svc, q, r, user.user_id) for q, r in page.items], "cursor": page.cursor})


def _quote(svc, user: Principal, quote_id: str, rfq_id: str | None = None) -> tuple[dict, dict]:
    quote, rfq = svc.get_quote(user.user_id, quote_id)
    if rfq_id is not None and quote["rfq_id"] != rfq_id:
        raise NotFound(f"quote {quote_id} not found on rfq {rfq_id}", code="quote_not_found")
    return quote, rfq


@router.get("/communications/quotes/{quote_id}", summary="One quote (its maker's or its RFQ creator's)")
async def get_quote(request: Request, quote_id: str, user: Principal = Depends(current_user)):
    svc = service(request)
    return ok({"quote": quote_wire(svc, *_quote(svc, user, quote_id), user.user_id)})


@router.get("/communications/rfqs/{rfq_id}/quotes/{quote_id}", summary="One quote of an RFQ")
async def get_rfq_quote(request: Request, rfq_id: str, quote_id: str, user: Principal = Depends(current_user)):
    svc = service(request)
    return ok({"quote": quote_wire(svc, *_quote(svc, user, quote_id, rfq_id), user.user_id)})


@router.delete("/communications/quotes/{quote_id}", status_code=204, summary="Withdraw your quote")
async def delete_quote(request: Request, quote_id: str, user: Principal = Depends(current_user)):
    service(request).delete_quote(user.user_id, quote_id)
    return no_content()


@router.delete("/communications/rfqs/{rfq_id}/quotes/{quote_id}", status_code=204, summary="Withdraw your quote on an RFQ")
async def delete_rfq_quote(request: Request, rfq_id: str, quote_id: str, user: Principal = Depends(current_user)):
    svc = service(request)
    _quote(svc, user, quote_id, rfq_id)
    svc.delete_quote(user.user_id, quote_id)
    return no_content()


@router.put("/communications/quotes/{quote_id}/accept", status_code=204, summary="Accept one side of a quote on your RFQ")
async def accept_quote(request: Request, quote_id: str, body: AcceptQuote, user: Principal = Depends(current_user)):
    service(request).accept_quote(user.user_id, quote_id, body.accepted_side)
    return no_content()


@router.put("/communications/rfqs/{rfq_id}/quotes/{quote_id}/accept", status_code=204,
            summary="Accept one side of a quote on your RFQ")
async def accept_rfq_quote(request: Request, rfq_id: str, quote_id: str, body: AcceptQuote,
                           user: Principal = Depends(current_user)):
    svc = service(request)
    _quote(svc, user, quote_id, rfq_id)
    svc.accept_quote(user.user_id, quote_id, body.accepted_side)
    return no_content()


@router.put("/communications/quotes/{quote_id}/confirm", status_code=204,
            summary="Confirm your accepted quote: it executes now, as a fill between the two users")
async def confirm_quote(request: Request, quote_id: str, user: Principal = Depends(current_user)):
    service(request).confirm_quote(user.user_id, quote_id)
    return no_content()


@router.put("/communications/rfqs/{rfq_id}/quotes/{quote_id}/confirm", status_code=204,
            summary="Confirm your accepted quote on an RFQ: it executes now")
async def confirm_rfq_quote(request: Request, rfq_id: str, quote_id: str, user: Principal = Depends(current_user)):
    svc = service(request)
    _quote(svc, user, quote_id, rfq_id)
    svc.confirm_quote(user.user_id, quote_id)
    return no_content()


def ws_message(svc, event) -> tuple[str, dict] | None:
    """The `communications` WebSocket message of a CommunicationEvent (None: not one Kalshi sends)."""
    r, q = event.rfq, event.quote
    event_ticker = svc.get_market(r["ticker"]).event_ticker
    base = {"market_ticker": r["ticker"], "event_ticker": event_ticker}
    if event.kind in ("rfq_created", "rfq_deleted"):
        body = {"id": r["rfq_id"], "creator_id": communications_id(r["parent_user_id"]), **base,
                "contracts": whole_contracts(r["contracts"]), "contracts_fp": count_fp(r["contracts"])}
        body["created_ts" if event.kind == "rfq_created" else "deleted_ts"] = rfc3339(
            r["created_ms"] if event.kind == "rfq_created" else r["updated_ms"])
        return event.kind, body
    if event.kind not in ("quote_created", "quote_accepted", "quote_executed"):
        return None
    offered = {s: r["contracts"] if q[f"{s}_bid"] else 0 for s in ("yes", "no")}
    body = {"quote_id": q["quote_id"], "rfq_id": r["rfq_id"], "quote_creator_id": communications_id(q["parent_user_id"]),
            "rfq_creator_id": communications_id(r["parent_user_id"]), **base,
            "yes_bid": cents(q["yes_bid"]), "no_bid": cents(q["no_bid"]),
            "yes_bid_dollars": dollars(q["yes_bid"]), "no_bid_dollars": dollars(q["no_bid"]),
            "yes_contracts_offered": whole_contracts(offered["yes"]), "no_contracts_offered": whole_contracts(offered["no"]),
            "yes_contracts_offered_fp": count_fp(offered["yes"]), "no_contracts_offered_fp": count_fp(offered["no"]),
            "created_ts": rfc3339(q["created_ms"])}
    if event.kind in ("quote_accepted", "quote_executed"):
        body.update(accepted_side=q["accepted_side"], contracts_accepted=whole_contracts(r["contracts"]),
                    contracts_accepted_fp=count_fp(r["contracts"]))
    if event.kind == "quote_executed":
        body.update(trade_id=q["trade_id"], executed_ts=rfc3339(q["executed_ms"]))  # + the hearer's own order_id (ws.py)
    return event.kind, body
