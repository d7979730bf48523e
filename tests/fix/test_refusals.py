"""Bad input at the FIX gateway, from raw bytes (no engine would send them): each refused with
the FIX message the session protocol gives it, nothing written, and the gateway serving the
next session as before."""
from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from api.auth import KEY_HEADER, sign
from fix import tags as T
from fix.client import RawClient, logon_signature
from fix.codec import utc_timestamp
from tests.fix.conftest import make_market, make_user


def orders_of(server, user) -> list:
    path = "/trade-api/v2/portfolio/orders"
    headers = sign(user.private_key, int(time.time() * 1000), "GET", path) | {KEY_HEADER: user.key_id}
    r = httpx.get(server.base + path, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["orders"]


def stored_session(server, key_id: str) -> list:
    db = sqlite3.connect(server.home / "fix" / "sessions.db")
    try:
        return db.execute("SELECT * FROM fix_session WHERE sender=?", (key_id,)).fetchall()
    finally:
        db.close()


def refused(client: RawClient) -> str:
    """The Logout the gateway answers with, then it closes: its Text."""
    m = client.expect("5")
    assert client.receive(5) is None, "the connection stays open after the refusal"
    return m.get(T.Text).decode()


def works(server) -> None:
    """Another session logs on and its order is acknowledged: the gateway is still up."""
    user, ticker = make_user(server), make_market(server)
    c = RawClient("127.0.0.1", server.fix_port, user.key_id)
    try:
        c.logon(user.private_key)
        c.expect("A")
        c.send("D", [(11, "ok-1"), (55, ticker), (54, 1), (38, 1), (40, 2), (44, 30)])
        er = c.expect("8")
        assert er.get(T.ExecType) == b"0" and er.get(T.OrdStatus) == b"0"
    finally:
        c.close()


@pytest.fixture
def victim(fix_server):
    return make_user(fix_server)


def test_wrong_signature(fix_server, victim):
    other = make_user(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    c.logon(other.private_key)  # signed with someone else's key
    m = c.expect("5")
    assert m.get(T.Text) == b"signature does not verify"
    assert m.get(T.SessionStatus) == b"5"
    assert c.receive(5) is None
    assert stored_session(fix_server, victim.key_id) == []
    works(fix_server)


def test_signature_over_other_fields(fix_server, victim):
    """A signature of the right key, but over another MsgSeqNum than the Logon carries."""
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    sending_time = utc_timestamp()
    signature = logon_signature(victim.private_key, sending_time, 2, victim.key_id, "KalshiRT")
    c.send("A", [(T.EncryptMethod, 0), (T.HeartBtInt, 30), (T.ResetSeqNumFlag, "Y"), (T.DefaultApplVerID, 9),
                 (T.RawDataLength, len(signature)), (T.RawData, signature)], sending_time=sending_time)
    assert refused(c) == "signature does not verify"


def test_stale_sending_time(fix_server, victim):
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    c.logon(victim.private_key, skew_s=-45)  # correctly signed, 45 s old
    text = refused(c)
    assert "from the server clock (allowed 30 s)" in text, text
    assert stored_session(fix_server, victim.key_id) == []
    works(fix_server)


def test_unknown_key(fix_server, victim):
    c = RawClient("127.0.0.1", fix_server.fix_port, "00000000-0000-0000-0000-000000000000")
    c.logon(victim.private_key)
    assert refused(c) == "unknown API key"
    works(fix_server)


def test_unknown_target(fix_server, victim):
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id, target="Kalshi")
    c.logon(victim.private_key)
    assert "unknown TargetCompID" in refused(c)


def test_garbage_bytes(fix_server, victim):
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert refused(c).startswith("garbled message: does not start with 8=FIXT.1.1")
    works(fix_server)


def test_body_length_lie_before_logon(fix_server, victim):
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    sending_time = utc_timestamp()
    signature = logon_signature(victim.private_key, sending_time, 1, victim.key_id, "KalshiRT")
    raw = c.encode("A", [(T.EncryptMethod, 0), (T.HeartBtInt, 30), (T.ResetSeqNumFlag, "Y"),
                         (T.RawDataLength, len(signature)), (T.RawData, signature)], sending_time=sending_time)
    length = raw.split(b"\x01")[1]
    c.send_raw(raw.replace(length, b"9=" + str(int(length[2:]) + 5).encode(), 1))
    text = refused(c)
    assert text.startswith("garbled message: BodyLength says"), text
    assert stored_session(fix_server, victim.key_id) == []


def test_bad_checksum_before_logon(fix_server, victim):
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    raw = c.encode("0", [])
    c.send_raw(raw[:-4] + (b"000" if raw[-4:-1] != b"000" else b"001") + b"\x01")
    assert "CheckSum" in refused(c)


def test_message_before_logon(fix_server, victim):
    ticker = make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    c.send("D", [(11, "early"), (55, ticker), (54, 1), (38, 1), (40, 2), (44, 30)])
    assert refused(c) == "the first message must be a Logon (35=A), not 35=D"
    assert orders_of(fix_server, victim) == []
    works(fix_server)


def test_body_length_lie_in_session_is_ignored_and_the_gap_asked_for(fix_server, victim):
    """Logged on, a frame whose BodyLength lies is dropped uncounted (FIX: garbled messages are
    ignored); the next message shows the gap, and the gateway asks for it again."""
    ticker = make_market(fix_server)
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    c.logon(victim.private_key)
    c.expect("A")
    raw = c.encode("D", [(11, "lie"), (55, ticker), (54, 1), (38, 1), (40, 2), (44, 30)])  # seq 2
    length = raw.split(b"\x01")[1]
    c.send_raw(raw.replace(length, b"9=" + str(int(length[2:]) - 3).encode(), 1))
    c.send("1", [(T.TestReqID, "after-the-lie")])  # seq 3
    rr = c.expect("2")
    assert (rr.get(T.BeginSeqNo), rr.get(T.EndSeqNo)) == (b"2", b"0")
    assert orders_of(fix_server, victim) == []
    # Gap-filled by the client, the session goes on.
    c.send("4", [(T.GapFillFlag, "Y"), (T.NewSeqNo, 4)], seq=2)
    c.send("1", [(T.TestReqID, "ping")], seq=4)
    hb = c.expect("0")
    assert hb.get(T.TestReqID) == b"ping"
    c.close()


def test_session_level_rejects(fix_server, victim):
    c = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    c.logon(victim.private_key)
    c.expect("A")
    c.send("D", [(11, "no-symbol"), (54, 1), (38, 1), (40, 2), (44, 30)])
    r = c.expect("3")
    assert (r.get(T.RefTagID), r.get(T.SessionRejectReason), r.get(T.RefMsgType)) == (b"55", b"1", b"D")
    c.send("D", [(11, "bad-side"), (55, "X"), (54, 7), (38, 1), (40, 2), (44, 30)])
    r = c.expect("3")
    assert (r.get(T.RefTagID), r.get(T.SessionRejectReason)) == (b"54", b"5")
    c.send("V", [(T.MDReqID, "md"), (T.SubscriptionRequestType, 1)])  # market data on an order-entry session
    j = c.expect("j")
    assert (j.get(T.RefMsgType), j.get(T.BusinessRejectReason)) == (b"V", b"3")
    c.send("D", [(11, "poor"), (55, make_market(fix_server)), (54, 1), (38, 100000), (40, 2), (44, 99)])
    er = c.expect("8")
    assert (er.get(T.ExecType), er.get(T.OrdRejReason)) == (b"8", b"3")
    assert er.get(T.Text).startswith(b"insufficient_balance")
    assert orders_of(fix_server, victim) == []
    c.close()


def test_second_connection_for_a_key_is_refused(fix_server, victim):
    first = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    first.logon(victim.private_key)
    first.expect("A")
    second = RawClient("127.0.0.1", fix_server.fix_port, victim.key_id)
    second.logon(victim.private_key)
    assert "already has a session" in refused(second)
    first.send("1", [(T.TestReqID, "still-here")])
    assert first.expect("0").get(T.TestReqID) == b"still-here"
    first.close()
