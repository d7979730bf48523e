"""The gateway against an independent FIX engine, QuickFIX/J (tests/fix/qfj): logon with a
Tandem key, order entry with its ExecutionReports (a fill against a REST user included),
market data snapshot and increments, and a resend over a sequence gap across a restart of
the gateway — on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from tests.fix.conftest import make_market, make_user, rest, start_fix_server
from tests.fix.qfj_client import QfjClient, all_of
from tests.databases import BACKENDS, fresh_database


@pytest.fixture
def clients(tmp_path):
    made: list[QfjClient] = []

    def make(server, user, name: str, **kw) -> QfjClient:
        client = QfjClient(server, user, tmp_path / name, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()


def test_order_entry_and_a_fill_against_a_rest_user(fix_server, clients):
    ticker = make_market(fix_server)
    trader, rest_user = make_user(fix_server), make_user(fix_server)
    fix = clients(fix_server, trader, "trader")
    fix.logon()

    fix.send("order", "buy-1", ticker, "1", "10", "40")
    new = fix.app("8", t11="buy-1", t150="0")
    assert (new[39], new[38], new[44], new[151], new[14]) == ("0", "10", "40", "10", "0")
    order_id = new[37]

    # A REST user sells into it: the FIX session hears of the fill as the maker.
    r = rest(fix_server, rest_user, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": "ask", "price": "0.40", "count": "4.00"})
    assert r.status_code == 201, r.text
    fill = fix.app("8", t11="buy-1", t150="F")
    assert (fill[37], fill[39], fill[32], fill[31], fill[14], fill[151], fill[1057]) == \
        (order_id, "1", "4", "40", "4", "6", "N")
    assert float(fill[6]) == 40.0

    # The same fill over REST, for both sides.
    mine = rest(fix_server, trader, "GET", f"/portfolio/fills?order_id={order_id}").json()["fills"]
    assert [(f["count_fp"], f["is_taker"], f["trade_id"]) for f in mine] == [("4.00", False, fill[880])]
    theirs = rest(fix_server, rest_user, "GET", f"/portfolio/fills?ticker={ticker}").json()["fills"]
    assert [f["trade_id"] for f in theirs] == [fill[880]]

    # Amend: 12 in all at 41 (a replacement order for the 8 left).
    fix.send("replace", "buy-1b", "buy-1", ticker, "1", "12", "41")
    replaced = fix.app("8", t11="buy-1b", t150="5")
    assert (replaced[41], replaced[38], replaced[44], replaced[14], replaced[151]) == ("buy-1", "12", "41", "4", "8")
    book = rest(fix_server, trader, "GET", f"/markets/{ticker}/orderbook").json()["orderbook_fp"]
    assert book["yes_dollars"] == [["0.4100", "8.00"]]

    # Cancel by the replacement's ClOrdID.
    fix.send("cancel", "buy-1c", "buy-1b", ticker, "1")
    canceled = fix.app("8", t11="buy-1c", t150="4")
    assert (canceled[41], canceled[39], canceled[151], canceled[14]) == ("buy-1b", "4", "0", "4")
    orders = rest(fix_server, trader, "GET", f"/portfolio/orders?ticker={ticker}").json()["orders"]
    assert {o["client_order_id"]: o["status"] for o in orders} == {"buy-1": "canceled", "buy-1b": "canceled"}

    # A cancel of what is gone: OrderCancelReject.
    fix.send("cancel", "buy-1d", "buy-1b", ticker, "1")
    reject = fix.app("9", t11="buy-1d")
    assert reject[434] == "1" and "order_not_resting" in reject[58]

    # The exchange's refusals, as ExecutionReports: an unknown market, more than the balance.
    fix.send("order", "bad-1", "NO-SUCH-MARKET", "1", "1", "40")
    assert fix.app("8", t11="bad-1")[103] == "1"
    fix.send("order", "bad-2", ticker, "1", "1000000", "99")
    rejected = fix.app("8", t11="bad-2")
    assert (rejected[150], rejected[39], rejected[103]) == ("8", "8", "3")

    # Mass cancel: both resting orders go, each with its report, then the summary.
    fix.send("order", "rest-a", ticker, "1", "1", "30")
    fix.app("8", t11="rest-a", t150="0")
    fix.send("order", "rest-b", ticker, "2", "1", "70")
    fix.app("8", t11="rest-b", t150="0")
    fix.send("masscancel", "mass-1", ticker)
    gone = {fix.app("8", t150="4")[11] for _ in range(2)}
    assert gone == {"rest-a", "rest-b"}
    report = fix.app("r", t11="mass-1")
    assert (report[531], report[533]) == ("1", "2")


def test_market_data_snapshot_and_increments(fix_server, clients):
    ticker = make_market(fix_server)
    maker, watcher = make_user(fix_server), make_user(fix_server)
    r = rest(fix_server, maker, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": "bid", "price": "0.35", "count": "3.00"})
    assert r.status_code == 201, r.text
    md = clients(fix_server, watcher, "md", target="KalshiMD")
    md.logon()
    md.send("md", "book-1", ticker)
    snapshot = md.app("W", t262="book-1")
    assert snapshot[55] == ticker and snapshot[268] == "1"
    assert (all_of(snapshot["raw"], 269), all_of(snapshot["raw"], 270), all_of(snapshot["raw"], 271)) == \
        (["0"], ["35"], ["3"])

    r = rest(fix_server, maker, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": "ask", "price": "0.60", "count": "2.00"})
    assert r.status_code == 201, r.text
    new_level = md.app("X", t262="book-1")
    assert (new_level[279], new_level[269], new_level[270], new_level[271]) == ("0", "1", "60", "2")

    order_id = r.json()["order_id"]
    r = rest(fix_server, maker, "DELETE", f"/portfolio/events/orders/{order_id}")
    assert r.status_code == 200, r.text
    deleted = md.app("X", t262="book-1")
    assert (deleted[279], deleted[269], deleted[270]) == ("2", "1", "60")

    r = rest(fix_server, maker, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": "bid", "price": "0.35", "count": "1.00"})
    changed = md.app("X", t262="book-1")
    assert (changed[279], changed[269], changed[270], changed[271]) == ("1", "0", "35", "4")


@pytest.fixture(params=BACKENDS)
def restartable(request, tmp_path):
    """A gateway of this test's own, to be restarted on the same database and TANDEM_HOME."""
    home = tmp_path / "home"
    home.mkdir()
    with fresh_database(request.param, home, "fixr") as url:
        state = {"server": start_fix_server(url, home)}

        def restart():
            port = state["server"].fix_port
            state["server"].stop()
            state["server"] = start_fix_server(url, home, fix_port=port)
            return state["server"]

        try:
            yield state["server"], restart
        finally:
            state["server"].stop()


def test_resend_over_a_gap_across_a_restart(restartable, clients):
    """A fill while the client is away, then the gateway restarts: at the next Logon the client
    sees the gateway's MsgSeqNum ahead of its own count, asks for a resend, and gets the
    ExecutionReport it missed (PossDupFlag=Y) from the gateway's session store."""
    server, restart = restartable
    ticker = make_market(server)
    trader, rest_user = make_user(server), make_user(server)
    first = clients(server, trader, "trader")
    first.logon()
    first.send("order", "gap-1", ticker, "1", "5", "45")
    new = first.app("8", t11="gap-1", t150="0")
    first.send("logout")
    first.wait(lambda e: e["event"] == "logout", 20, "Logout")
    first.stop()

    r = rest(server, rest_user, "POST", "/portfolio/events/orders",
             {"ticker": ticker, "side": "ask", "price": "0.45", "count": "5.00"})
    assert r.status_code == 201, r.text
    server = restart()

    again = clients(server, trader, "trader", reset=False)  # same QuickFIX/J store: it knows its sequence numbers
    again.logon()
    asked = again.wait(lambda e: e["event"] == "sent" and e["fields"][35] == "2", 20, "a ResendRequest from the client",
                       already=True)
    assert int(asked["fields"][7]) <= int(new[34]) + 2  # from just after what it had seen
    fill = again.app("8", t11="gap-1", t150="F")
    assert (fill[43], fill[39], fill[32], fill[37]) == ("Y", "2", "5", new[37])
    # Sequence continues after the resend: a new order is acknowledged normally.
    again.send("order", "gap-2", ticker, "1", "1", "20")
    after = again.app("8", t11="gap-2", t150="0")
    assert after.get(43) is None and int(after[34]) > int(fill[34])
