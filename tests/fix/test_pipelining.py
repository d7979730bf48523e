"""A client that pipelines: orders sent in one write share a group commit, and are still
answered one by one, in the order sent; a cancel of an order of the same write waits for it."""
from __future__ import annotations

from fix import tags as T
from fix.client import RawClient
from tests.fix.conftest import make_market, make_user, rest


def test_pipelined_orders_and_cancels_answer_in_order(fix_server):
    user, ticker = make_user(fix_server), make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, user.key_id)
    c.logon(user.private_key)
    c.expect("A")
    burst = b"".join(c.encode("D", [(T.ClOrdID, f"p{i}"), (T.Symbol, ticker), (T.Side, 1), (T.OrderQty, 1),
                                    (T.OrdType, 2), (T.Price, 10 + i)]) for i in range(20))
    burst += c.encode("F", [(T.ClOrdID, "p3-cancel"), (T.OrigClOrdID, "p3"), (T.Symbol, ticker), (T.Side, 1)])
    burst += c.encode("D", [(T.ClOrdID, "p-late"), (T.Symbol, ticker), (T.Side, 1), (T.OrderQty, 1), (T.OrdType, 2),
                            (T.Price, 5)])
    c.send_raw(burst)
    reports = [c.expect("8") for _ in range(22)]
    assert [r.get(T.ClOrdID).decode() for r in reports] == [f"p{i}" for i in range(20)] + ["p3-cancel", "p-late"]
    assert [r.get(T.ExecType) for r in reports] == [b"0"] * 20 + [b"4", b"0"]
    assert [int(r.get(T.MsgSeqNum)) for r in reports] == list(range(2, 24))
    orders = rest(fix_server, user, "GET", f"/portfolio/orders?ticker={ticker}&status=resting").json()["orders"]
    assert len(orders) == 20 and "p3" not in {o["client_order_id"] for o in orders}
    c.close()
