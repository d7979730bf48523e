"""Operator edges of the exchange's chain contract: the program's ticker rule (a market the chain
would refuse is a 400 that writes nothing; DESIGN.md, Tickers and units shared with the program)
and the bridge's revert route (its refusals; the reversal itself: tests/exchange/test_outbox_reader)."""
from __future__ import annotations

from .conftest import unique


async def test_operator_market_with_a_ticker_the_program_refuses_is_a_400(operator):
    good = unique("TKR")
    for bad in ("lower-case", "A" * 33, "SPACE X", "SLASH/1", "É"):
        r = await operator.post("/operator/markets", json={"ticker": bad, "close_time": "2099-01-01T00:00:00Z"})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_ticker"
        assert (await operator.get(f"/trade-api/v2/markets/{bad}")).status_code in (400, 404)
    r = await operator.post("/operator/markets", json={"ticker": good[:32], "close_time": "2099-01-01T00:00:00Z"})
    assert r.status_code == 201, r.text


async def test_the_revert_route_refuses_what_is_no_pending_settle_fill(operator):
    ticker = unique("RV")
    assert (await operator.post("/operator/markets", json={"ticker": ticker, "close_time": "2099-01-01T00:00:00Z"})).status_code == 201
    r = await operator.post(f"/operator/outbox/{ticker}/1/revert", json={"reason": "test"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_a_settle_fill"
    r = await operator.post(f"/operator/outbox/{ticker}/99/revert", json={"reason": "test"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "outbox_not_found"
    r = await operator.post(f"/operator/outbox/{ticker}/1/revert", json={"reason": ""})
    assert r.status_code == 400


def test_a_reverted_fill_says_so_on_the_wire_and_an_ordinary_one_does_not():
    from api.schemas import wire
    from exchange.schemas import FillView

    fill = FillView("f", "t", "o", 1, "M", True, "bid", "yes", "buy", 400_000, 1_000_000, 10_000, 0, 1_000)
    assert "reverted" not in wire.fill(fill)
    fill.reverted_ms, fill.revert_reason = 2_000, "order force-closed"
    body = wire.fill(fill)
    assert (body["reverted"], body["revert_reason"], body["reverted_time"]) == (True, "order force-closed",
                                                                                "1970-01-01T00:00:02.000Z")
