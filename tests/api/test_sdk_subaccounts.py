"""Subaccounts through the official SDK: create, balances, transfers (once per client id,
never beyond what is free), portfolio reads with `subaccount`, and isolation between users."""
from __future__ import annotations

import json
import uuid

import pytest
from kalshi_python_async import ApiException
from kalshi_python_async.models import GetSubaccountBalancesResponse, GetSubaccountTransfersResponse

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}


def _code(err) -> tuple[int, str]:
    return err.value.status, json.loads(err.value.body)["error"]["code"]


async def balances(client) -> list[tuple[int, str]]:
    got = await client.get_subaccount_balances()
    assert isinstance(got, GetSubaccountBalancesResponse)
    return [(b.subaccount_number, b.balance) for b in got.subaccount_balances]


async def test_subaccounts_balances_and_transfers(make_trader, make_market):
    t, other = await make_trader(cents=10_000), await make_trader(cents=10_000)
    assert (await t.client.create_subaccount()).subaccount_number == 1
    assert (await t.client.create_subaccount()).subaccount_number == 2
    assert await balances(t.client) == [(0, "100.0000"), (1, "0.0000"), (2, "0.0000")]

    first_id = uuid.uuid4()
    first = await t.client.apply_subaccount_transfer(client_transfer_id=first_id, from_subaccount=0, to_subaccount=1,
                                                     amount_cents=2_500)
    again = await t.client.apply_subaccount_transfer(client_transfer_id=first_id, from_subaccount=0, to_subaccount=1,
                                                     amount_cents=2_500)
    assert first == again  # the same client_transfer_id moves nothing twice
    await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=1, to_subaccount=2,
                                             amount_cents=1_000)
    assert await balances(t.client) == [(0, "75.0000"), (1, "15.0000"), (2, "10.0000")]
    # Portfolio reads of one subaccount.
    assert (await t.client.get_balance(subaccount=1)).balance == 1_500
    assert (await t.client.get_balance()).balance == 7_500
    assert (await t.client.get_positions(subaccount=2)).market_positions == []
    assert (await t.client.get_fills(subaccount=1)).fills == []

    # Never beyond what is free: cash held by a resting order of the primary does not move.
    ticker = await make_market()
    await t.client.create_order_v2(ticker=ticker, side="bid", count="100.00", price="0.5000", **GTC)  # holds >= $50
    with pytest.raises(ApiException) as err:
        await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=2,
                                                 amount_cents=3_000)
    assert _code(err) == (400, "insufficient_balance")
    with pytest.raises(ApiException) as err:
        await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=2, to_subaccount=1,
                                                 amount_cents=1_001)
    assert _code(err) == (400, "insufficient_balance")
    assert [b for _, b in await balances(t.client)][1:] == ["15.0000", "10.0000"]

    transfers = await t.client.get_subaccount_transfers()
    assert isinstance(transfers, GetSubaccountTransfersResponse)
    assert [(x.from_subaccount, x.to_subaccount, x.amount_cents) for x in transfers.transfers] == [(1, 2, 1_000), (0, 1, 2_500)]
    page = await t.client.get_subaccount_transfers(limit=1)
    assert len(page.transfers) == 1 and page.cursor

    # Another user has no subaccount 1, and sees none of these.
    assert await balances(other.client) == [(0, "100.0000")]
    assert (await other.client.get_subaccount_transfers()).transfers == []
    for call, want in [
        (other.client.get_balance(subaccount=1), (404, "subaccount_not_found")),
        (t.client.get_balance(subaccount=3), (404, "subaccount_not_found")),
        (t.client.get_balance(subaccount=64), (400, "invalid_parameters")),
        (other.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=1,
                                                amount_cents=1), (404, "subaccount_not_found")),
        (t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=1, to_subaccount=1,
                                            amount_cents=1), (400, "invalid_parameters")),
    ]:
        with pytest.raises(ApiException) as err:
            await call
        assert _code(err) == want


async def test_a_subaccount_trades_on_its_own_cash(make_trader, make_market):
    t, seller = await make_trader(cents=10_000), await make_trader()
    assert (await t.client.create_subaccount()).subaccount_number == 1
    await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=1,
                                             amount_cents=1_000)
    ticker = await make_market()
    # $10 in subaccount 1: a bid for 30 at 0.50 needs $15 of it and is refused; 10 at 0.50 rests.
    with pytest.raises(ApiException) as err:
        await t.client.create_order_v2(ticker=ticker, side="bid", count="30.00", price="0.5000", subaccount=1, **GTC)
    assert _code(err) == (400, "insufficient_balance")
    placed = await t.client.create_order_v2(ticker=ticker, side="bid", count="10.00", price="0.5000", subaccount=1,
                                            **GTC)
    assert [o.order_id for o in (await t.client.get_orders(subaccount=1)).orders] == [placed.order_id]
    assert (await t.client.get_orders()).orders == []  # the primary's orders are its own
    # Kalshi's get_order names no subaccount: it finds the order in whichever it is.
    assert (await t.client.get_order(order_id=placed.order_id)).order.status.value == "resting"
    assert (await t.client.get_balance()).balance == 9_000  # the primary's cash is untouched by the hold
    # A fill: the position is the subaccount's.
    await seller.client.create_order_v2(ticker=ticker, side="ask", count="4.00", price="0.5000",
                                        time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
    positions = (await t.client.get_positions(subaccount=1)).market_positions
    assert [(p.ticker, p.position_fp) for p in positions] == [(ticker, "4.00")]
    assert (await t.client.get_positions()).market_positions == []
    assert len((await t.client.get_fills(subaccount=1)).fills) == 1
    # Cancelling needs the subaccount that owns the order.
    with pytest.raises(ApiException) as err:
        await t.client.cancel_order_v2(order_id=placed.order_id)
    assert err.value.status == 404
    cancelled = await t.client.cancel_order_v2(order_id=placed.order_id, subaccount=1)
    assert cancelled.reduced_by == "6.00"
    assert (await t.client.get_balance(subaccount=1)).balance == 1_000 - 200 - _fee_cents(await t.client.get_fills(subaccount=1))
    with pytest.raises(ApiException) as err:
        await t.client.create_order_v2(ticker=ticker, side="bid", count="1.00", price="0.1000", subaccount=9, **GTC)
    assert _code(err) == (404, "subaccount_not_found")


def _fee_cents(fills) -> int:
    from decimal import Decimal

    return int(sum(Decimal(f.fee_cost) for f in fills.fills) * 100)


async def test_at_most_63_subaccounts(make_trader):
    t = await make_trader(cents=0)
    for n in range(1, 64):
        assert (await t.client.create_subaccount()).subaccount_number == n
    with pytest.raises(ApiException) as err:
        await t.client.create_subaccount()
    assert _code(err) == (400, "subaccount_limit")
