"""Issue 13's builder bound to an API key applies to orders entered over FIX too: the builder
is credited its share of the fees of a FIX order that fills, and a rebinding takes effect from
the next order on (as on REST)."""
from __future__ import annotations

from decimal import Decimal

from fix import tags as T
from fix.client import RawClient
from tests.api.conftest import unique
from tests.fix.conftest import make_market, make_user, rest


def _balance(server, code: str) -> Decimal:
    with server.operator() as op:
        builders = {b["code"]: b for b in op.get("/operator/builders").json()["builders"]}
    return Decimal(builders[code]["balance_dollars"])


def _bind(server, key_id: str, code: str | None) -> None:
    with server.operator() as op:
        r = op.put(f"/operator/api_keys/{key_id}/builder", json={"builder_code": code})
        assert r.status_code == 200, r.text


def test_a_builder_bound_to_the_key_is_credited_on_fix_orders(fix_server):
    ticker = make_market(fix_server)
    code, other = unique("bld"), unique("bld")
    with fix_server.operator() as op:
        r = op.put(f"/operator/fee_schedules/{unique('fees')}", json={"taker_rate": "0.07", "maker_rate": "0",
                                                                      "ticker": ticker})
        assert r.status_code == 200, r.text
        for c in (code, other):
            assert op.post("/operator/builders", json={"code": c, "share": "0.5"}).status_code == 201
    maker, taker = make_user(fix_server), make_user(fix_server)
    _bind(fix_server, taker.key_id, code)
    r = rest(fix_server, maker, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": "ask", "count": "30.00", "price": "0.5000",
              "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"})
    assert r.status_code == 201, r.text
    c = RawClient("127.0.0.1", fix_server.fix_port, taker.key_id)
    c.logon(taker.private_key)
    c.expect("A")

    def buy(cl: str) -> None:
        c.send("D", [(T.ClOrdID, cl), (T.Symbol, ticker), (T.Side, 1), (T.OrderQty, 10), (T.OrdType, 2),
                     (T.Price, 50), (T.TimeInForce, 3)])
        assert c.expect("8").get(T.ExecType) == b"0"
        fill = c.expect("8")
        assert (fill.get(T.ExecType), fill.get(T.LastQty), fill.get(T.Commission)) == (b"F", b"10", b"0.18")

    buy("b1")
    assert _balance(fix_server, code) == Decimal("0.09")  # half of 0.07 x 10 x 0.5 x 0.5, ceiled to 0.18
    _bind(fix_server, taker.key_id, other)  # rebound while the session is logged on
    buy("b2")
    assert _balance(fix_server, code) == Decimal("0.09")
    assert _balance(fix_server, other) == Decimal("0.09")
    _bind(fix_server, taker.key_id, None)
    buy("b3")
    assert (_balance(fix_server, code), _balance(fix_server, other)) == (Decimal("0.09"), Decimal("0.09"))
    c.close()
