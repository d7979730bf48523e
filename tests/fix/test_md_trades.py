"""Trades in market data: a KalshiMD subscription whose request lists MDEntryType 2 gets each
trade as an incremental refresh entry (269=2) beside the book changes; one that did not ask
gets the book changes only."""
from __future__ import annotations

from fix import tags as T
from fix.client import RawClient
from tests.fix.conftest import make_market, make_user, rest


def _md(server, user, req_id: str, ticker: str, types: list[int]) -> RawClient:
    c = RawClient("127.0.0.1", server.fix_port, user.key_id, target="KalshiMD")
    c.logon(user.private_key)
    c.expect("A")
    c.send("V", [(T.MDReqID, req_id), (T.SubscriptionRequestType, 1), (T.MarketDepth, 0),
                 (T.NoMDEntryTypes, len(types)), *[(T.MDEntryType, t) for t in types],
                 (T.NoRelatedSym, 1), (T.Symbol, ticker)])
    assert c.expect("W").get(T.MDReqID) == req_id.encode()
    return c


def _order(server, user, ticker, side, count, tif="good_till_canceled"):
    r = rest(server, user, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": side, "price": "0.4500", "count": count, "time_in_force": tif,
              "self_trade_prevention_type": "taker_at_cross"})
    assert r.status_code == 201, r.text


def test_trades_reach_subscriptions_that_asked_for_them(fix_server):
    ticker = make_market(fix_server)
    maker, taker, a, b = (make_user(fix_server) for _ in range(4))
    with_trades = _md(fix_server, a, "t-1", ticker, [0, 1, 2])
    book_only = _md(fix_server, b, "b-1", ticker, [0, 1])
    _order(fix_server, maker, ticker, "ask", "5.00")
    for c in (with_trades, book_only):
        new = c.expect("X")
        assert (new.get(T.MDUpdateAction), new.get(T.MDEntryType), new.get(T.MDEntrySize)) == (b"0", b"1", b"5")
    _order(fix_server, taker, ticker, "bid", "2.00", tif="immediate_or_cancel")
    seen = [with_trades.expect("X") for _ in range(2)]
    trades = [m for m in seen if m.get(T.MDEntryType) == b"2"]
    assert len(trades) == 1, seen
    t = trades[0]
    public = rest(fix_server, maker, "GET", f"/markets/trades?ticker={ticker}").json()["trades"]
    assert (t.get(T.MDUpdateAction), t.get(T.Symbol), t.get(T.MDEntryPx), t.get(T.MDEntrySize), t.get(T.AggressorSide),
            t.get(T.TradeID)) == (b"0", ticker.encode(), b"45", b"2", b"1", public[0]["trade_id"].encode())
    changed = book_only.expect("X")  # the ask level shrinks; no trade entry for this one
    assert (changed.get(T.MDEntryType), changed.get(T.MDUpdateAction), changed.get(T.MDEntrySize)) == (b"1", b"1", b"3")
    book_only.send("1", [(T.TestReqID, "nothing-else")])
    assert book_only.expect("0").get(T.TestReqID) == b"nothing-else"
    with_trades.close()
    book_only.close()
