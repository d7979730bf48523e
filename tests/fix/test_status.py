"""OrderStatusRequest (H) -> ExecutionReport ExecType=I with the order as it stands, and
TimeInForce 0 (Day), which Tandem does not serve, refused with the reason."""
from __future__ import annotations

from fix import tags as T
from fix.client import RawClient
from tests.fix.conftest import make_market, make_user, rest


def _status(c: RawClient, cl: str, req: str):
    c.send("H", [(T.ClOrdID, cl), (T.OrdStatusReqID, req), (T.Side, 1)])
    r = c.expect("8")
    assert (r.get(T.ExecType), r.get(T.OrdStatusReqID), r.get(T.ClOrdID)) == (b"I", req.encode(), cl.encode())
    return r


def test_order_status_request(fix_server):
    user, seller, ticker = make_user(fix_server), make_user(fix_server), make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, user.key_id)
    c.logon(user.private_key)
    c.expect("A")
    c.send("D", [(T.ClOrdID, "st-1"), (T.Symbol, ticker), (T.Side, 1), (T.OrderQty, 10), (T.OrdType, 2),
                 (T.Price, 40)])
    new = c.expect("8")
    r = _status(c, "st-1", "q1")
    assert (r.get(T.OrdStatus), r.get(T.OrderID), r.get(T.CumQty), r.get(T.LeavesQty), r.get(T.Price)) == \
        (b"0", new.get(T.OrderID), b"0", b"10", b"40")
    # A REST user fills 4 of the 10.
    r = rest(fix_server, seller, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": "ask", "count": "4.00", "price": "0.4000", "time_in_force": "immediate_or_cancel",
              "self_trade_prevention_type": "taker_at_cross"})
    assert r.status_code == 201, r.text
    assert c.expect("8").get(T.ExecType) == b"F"
    r = _status(c, "st-1", "q2")
    assert (r.get(T.OrdStatus), r.get(T.CumQty), r.get(T.LeavesQty), r.get(T.AvgPx)) == (b"1", b"4", b"6", b"40")
    c.send("F", [(T.ClOrdID, "st-1-x"), (T.OrigClOrdID, "st-1"), (T.Symbol, ticker), (T.Side, 1)])
    assert c.expect("8").get(T.ExecType) == b"4"
    r = _status(c, "st-1", "q3")
    assert (r.get(T.OrdStatus), r.get(T.CumQty), r.get(T.LeavesQty)) == (b"4", b"4", b"0")
    r = _status(c, "never-sent", "q4")
    assert (r.get(T.OrdStatus), r.get(T.OrdRejReason), r.get(T.OrderID)) == (b"8", b"5", b"NONE")
    c.close()


def test_time_in_force_day_is_refused_with_the_reason(fix_server):
    user, ticker = make_user(fix_server), make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, user.key_id)
    c.logon(user.private_key)
    c.expect("A")
    c.send("D", [(T.ClOrdID, "day-1"), (T.Symbol, ticker), (T.Side, 1), (T.OrderQty, 1), (T.OrdType, 2),
                 (T.Price, 40), (T.TimeInForce, 0)])
    r = c.expect("3")
    assert (r.get(T.RefTagID), r.get(T.SessionRejectReason)) == (b"59", b"5")
    assert r.get(T.Text).startswith(b"TimeInForce 0 (Day) is not served")
    orders = rest(fix_server, user, "GET", f"/portfolio/orders?ticker={ticker}").json()["orders"]
    assert orders == []
    c.close()
