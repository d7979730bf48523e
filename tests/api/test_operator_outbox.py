"""The program's ticker rule at the API edge: a market the chain would refuse is a 400 that
writes nothing (DESIGN.md, Tickers and units shared with the program)."""
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
