"""ExchangeService against a real database (SQLite and PostgreSQL): matching through the
ledger, netting, fees, outbox, settlement, restore, and refusals that write nothing."""
from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import select

from exchange import errors
from exchange.fees import CENT, ONE, taker_fee
from exchange.models import Fill, Order, OutboxEvent, Trade
from exchange.schemas import BookDelta, FillEvent, OrderRequest, TradeEvent
from exchange.service import ExchangeService

from .checks import check_ledger, check_outbox_gapless, funded_users, row_count

C = ONE  # one contract
HOUR_MS = 3_600_000


def _later() -> int:
    return int(time.time() * 1000) + HOUR_MS


def test_mint_transfer_merge_with_netting_and_invariants(svc):
    alice, bob, carol = funded_users(svc, "alice", "bob", "carol")
    svc.create_market("M", title="m", close_ms=_later())
    # Mint: alice buys YES at 0.40, bob buys NO at 0.60 -> a new set.
    svc.place_order(alice.id, OrderRequest("M", "bid", 400_000, 10 * C))
    _, fills = svc.place_order(bob.id, OrderRequest.legacy("M", "no", "buy", 10 * C, no_price=600_000))
    assert [(f.price, f.count) for f in fills] == [(400_000, 10 * C)]
    assert svc.positions(alice.id)[0].items[0].position == 10 * C
    assert svc.positions(bob.id)[0].items[0].position == -10 * C
    # Transfer: carol buys YES from alice (alice sells YES she holds).
    svc.place_order(alice.id, OrderRequest.legacy("M", "yes", "sell", 4 * C, yes_price=500_000))
    svc.place_order(carol.id, OrderRequest("M", "bid", 500_000, 4 * C))
    # Merge: bob sells NO (a bid at 1 - q) against alice selling YES -> a set retired.
    svc.place_order(alice.id, OrderRequest.legacy("M", "yes", "sell", 6 * C, yes_price=450_000))
    _, fills = svc.place_order(bob.id, OrderRequest.legacy("M", "no", "sell", 6 * C, no_price=550_000))
    assert sum(f.count for f in fills) == 6 * C
    positions = {u.name: (svc.positions(u.id)[0].items or [None])[0] for u in (alice, bob, carol)}
    assert positions["alice"] is None  # flat: 10 bought, 4 + 6 sold
    assert positions["bob"].position == -4 * C
    assert positions["carol"].position == 4 * C
    with svc.db.reader.connect() as conn:
        kinds = conn.execute(select(Trade.__table__.c.minted, Trade.__table__.c.merged).order_by(Trade.__table__.c.id)).all()
    assert kinds == [(10 * C, 0), (0, 0), (0, 6 * C)]
    assert svc.get_market("M").open_interest == 4 * C
    # Cash: alice paid 4.00 for 10 YES, got 2.00 + 2.70; fees paid on her taker-free trades: none (maker).
    assert svc.balance(alice.id).cash == 1_000 * ONE + (-4 * ONE + 2 * ONE + 27 * ONE // 10)
    # Bob: paid 6.00 for 10 NO (+ taker fee), got 0.55 × 6 = 3.30 back on the merge (+ taker fee).
    expected_bob = 1_000 * ONE - 6 * ONE - taker_fee(10 * C, 400_000) + 33 * ONE // 10 - taker_fee(6 * C, 450_000)
    assert svc.balance(bob.id).cash == expected_bob
    check_ledger(svc)
    streams = check_outbox_gapless(svc)
    kinds = [k for _, k, _ in streams["M"]]
    assert kinds == ["create_market", "custody_mint_set", "custody_merge_set"]
    assert streams["M"][1][2]["amount"] == 10 * C and streams["M"][2][2]["amount"] == 6 * C


def test_random_trading_keeps_every_invariant(svc):
    rng = random.Random(7)
    users = funded_users(svc, "u0", "u1", "u2", "u3", "u4", cents=500_00)
    for t in ("A", "B"):
        svc.create_market(t, title=t, close_ms=_later())
    placed = 0
    for _ in range(300):
        u = rng.choice(users)
        req = OrderRequest(rng.choice("AB"), rng.choice(["bid", "ask"]), rng.randint(1, 99) * CENT, rng.randint(1, 500) * 10_000 * 10,
                           time_in_force=rng.choice(["good_till_canceled"] * 4 + ["immediate_or_cancel"]),
                           self_trade_prevention=rng.choice(["taker_at_cross", "maker"]))
        try:
            order, _ = svc.place_order(u.id, req)
            placed += 1
            if order.status == "resting" and rng.random() < 0.3:
                svc.cancel_order(u.id, order.order_id)
        except errors.InsufficientBalance:
            pass
    assert placed > 100
    check_ledger(svc)
    streams = check_outbox_gapless(svc)
    # The custody mirror: net mints minus merges in the outbox == sets outstanding.
    for t in ("A", "B"):
        net = sum(p["amount"] if k == "custody_mint_set" else -p["amount"] for _, k, p in streams[t] if k in ("custody_mint_set", "custody_merge_set"))
        assert net == svc.get_market(t).open_interest
    # Available balances never negative (holds are an upper bound of what resting orders can cost).
    for u in users:
        assert svc.balance(u.id).balance >= 0


def test_fees_maker_rebate_and_builder_share(svc):
    maker, taker = funded_users(svc, "maker", "taker")
    svc.create_market("F", title="f", close_ms=_later())
    svc.set_fee_schedule("pro", taker_rate_ppm=70_000, maker_rate_ppm=17_500, maker_rebate_ppm=5_000, ticker="F")
    svc.create_builder("app1", share_ppm=250_000)
    svc.place_order(maker.id, OrderRequest("F", "ask", 300_000, 100 * C))
    order, fills = svc.place_order(taker.id, OrderRequest("F", "bid", 300_000, 100 * C, builder_code="app1"))
    taker_fee_expected = 147 * CENT  # 0.07 × 100 × 0.3 × 0.7 = 1.47
    maker_fee_expected = 37 * CENT  # 0.0175 × 21 = 0.3675 -> 0.37
    rebate_expected = 10 * CENT  # 0.005 × 21 = 0.105 -> 0.10
    assert fills[0].fee == taker_fee_expected == order.taker_fees
    maker_fill = svc.fills(maker.id).items[0]
    assert (maker_fill.fee, maker_fill.rebate) == (maker_fee_expected, rebate_expected)
    assert svc.balance(taker.id).cash == 1_000 * ONE - 30 * ONE - taker_fee_expected
    assert svc.balance(maker.id).cash == 1_000 * ONE - 70 * ONE - maker_fee_expected + rebate_expected
    builder = {b.code: b for b in svc.list_builders()}["app1"]
    assert builder.balance == taker_fee_expected // 4
    by_owner = check_ledger(svc)["by_owner"]
    assert by_owner[("fees", "")]["USD"] == taker_fee_expected + maker_fee_expected - rebate_expected - taker_fee_expected // 4


def test_per_order_fee_rounding_over_many_small_fills(svc):
    maker, taker = funded_users(svc, "maker", "taker")
    svc.create_market("R", title="r", close_ms=_later())
    for _ in range(10):
        svc.place_order(maker.id, OrderRequest("R", "ask", 500_000, 10_000))  # 0.01 contract each
    order, fills = svc.place_order(taker.id, OrderRequest("R", "bid", 500_000, 100_000))
    assert len(fills) == 10
    # 0.07 × 0.1 × 0.25 = 0.00175 -> one cent for the order, not one cent per fill.
    assert sum(f.fee for f in fills) == order.taker_fees == CENT


def test_determine_and_finalize_pay_out(svc):
    yes_holder, no_holder = funded_users(svc, "y", "n")
    svc.create_market("S", title="s", close_ms=_later())
    svc.place_order(yes_holder.id, OrderRequest("S", "bid", 700_000, 5 * C))
    svc.place_order(no_holder.id, OrderRequest("S", "ask", 700_000, 5 * C))
    svc.place_order(yes_holder.id, OrderRequest("S", "bid", 100_000, 1 * C))  # rests; close cancels it
    with pytest.raises(errors.MarketNotOpen):
        svc.finalize("S")
    svc.determine("S", yes_payout=ONE // 4)  # closes the market, cancels resting orders
    assert svc.get_market("S").status == "determined"
    with pytest.raises(errors.MarketNotOpen):
        svc.place_order(yes_holder.id, OrderRequest("S", "bid", 100_000, C))
    svc.determine("S", yes_payout=ONE)  # the resolver corrects it before finalization
    before = {u.id: svc.balance(u.id).cash for u in (yes_holder, no_holder)}
    svc.finalize("S")
    assert svc.balance(yes_holder.id).cash == before[yes_holder.id] + 5 * ONE
    assert svc.balance(no_holder.id).cash == before[no_holder.id]
    (s,) = svc.settlements(yes_holder.id).items
    assert (s.yes_count, s.revenue, s.market_result, s.yes_total_cost) == (5 * C, 5 * ONE, "yes", 35 * ONE // 10)
    assert svc.settlements(no_holder.id).items[0].no_count == 5 * C
    assert svc.positions(yes_holder.id)[0].items == []
    by_owner = check_ledger(svc)["by_owner"]
    assert by_owner[("collateral", "S")]["USD"] == 0
    outbox = check_outbox_gapless(svc)["S"]
    assert [k for _, k, _ in outbox][-5:] == ["close_market", "determine", "determine", "finalize", "custody_redeem"]
    # custody redeems what the custodial holders held: 5 YES, 5 NO, paid at YES = $1
    assert outbox[-1][2] | {"journal_id": ""} == {"ticker": "S", "yes_amount": 5 * C, "no_amount": 5 * C, "payout": 5 * ONE,
                                                 "journal_id": ""}


def test_restart_restores_book_holds_and_balances(db_url):
    svc = ExchangeService(db_url)
    a, b = funded_users(svc, "a", "b")
    svc.create_market("P", title="p", close_ms=_later())
    rng = random.Random(3)
    for i in range(60):
        u = (a, b)[i % 2]
        try:
            svc.place_order(u.id, OrderRequest("P", rng.choice(["bid", "ask"]), rng.randint(30, 70) * CENT, rng.randint(1, 20) * C))
        except errors.InsufficientBalance:
            pass
    book = svc.orderbook("P")
    balances = {u.id: svc.balance(u.id) for u in (a, b)}
    queues = sorted((q.order_id, q.queue_position) for q in svc.queue_positions(a.id))
    svc.close()
    again = ExchangeService(db_url)
    assert again.orderbook("P").yes == book.yes and again.orderbook("P").no == book.no
    for u in (a, b):
        restored = again.balance(u.id)
        assert (restored.cash, restored.held, restored.balance) == (balances[u.id].cash, balances[u.id].held, balances[u.id].balance)
    assert sorted((q.order_id, q.queue_position) for q in again.queue_positions(a.id)) == queues
    # Priority survived: a new crossing order fills the oldest resting order at the best price first.
    best_ask = min((o for o in again.list_orders(a.id, status="resting").items + again.list_orders(b.id, status="resting").items
                    if o.book_side == "ask"), key=lambda o: (o.price, o.created_ms, o.order_id), default=None)
    if best_ask is not None:
        c = again.create_user("c")
        again.fund(c.id, cents=10_000_00)
        _, fills = again.place_order(c.id, OrderRequest("P", "bid", best_ask.price, 10_000))
        assert fills and fills[0].price == best_ask.price
    again.close()


def test_refused_orders_write_nothing(svc):
    (poor,) = funded_users(svc, "poor", cents=100)  # $1
    svc.create_market("X", title="x", close_ms=_later())
    orders_before, entries_before = row_count(svc, Order), row_count(svc, OutboxEvent)
    with pytest.raises(errors.InsufficientBalance):
        svc.place_order(poor.id, OrderRequest("X", "bid", 500_000, 10 * C))
    with pytest.raises(errors.InvalidRequest):
        svc.place_order(poor.id, OrderRequest("X", "bid", 500_001, C))  # off tick
    with pytest.raises(errors.InvalidRequest):
        svc.place_order(poor.id, OrderRequest("X", "bid", 500_000, 5_000))  # below the lot
    with pytest.raises(errors.NotFound):
        svc.place_order(poor.id, OrderRequest("NOPE", "bid", 500_000, C))
    with pytest.raises(errors.InsufficientBalance):
        svc.debit(poor.id, cents=101)
    assert (row_count(svc, Order), row_count(svc, OutboxEvent)) == (orders_before, entries_before)
    assert svc.orderbook("X").yes == []
    svc.halt("X")
    with pytest.raises(errors.MarketNotOpen):
        svc.place_order(poor.id, OrderRequest("X", "bid", 10_000, 10_000))
    svc.resume("X")
    svc.place_order(poor.id, OrderRequest("X", "bid", 10_000, 10_000))


def test_failure_inside_the_transaction_rolls_back_ledger_and_book(svc, monkeypatch):
    a, b = funded_users(svc, "a", "b")
    svc.create_market("T", title="t", close_ms=_later())
    deltas: list[BookDelta] = []
    svc.subscribe(lambda e: deltas.append(e) if isinstance(e, BookDelta) else None)
    svc.place_order(a.id, OrderRequest("T", "ask", 600_000, 3 * C))
    book, cash = svc.orderbook("T"), svc.balance(b.id).cash
    counts = [row_count(svc, t) for t in (Order, Fill, Trade, OutboxEvent)]

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(svc.outbox, "write", boom)
    with pytest.raises(RuntimeError):
        svc.place_order(b.id, OrderRequest("T", "bid", 600_000, 2 * C))
    monkeypatch.undo()
    assert [row_count(svc, t) for t in (Order, Fill, Trade, OutboxEvent)] == counts
    assert svc.orderbook("T") == book and svc.balance(b.id).cash == cash
    _, fills = svc.place_order(b.id, OrderRequest("T", "bid", 600_000, 2 * C))
    assert sum(f.count for f in fills) == 2 * C
    # The rebuild kept the WebSocket sequence: the deltas subscribers saw stay gapless.
    assert [d.seq for d in deltas] == list(range(1, len(deltas) + 1)) and len(deltas) >= 2
    check_ledger(svc)
    check_outbox_gapless(svc)


def test_order_semantics_stp_post_only_ioc_fok_reduce_only(svc):
    a, b = funded_users(svc, "a", "b")
    svc.create_market("Q", title="q", close_ms=_later())
    own, _ = svc.place_order(a.id, OrderRequest("Q", "ask", 500_000, C))
    order, fills = svc.place_order(a.id, OrderRequest("Q", "bid", 500_000, C))  # taker_at_cross: taker cancelled
    assert (order.status, fills) == ("canceled", [])
    order, fills = svc.place_order(a.id, OrderRequest("Q", "bid", 500_000, C, self_trade_prevention="maker"))
    assert order.status == "resting" and svc.get_order(a.id, own.order_id).status == "canceled"
    with pytest.raises(errors.InvalidRequest):
        svc.place_order(b.id, OrderRequest("Q", "ask", 500_000, C, post_only=True))
    order, fills = svc.place_order(b.id, OrderRequest("Q", "ask", 400_000, 3 * C, time_in_force="immediate_or_cancel"))
    assert (order.status, order.fill_count, fills[0].price) == ("canceled", C, 500_000)
    order, _ = svc.place_order(b.id, OrderRequest("Q", "ask", 400_000, C, time_in_force="fill_or_kill"))
    assert (order.status, order.fill_count) == ("canceled", 0)
    with pytest.raises(errors.InvalidRequest):  # a holds YES: a reduce-only bid cannot grow it
        svc.place_order(a.id, OrderRequest("Q", "bid", 300_000, C, reduce_only=True))
    order, _ = svc.place_order(a.id, OrderRequest("Q", "ask", 600_000, 5 * C, reduce_only=True))
    assert order.initial_count == C  # clamped to the position
    with pytest.raises(errors.Conflict):
        svc.place_order(b.id, OrderRequest("Q", "bid", 100_000, C, client_order_id="x1")) and \
            svc.place_order(b.id, OrderRequest("Q", "bid", 100_000, C, client_order_id="x1"))


def test_amend_decrease_cancel_and_order_groups(svc):
    a, b = funded_users(svc, "a", "b")
    svc.create_market("G", title="g", close_ms=_later())
    first, _ = svc.place_order(a.id, OrderRequest("G", "bid", 400_000, 5 * C))
    second, _ = svc.place_order(a.id, OrderRequest("G", "bid", 400_000, 5 * C))
    assert svc.get_order(a.id, second.order_id).queue_position == 5 * C
    svc.decrease_order(a.id, first.order_id, reduce_by=2 * C)  # keeps priority
    assert svc.get_order(a.id, second.order_id).queue_position == 3 * C
    old, new, fills = svc.amend_order(a.id, first.order_id, price=450_000)
    assert old.status == "canceled" and new.status == "resting" and new.price == 450_000 and new.remaining_count == 3 * C
    assert svc.orderbook("G").yes == [(400_000, 5 * C), (450_000, 3 * C)]
    view, reduced = svc.cancel_order(a.id, second.order_id)
    assert (view.status, reduced) == ("canceled", 5 * C)
    with pytest.raises(errors.NotFound):
        svc.cancel_order(b.id, new.order_id)  # not b's order
    group = svc.create_order_group(b.id, contracts_limit=2 * C)
    g1, _ = svc.place_order(b.id, OrderRequest("G", "ask", 450_000, 2 * C, order_group_id=group.order_group_id))
    assert svc.get_order_group(b.id, group.order_group_id).is_auto_cancel_enabled
    with pytest.raises(errors.InvalidRequest):
        svc.place_order(b.id, OrderRequest("G", "ask", 600_000, C, order_group_id=group.order_group_id))
    svc.reset_order_group(b.id, group.order_group_id)
    svc.place_order(b.id, OrderRequest("G", "ask", 600_000, C, order_group_id=group.order_group_id))
    svc.delete_order_group(b.id, group.order_group_id)
    assert svc.orderbook("G").no == []
    check_ledger(svc)


def test_subscribers_get_deltas_trades_and_private_fills_after_commit(svc):
    a, b = funded_users(svc, "a", "b")
    svc.create_market("W", title="w", close_ms=_later())
    seen = []
    svc.subscribe(seen.append)
    svc.place_order(a.id, OrderRequest("W", "bid", 300_000, 2 * C))
    svc.place_order(b.id, OrderRequest("W", "ask", 300_000, C))
    deltas = [e for e in seen if isinstance(e, BookDelta)]
    assert [(d.seq, d.book_side, d.delta) for d in deltas] == [(1, "bid", 2 * C), (2, "bid", -C)]
    assert len([e for e in seen if isinstance(e, TradeEvent)]) == 1
    assert {e.fill.user_id for e in seen if isinstance(e, FillEvent)} == {a.id, b.id}
    assert svc.orderbook("W").seq == 2


def test_users_keys_and_lists(svc):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    u = svc.create_user("kim")
    with pytest.raises(errors.Conflict):
        svc.create_user("kim")
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key_id = svc.create_api_key(u.id, pem)
    assert svc.get_api_key(key_id).user_id == u.id
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(errors.InvalidRequest):
        svc.create_api_key(u.id, ec_pem)
    assert svc.get_user_by_name("kim").id == u.id
    svc.create_series("SER", "Series")
    svc.create_event("EV", "SER", "Event")
    for i in range(5):
        svc.create_market(f"EV-{i}", "EV", f"m{i}", close_ms=_later())
    page = svc.list_markets(event_ticker="EV", limit=2)
    tickers = [m.ticker for m in page.items]
    while page.cursor:
        page = svc.list_markets(event_ticker="EV", limit=2, cursor=page.cursor)
        tickers += [m.ticker for m in page.items]
    assert tickers == [f"EV-{i}" for i in range(5)]
    assert svc.get_event("EV", with_markets=True).markets[0].series_ticker == "SER"
    assert [s.ticker for s in svc.list_series().items] == ["SER"]


def test_order_group_limit_cancels_a_partly_filled_maker(svc):
    """Maker fills that reach the group's limit cancel the group's resting orders, including the
    one the same command filled in part (the cancel must not be overwritten by the fill)."""
    alice, bob = funded_users(svc, "alice", "bob")
    svc.create_market("G", title="g", close_ms=_later())
    group = svc.create_order_group(alice.id, 5 * C)
    svc.place_order(alice.id, OrderRequest("G", "bid", 400_000, 4 * C, order_group_id=group.order_group_id))
    second, _ = svc.place_order(alice.id, OrderRequest("G", "bid", 390_000, 4 * C, order_group_id=group.order_group_id))
    _, fills = svc.place_order(bob.id, OrderRequest("G", "ask", 390_000, 5 * C, time_in_force="immediate_or_cancel"))
    assert [(f.price, f.count) for f in fills] == [(400_000, 4 * C), (390_000, 1 * C)]
    order = svc.get_order(alice.id, second.order_id)
    assert (order.status, order.remaining_count) == ("canceled", 0)
    assert svc.orderbook("G", 10).yes == []
    check_ledger(svc)


def test_buy_max_cost_spends_at_the_makers_prices_and_never_rests(svc):
    maker, yes_buyer, no_buyer = funded_users(svc, "maker", "yes_buyer", "no_buyer")
    svc.create_market("M", title="m", close_ms=_later())
    svc.place_order(maker.id, OrderRequest("M", "ask", 40 * CENT, 3 * C))
    svc.place_order(maker.id, OrderRequest("M", "ask", 50 * CENT, 7 * C))
    # $4.70 buys 3 at 40¢ and 7 at 50¢: all ten, though ten at the 60¢ limit would cost $6.
    order, fills = svc.place_order(yes_buyer.id, OrderRequest.legacy("M", "yes", "buy", 10 * C, yes_price=60 * CENT,
                                                                     buy_max_cost=470 * CENT))
    assert [(f.price, f.count) for f in fills] == [(40 * CENT, 3 * C), (50 * CENT, 7 * C)]
    assert order.fill_count == 10 * C and order.taker_fill_cost == 470 * CENT and order.status == "executed"
    # Buying NO walks the YES bids from the top, paying 1 − p: $1.30 buys 2 at 35¢ NO, then
    # 1.5 at 40¢ (counts are in hundredths of a contract).
    svc.place_order(maker.id, OrderRequest("M", "bid", 65 * CENT, 2 * C))
    svc.place_order(maker.id, OrderRequest("M", "bid", 60 * CENT, 5 * C))
    order, fills = svc.place_order(no_buyer.id, OrderRequest.legacy("M", "no", "buy", 5 * C, no_price=45 * CENT,
                                                                    buy_max_cost=130 * CENT))
    assert [(f.price, f.count) for f in fills] == [(65 * CENT, 2 * C), (60 * CENT, 3 * C // 2)]
    # The order is sized to what the cap buys (as reduce_only sizes), so it executed in full.
    assert (order.initial_count, order.taker_fill_cost, order.remaining_count, order.status) == (7 * C // 2, 130 * CENT, 0, "executed")
    assert svc.orderbook("M").yes == [(60 * CENT, 7 * C // 2)]  # nothing of the capped order rests
    # A cap that buys nothing at the book's prices is refused, and nothing is written.
    orders_before = row_count(svc, Order)
    with pytest.raises(errors.InvalidRequest):
        svc.place_order(yes_buyer.id, OrderRequest.legacy("M", "yes", "buy", 1 * C, yes_price=99 * CENT, buy_max_cost=1))
    assert row_count(svc, Order) == orders_before
    check_ledger(svc)


def test_order_group_limit_counts_a_rolling_window_since_reset_trigger_and_limit_update(svc, monkeypatch):
    from exchange.service import clock

    now = {"ms": int(time.time() * 1000)}
    monkeypatch.setattr(clock, "wall_ms", lambda: now["ms"])
    maker, taker = funded_users(svc, "maker", "taker")
    svc.create_market("W", title="w", close_ms=_later())
    group = svc.create_order_group(maker.id, 5 * C)

    def quote(price_cents: int, count: int) -> str:
        return svc.place_order(maker.id, OrderRequest("W", "bid", price_cents * CENT, count, order_group_id=group.order_group_id))[0].order_id

    def hit(count: int) -> None:
        svc.place_order(taker.id, OrderRequest("W", "ask", 1 * CENT, count, time_in_force="immediate_or_cancel"))

    quote(40, 10 * C)
    hit(3 * C)
    now["ms"] += 16_000  # those 3 leave the 15 s window
    hit(3 * C)
    assert not svc.get_order_group(maker.id, group.order_group_id).is_auto_cancel_enabled
    now["ms"] += 1_000
    hit(2 * C)  # 3 + 2 within 15 s: the limit of 5 is reached
    g = svc.get_order_group(maker.id, group.order_group_id)
    assert g.is_auto_cancel_enabled and g.order_ids == [] and svc.orderbook("W").yes == []
    with pytest.raises(errors.InvalidRequest):
        quote(40, 1 * C)
    # A reset starts the count afresh: the 5 matched just now no longer count.
    svc.reset_order_group(maker.id, group.order_group_id)
    now["ms"] += 1
    quote(40, 10 * C)
    hit(4 * C)
    assert not svc.get_order_group(maker.id, group.order_group_id).is_auto_cancel_enabled
    # Lowering the limit to what the window already holds triggers the group at once.
    svc.update_order_group_limit(maker.id, group.order_group_id, 4 * C)
    g = svc.get_order_group(maker.id, group.order_group_id)
    assert g.is_auto_cancel_enabled and g.contracts_limit == 4 * C and svc.orderbook("W").yes == []
    # Trigger on demand: the group's resting orders go, in one transaction with the flag.
    svc.reset_order_group(maker.id, group.order_group_id)
    svc.update_order_group_limit(maker.id, group.order_group_id, 50 * C)
    first, second = quote(30, 1 * C), quote(31, 1 * C)
    svc.trigger_order_group(maker.id, group.order_group_id)
    assert {svc.get_order(maker.id, o).cancel_reason for o in (first, second)} == {"order_group_triggered"}
    assert svc.get_order_group(maker.id, group.order_group_id).is_auto_cancel_enabled
    with pytest.raises(errors.NotFound):
        svc.trigger_order_group(taker.id, group.order_group_id)  # not the taker's group
    with pytest.raises(errors.InvalidRequest):
        svc.update_order_group_limit(maker.id, group.order_group_id, 0)
    check_ledger(svc)


def test_settlement_filters_are_applied_in_the_query_so_pages_are_full(svc, monkeypatch):
    from exchange.service import clock

    now = {"ms": int(time.time() * 1000)}
    monkeypatch.setattr(clock, "wall_ms", lambda: now["ms"])
    yes_holder, no_holder = funded_users(svc, "y", "n", cents=10_000_00)
    settled_at = {}
    for i, ticker in enumerate(["A1", "B1", "A2", "B2", "A3"]):
        svc.create_market(ticker, title=ticker, close_ms=_later())  # each its own event, named after it
        svc.place_order(yes_holder.id, OrderRequest(ticker, "bid", 50 * CENT, C))
        svc.place_order(no_holder.id, OrderRequest(ticker, "ask", 50 * CENT, C))
        svc.determine(ticker, yes_payout=ONE)
        now["ms"] += 60_000
        svc.finalize(ticker)
        settled_at[ticker] = now["ms"]
    assert [s.ticker for s in svc.settlements(yes_holder.id).items] == ["A3", "B2", "A2", "B1", "A1"]
    assert [s.ticker for s in svc.settlements(yes_holder.id, event_ticker="B2").items] == ["B2"]
    window = svc.settlements(yes_holder.id, min_ms=settled_at["B1"], max_ms=settled_at["B2"], limit=2)
    assert [s.ticker for s in window.items] == ["B2", "A2"] and window.cursor
    rest = svc.settlements(yes_holder.id, min_ms=settled_at["B1"], max_ms=settled_at["B2"], limit=2, cursor=window.cursor)
    assert [s.ticker for s in rest.items] == ["B1"] and rest.cursor == ""
