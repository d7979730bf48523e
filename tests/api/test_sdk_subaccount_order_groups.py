"""Order groups of a subaccount through the official SDK: create/list/get/reset/trigger/limit/
delete with `subaccount`; an order must be in its group's subaccount (400
order_group_subaccount_mismatch, nothing written); get/list without `subaccount` look in all."""
from __future__ import annotations

import json
import uuid

import pytest
from kalshi_python_async import ApiException

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}


def _code(err) -> tuple[int, str]:
    return err.value.status, json.loads(err.value.body)["error"]["code"]


async def _bid(client, ticker, count, price, **kw):
    return await client.create_order_v2(ticker=ticker, side="bid", count=count, price=price, **GTC, **kw)


async def test_order_groups_of_a_subaccount(make_trader, make_market):
    t, other, taker = await make_trader(cents=10_000), await make_trader(cents=10_000), await make_trader()
    assert (await t.client.create_subaccount()).subaccount_number == 1
    await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=1,
                                             amount_cents=5_000)
    ticker = await make_market()
    created = await t.client.create_order_group(contracts_limit=5, subaccount=1)
    assert created.subaccount == 1
    sub_group = created.order_group_id
    primary_group = (await t.client.create_order_group(contracts_limit=5)).order_group_id
    # Lists: one subaccount's, or (no subaccount) all of the user's.
    assert [g.id for g in (await t.client.get_order_groups(subaccount=1)).order_groups] == [sub_group]
    assert [g.id for g in (await t.client.get_order_groups(subaccount=0)).order_groups] == [primary_group]
    assert sorted(g.id for g in (await t.client.get_order_groups()).order_groups) == sorted([sub_group, primary_group])

    first = await _bid(t.client, ticker, "4.00", "0.4000", order_group_id=sub_group, subaccount=1)
    assert (await t.client.get_order_group(order_group_id=sub_group)).orders == [first.order_id]
    assert (await t.client.get_order_group(order_group_id=sub_group, subaccount=1)).orders == [first.order_id]
    with pytest.raises(ApiException) as err:  # named in the wrong subaccount
        await t.client.get_order_group(order_group_id=sub_group, subaccount=0)
    assert _code(err) == (404, "order_group_not_found")

    # An order of the primary naming subaccount 1's group (and the reverse): 400, nothing written.
    balance = (await t.client.get_balance()).balance
    with pytest.raises(ApiException) as err:
        await _bid(t.client, ticker, "1.00", "0.3000", order_group_id=sub_group)
    assert _code(err) == (400, "order_group_subaccount_mismatch")
    with pytest.raises(ApiException) as err:
        await _bid(t.client, ticker, "1.00", "0.3000", order_group_id=primary_group, subaccount=1)
    assert _code(err) == (400, "order_group_subaccount_mismatch")
    assert (await t.client.get_orders()).orders == []
    assert [o.order_id for o in (await t.client.get_orders(subaccount=1)).orders] == [first.order_id]
    assert (await t.client.get_balance()).balance == balance
    # Another user's group is not found at all (no hint it exists).
    with pytest.raises(ApiException) as err:
        await _bid(other.client, ticker, "1.00", "0.3000", order_group_id=sub_group)
    assert _code(err) == (404, "order_group_not_found")
    with pytest.raises(ApiException) as err:
        await other.client.get_order_group(order_group_id=sub_group)
    assert _code(err) == (404, "order_group_not_found")

    # Fills reaching the limit trigger the subaccount's group.
    await _bid(t.client, ticker, "4.00", "0.3900", order_group_id=sub_group, subaccount=1)
    await taker.client.create_order_v2(ticker=ticker, side="ask", count="5.00", price="0.3900",
                                       time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
    assert (await t.client.get_order_group(order_group_id=sub_group, subaccount=1)).is_auto_cancel_enabled
    assert not (await t.client.get_order_group(order_group_id=primary_group)).is_auto_cancel_enabled
    # Commands need the owning subaccount: without it (the primary) the group is not found.
    for call in (t.client.reset_order_group(order_group_id=sub_group),
                 t.client.trigger_order_group(order_group_id=sub_group),
                 t.client.update_order_group_limit(order_group_id=sub_group, contracts_limit=9),
                 t.client.delete_order_group(order_group_id=sub_group)):
        with pytest.raises(ApiException) as err:
            await call
        assert _code(err) == (404, "order_group_not_found")
    await t.client.reset_order_group(order_group_id=sub_group, subaccount=1)
    await t.client.update_order_group_limit(order_group_id=sub_group, contracts_limit=9, subaccount=1)
    group = await t.client.get_order_group(order_group_id=sub_group, subaccount=1)
    assert group.contracts_limit_fp == "9.00" and not group.is_auto_cancel_enabled
    doomed = await _bid(t.client, ticker, "1.00", "0.3000", order_group_id=sub_group, subaccount=1)
    await t.client.trigger_order_group(order_group_id=sub_group, subaccount=1)
    assert (await t.client.get_order(order_id=doomed.order_id)).order.status.value == "canceled"
    await t.client.delete_order_group(order_group_id=sub_group, subaccount=1)
    assert [g.id for g in (await t.client.get_order_groups()).order_groups] == [primary_group]

    # A subaccount the user has not created, or out of range: nothing is created.
    for call, want in [(t.client.create_order_group(contracts_limit=5, subaccount=7), (404, "subaccount_not_found")),
                       (other.client.create_order_group(contracts_limit=5, subaccount=1), (404, "subaccount_not_found")),
                       (t.client.get_order_groups(subaccount=7), (404, "subaccount_not_found"))]:
        with pytest.raises(ApiException) as err:
            await call
        assert _code(err) == want
    assert (await other.client.get_order_groups()).order_groups in (None, [])


async def test_a_subaccount_groups_trigger_is_heard_on_the_parents_connection(server, make_trader, make_market):
    from tests.api.test_ws import connect
    from tests.api.test_ws_channels import subscribe

    ticker = await make_market()
    t, taker = await make_trader(cents=10_000), await make_trader()
    await t.client.create_subaccount()
    await t.client.apply_subaccount_transfer(client_transfer_id=uuid.uuid4(), from_subaccount=0, to_subaccount=1,
                                             amount_cents=5_000)
    client = await connect(server, t)
    try:
        sid = await subscribe(client, "order_group_updates")
        group_id = (await t.client.create_order_group(contracts_limit=3, subaccount=1)).order_group_id
        msg = await client.recv_type("order_group_updates")
        assert (msg["sid"], msg["msg"]["order_group_id"], msg["msg"]["event_type"]) == (sid, group_id, "created")
        await _bid(t.client, ticker, "4.00", "0.4000", order_group_id=group_id, subaccount=1)
        # The fill (in the service, not a route) triggers the subaccount's group: the parent hears it.
        await taker.client.create_order_v2(ticker=ticker, side="ask", count="3.00", price="0.4000",
                                           time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
        msg = await client.recv_type("order_group_updates")
        assert (msg["msg"]["order_group_id"], msg["msg"]["event_type"]) == (group_id, "triggered")
    finally:
        await client.ws.close()
