"""Operator endpoints (not under the Kalshi prefix): reference data, market lifecycle,
custodial cash, fee schedules and builders. Role: `Authorization: Bearer <operator token>`
or a signed request by a user of kind "operator"."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from exchange.errors import InvalidRequest, NotFound
from exchange.keys import check_rsa_public_key
from exchange.units import parse_iso8601_ms

from api.auth import operator
from api.routes import access, historical
from api.routes._common import ok, service
from api.schemas import wire
from api.schemas.convert import MAX_UNITS, ONE, dollars, from_cents, parse_count, parse_dollars
from api.schemas.requests import Count, Dollars, Fraction, UnixSeconds

router = APIRouter(prefix="/operator", tags=["operator"], dependencies=[Depends(operator)])
router.include_router(historical.operator_router)  # PUT /operator/historical/cutoff
router.include_router(access.operator_router)  # PUT /operator/api_keys/{key_id}/builder


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _when_ms(value: str | int | None, field: str) -> int | None:
    """ISO 8601 (naive = UTC) or Unix seconds -> milliseconds."""
    if value is None:
        return None
    if isinstance(value, int):
        return value * 1000
    return parse_iso8601_ms(value, field)


def _user_id(request: Request, user: str) -> int:
    svc = service(request)
    if user.isascii() and user.isdigit():  # an id ("²".isdigit() is true, but int() refuses it)
        if int(user) > MAX_UNITS:
            raise NotFound(f"no user {user}", code="user_not_found")
        return svc.get_user(int(user)).id
    found = svc.get_user_by_name(user)
    if found is None:
        raise NotFound(f"no user named {user}", code="user_not_found")
    return found.id


def _amount(body) -> int:
    if (body.amount_dollars is None) == (body.cents is None):
        raise InvalidRequest("give exactly one of amount_dollars or cents", code="invalid_parameters")
    return parse_dollars(body.amount_dollars, "amount_dollars") if body.amount_dollars is not None else from_cents(body.cents)


def _balance(view) -> dict:
    return {**wire.balance(view), "cash_dollars": dollars(view.cash), "held_dollars": dollars(view.held)}


# ---------------------------------------------------------------------------------- users
class CreateUser(_Body):
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["custodial", "operator"] = "custodial"
    public_key: str | None = Field(default=None, description="optional RSA public key (PEM) registered as its first API key")


@router.post("/users", status_code=201, summary="Create a custodial (or operator) user")
async def create_user(request: Request, body: CreateUser):
    svc = service(request)
    if body.public_key is not None:  # refuse a bad key before the user exists
        check_rsa_public_key(body.public_key)
    user = svc.create_user(body.name, kind=body.kind)
    out = {"user_id": user.id, "name": user.name, "kind": user.kind}
    if body.public_key is not None:
        out["api_key_id"] = svc.create_api_key(user.id, body.public_key, name="initial")
    return ok(out, 201)


class Cash(_Body):
    amount_dollars: Dollars | None = None
    cents: int | None = Field(default=None, gt=0)
    to_wallet: str | None = Field(default=None, description="debit only: withdraw the collateral to this Solana wallet")


@router.post("/users/{user}/fund", summary="Credit custodial cash (a deposit)")
async def fund(request: Request, user: str, body: Cash):
    if body.to_wallet is not None:
        raise InvalidRequest("to_wallet applies to debits only", code="invalid_parameters")
    return ok(_balance(service(request).fund(_user_id(request, user), _amount(body))))


@router.post("/users/{user}/debit", summary="Debit custodial cash (a withdrawal)")
async def debit(request: Request, user: str, body: Cash):
    return ok(_balance(service(request).debit(_user_id(request, user), _amount(body), to_wallet=body.to_wallet)))


@router.get("/users/{user}/balance", summary="A user's balance")
async def user_balance(request: Request, user: str):
    return ok(_balance(service(request).balance(_user_id(request, user))))


# ---------------------------------------------------------------------------------- reference data
class CreateSeries(_Body):
    ticker: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=500)
    category: str = Field(default="", max_length=100)
    frequency: str = Field(default="custom", max_length=32)
    tags: list[str] = Field(default=[], max_length=20)


@router.post("/series", status_code=201, summary="Create a series")
async def create_series(request: Request, body: CreateSeries):
    if any("," in t or not t for t in body.tags) or len(",".join(body.tags)) > 500:
        raise InvalidRequest("tags are non-empty, without commas, 500 characters in all", code="invalid_parameters")
    view = service(request).create_series(body.ticker, body.title, category=body.category, frequency=body.frequency,
                                          tags=body.tags)
    return ok({"series": wire.series(view)}, 201)


class CreateEvent(_Body):
    event_ticker: str = Field(min_length=1, max_length=64)
    series_ticker: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=500)
    sub_title: str = Field(default="", max_length=500)
    category: str = Field(default="", max_length=100)
    mutually_exclusive: bool = False


@router.post("/events", status_code=201, summary="Create an event in a series")
async def create_event(request: Request, body: CreateEvent):
    view = service(request).create_event(body.event_ticker, body.series_ticker, body.title, sub_title=body.sub_title,
                                         category=body.category, mutually_exclusive=body.mutually_exclusive)
    return ok({"event": wire.event(view)}, 201)


class CreateMarket(_Body):
    ticker: str = Field(min_length=1, max_length=64)
    event_ticker: str | None = Field(default=None, max_length=64,
                                     description="unset: an event and series named after the market")
    series_ticker: str | None = Field(default=None, max_length=64)
    title: str = Field(default="", max_length=500)
    subtitle: str = Field(default="", max_length=500)
    yes_sub_title: str = Field(default="", max_length=200)
    no_sub_title: str = Field(default="", max_length=200)
    rules_primary: str = ""
    open_time: str | UnixSeconds | None = None
    close_time: str | UnixSeconds
    tick_size_dollars: Dollars = "0.01"
    lot_size_fp: Count = "0.01"
    fee_schedule_id: int | None = Field(default=None, ge=1, le=MAX_UNITS)


@router.post("/markets", status_code=201, summary="Create a market")
async def create_market(request: Request, body: CreateMarket):
    view = service(request).create_market(
        body.ticker, body.event_ticker, body.title, close_ms=_when_ms(body.close_time, "close_time"),
        open_ms=_when_ms(body.open_time, "open_time"), subtitle=body.subtitle, yes_sub_title=body.yes_sub_title,
        no_sub_title=body.no_sub_title, rules_primary=body.rules_primary,
        tick=parse_dollars(body.tick_size_dollars, "tick_size_dollars"), lot=parse_count(body.lot_size_fp, "lot_size_fp"),
        fee_schedule_id=body.fee_schedule_id, series_ticker=body.series_ticker)
    return ok({"market": wire.market(view)}, 201)


@router.post("/markets/{ticker}/halt", summary="Halt trading (orders stay on the book)")
async def halt(request: Request, ticker: str):
    return ok({"market": wire.market(service(request).halt(ticker))})


@router.post("/markets/{ticker}/resume", summary="Resume a halted market")
async def resume(request: Request, ticker: str):
    return ok({"market": wire.market(service(request).resume(ticker))})


@router.post("/markets/{ticker}/close", summary="Close trading; resting orders are cancelled")
async def close(request: Request, ticker: str):
    return ok({"market": wire.market(service(request).close_market(ticker))})


class Determine(_Body):
    result: Literal["yes", "no"] | None = None
    yes_payout_dollars: Dollars | None = Field(default=None, description="a split payout, e.g. \"0.50\" for a void")


@router.post("/markets/{ticker}/determine", summary="Set (or correct) the result")
async def determine(request: Request, ticker: str, body: Determine):
    if (body.result is None) == (body.yes_payout_dollars is None):
        raise InvalidRequest("give exactly one of result or yes_payout_dollars", code="invalid_parameters")
    payout = (ONE if body.result == "yes" else 0) if body.result else parse_dollars(body.yes_payout_dollars, "yes_payout_dollars")
    return ok({"market": wire.market(service(request).determine(ticker, payout))})


@router.post("/markets/{ticker}/finalize", summary="Finalize: settle every holder")
async def finalize(request: Request, ticker: str):
    return ok({"market": wire.market(service(request).finalize(ticker))})


# ---------------------------------------------------------------------------------- fees, builders
class FeeSchedule(_Body):
    taker_rate: Fraction = Field(description="e.g. \"0.07\": Kalshi's 0.07 x C x P x (1-P)")
    maker_rate: Fraction = "0"
    maker_rebate: Fraction = "0"
    ticker: str | None = None
    series_ticker: str | None = None


def _schedule(v) -> dict:
    return {"id": v.id, "name": v.name, "taker_rate": dollars(v.taker_rate_ppm), "maker_rate": dollars(v.maker_rate_ppm),
            "maker_rebate": dollars(v.maker_rebate_ppm)}


@router.put("/fee_schedules/{name}", summary="Create or update a fee schedule; optionally attach it")
async def set_fee_schedule(request: Request, name: str, body: FeeSchedule):
    if not 1 <= len(name) <= 64:
        raise InvalidRequest("fee schedule names are 1-64 characters", code="invalid_parameters")
    view = service(request).set_fee_schedule(
        name, parse_dollars(body.taker_rate, "taker_rate"), parse_dollars(body.maker_rate, "maker_rate"),
        parse_dollars(body.maker_rebate, "maker_rebate"), ticker=body.ticker, series_ticker=body.series_ticker)
    return ok({"fee_schedule": _schedule(view)})


@router.get("/fee_schedules", summary="Fee schedules")
async def list_fee_schedules(request: Request):
    return ok({"fee_schedules": [_schedule(v) for v in service(request).list_fee_schedules()]})


class CreateBuilder(_Body):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    share: Fraction = Field(description="share of the fees of orders naming this builder, e.g. \"0.25\"")


def _builder(v) -> dict:
    return {"code": v.code, "name": v.name, "share": dollars(v.share_ppm), "balance_dollars": dollars(v.balance)}


@router.post("/builders", status_code=201, summary="Register a builder code")
async def create_builder(request: Request, body: CreateBuilder):
    view = service(request).create_builder(body.code, parse_dollars(body.share, "share"), name=body.name)
    return ok({"builder": _builder(view)}, 201)


@router.get("/builders", summary="Builders and what they earned")
async def list_builders(request: Request):
    return ok({"builders": [_builder(v) for v in service(request).list_builders()]})


# ---------------------------------------------------------------------------------- outbox
class Revert(_Body):
    reason: str = Field(min_length=1, max_length=200)


@router.post("/outbox/{stream}/{seq}/revert", summary="Reverse a settle_fill the chain refused for good (the bridge)")
async def revert_settle_fill(request: Request, stream: str, seq: int, body: Revert):
    """Runs in the process that owns the books, so balances, holds and the `fill`/`user_orders`
    channels follow; returns the compensating records the bridge must send."""
    from exchange.outbox import stored_to_json

    if not 1 <= seq <= MAX_UNITS:
        raise InvalidRequest("seq is out of range", code="invalid_parameters")
    records = service(request).revert_settle_fill(stream, seq, body.reason)
    return ok({"records": [stored_to_json(r) for r in records]})
