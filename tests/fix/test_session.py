"""Session-level behaviour from raw frames: the session without retransmission gap-fills a
resend, CancelOrdersOnDisconnect, Logout both ways, a MsgSeqNum below the expected one, and
sequence numbers kept across connections without ResetSeqNumFlag."""
from __future__ import annotations

import time

from fix import tags as T
from fix.client import RawClient
from tests.fix.conftest import make_market, make_user, rest


def _order(c: RawClient, cl: str, ticker: str) -> None:
    c.send("D", [(T.ClOrdID, cl), (T.Symbol, ticker), (T.Side, 1), (T.OrderQty, 1), (T.OrdType, 2), (T.Price, 20)])


def test_no_retransmission_session_gap_fills_a_resend(fix_server):
    user, ticker = make_user(fix_server), make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, user.key_id, target="KalshiNR")
    c.logon(user.private_key)
    c.expect("A")
    _order(c, "nr-1", ticker)
    assert c.expect("8").get(T.MsgSeqNum) == b"2"
    c.send("2", [(T.BeginSeqNo, 1), (T.EndSeqNo, 0)])
    fill = c.expect("4")
    assert (fill.get(T.GapFillFlag), fill.get(T.NewSeqNo), fill.get(T.MsgSeqNum), fill.get(T.PossDupFlag)) == \
        (b"Y", b"3", b"1", b"Y")
    c.close()


def test_retransmission_session_resends_reports_and_gap_fills_the_rest(fix_server):
    user, ticker = make_user(fix_server), make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, user.key_id)
    c.logon(user.private_key)
    c.expect("A")
    _order(c, "rt-1", ticker)
    original = c.expect("8")
    c.send("1", [(T.TestReqID, "hb")])
    c.expect("0", skip=())
    c.send("2", [(T.BeginSeqNo, 1), (T.EndSeqNo, 0)])
    logon_fill = c.expect("4")  # the Logon (seq 1): a gap fill
    assert (logon_fill.get(T.MsgSeqNum), logon_fill.get(T.NewSeqNo)) == (b"1", b"2")
    again = c.expect("8")
    assert (again.get(T.MsgSeqNum), again.get(T.PossDupFlag), again.get(T.ExecID)) == \
        (b"2", b"Y", original.get(T.ExecID))
    assert again.get(T.OrigSendingTime) == original.get(T.SendingTime)
    heartbeat_fill = c.expect("4")  # the Heartbeat (seq 3)
    assert (heartbeat_fill.get(T.MsgSeqNum), heartbeat_fill.get(T.NewSeqNo)) == (b"3", b"4")
    c.close()


def test_cancel_orders_on_disconnect(fix_server):
    user, ticker = make_user(fix_server), make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, user.key_id)
    c.logon(user.private_key, extra=[(T.CancelOrdersOnDisconnect, "Y")])
    c.expect("A")
    _order(c, "cod-1", ticker)
    assert c.expect("8").get(T.ExecType) == b"0"
    c.close()  # no Logout: the connection just drops
    deadline = time.monotonic() + 10
    while True:
        orders = rest(fix_server, user, "GET", f"/portfolio/orders?ticker={ticker}").json()["orders"]
        if orders and orders[0]["status"] == "canceled":
            break
        assert time.monotonic() < deadline, orders
        time.sleep(0.2)


def test_sequence_numbers_carry_over_and_too_low_is_a_logout(fix_server):
    user = make_user(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, user.key_id)
    c.logon(user.private_key)
    c.expect("A")
    c.send("5", [(T.Text, "done")])
    assert c.expect("5").get(T.MsgSeqNum) == b"2"
    assert c.receive(5) is None
    # No ResetSeqNumFlag: the session goes on where it was (we sent 2 messages, it sent 2).
    c2 = RawClient("127.0.0.1", fix_server.fix_port, user.key_id)
    c2.seq = 3
    c2.logon(user.private_key, reset=False)
    logon = c2.expect("A")
    assert logon.get(T.MsgSeqNum) == b"3"
    c2.send("0", [], seq=2)  # already seen and not a PossDup
    bye = c2.expect("5")
    assert bye.get(T.Text) == b"MsgSeqNum too low, expecting 4 but received 2"
    assert c2.receive(5) is None
