"""exchange/wallet_orders.py against a real database (SQLite and PostgreSQL): wallet orders
seen on chain become escrow + CLOB orders in one transaction, idempotently; their fills and
closes release to the wallet; the ledger stays double-entry, and custody's tokens, as the
outbox moves them, equal the custodial positions (invariant 2; wallet accounts are not
custodial)."""
from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest
from solders.keypair import Keypair
from sqlalchemy import func, select

from exchange import errors
from exchange import wallet_orders as W
from exchange.fees import CENT, ONE, FeeRates, taker_fee
from exchange.models import Deposit, LedgerAccount, LedgerBalance, LedgerEntry, Order, OutboxEvent, User
from exchange.models import ledger as L
from exchange.schemas import OrderRequest
from exchange.service import ExchangeService
from tests.databases import BACKENDS, fresh_database
from tests.exchange.checks import check_ledger, check_outbox_gapless

C = ONE


@pytest.fixture(params=BACKENDS)
def svc(request, tmp_path):
    with fresh_database(request.param, tmp_path, "wallet") as url:
        service = ExchangeService(url)
        yield service
        service.close()


def _later() -> int:
    return int(time.time() * 1000) + 3_600_000


def _address() -> str:
    return str(Keypair().pubkey())


def placed(ticker: str, side: str, action: str, price: int, size: int, *, owner: str | None = None,
           max_fee: int | None = None, order: str | None = None) -> W.PlacedOrder:
    """What the relay hands over for a wallet order signed with the API's fee budget."""
    if max_fee is None:
        max_fee = W.fee_budget(size, price, action, FeeRates())
    return W.PlacedOrder(order or _address(), ticker, owner or _address(), side, action, price, size, max_fee,
                         W.escrow_of(action, size, price, max_fee))


def custodial(svc, name: str, cents: int = 1_000_00) -> int:
    user = svc.create_user(name)
    svc.fund(user.id, cents=cents)
    return user.id


def account_holdings(svc, user_id: int) -> dict[str, int]:
    a, b = LedgerAccount.__table__, LedgerBalance.__table__
    with svc.db.reader.connect() as conn:
        rows = conn.execute(select(b.c.asset, b.c.amount).join(a, a.c.id == b.c.account_id)
                            .where(a.c.kind == L.USER, a.c.ref == str(user_id))).all()
    return {asset: amount for asset, amount in rows if amount}


def custody_matches_ledger(svc, ticker: str) -> tuple[dict, dict]:
    """Invariant 2 as the bridge will make it true: custody's YES/NO once every outbox record
    of the stream is applied, against the sum of CUSTODIAL users' positions."""
    custody = {"yes": 0, "no": 0}
    o = OutboxEvent.__table__
    with svc.db.reader.connect() as conn:  # a reverted record never reaches the chain
        reverted = {seq for (seq,) in conn.execute(select(o.c.seq).where(o.c.stream == ticker, o.c.status == "reverted"))}
    for seq, kind, p in check_outbox_gapless(svc).get(ticker, []):
        if seq in reverted:
            continue
        if kind == "custody_mint_set":
            custody["yes"] += p["amount"]
            custody["no"] += p["amount"]
        elif kind == "custody_merge_set":
            custody["yes"] -= p["amount"]
            custody["no"] -= p["amount"]
        elif kind == "settle_fill":
            custody[p["side"]] += p["size"] if p["action"] == "sell" else -p["size"]
        elif kind == "custody_withdraw":
            custody[p["asset"]] -= p["amount"]
    d = Deposit.__table__
    with svc.db.reader.connect() as conn:  # deposit_tokens put tokens into custody with no outbox record
        for asset, amount in conn.execute(select(d.c.asset, d.c.amount).where(d.c.ticker == ticker)):
            custody[asset] += amount
    a, b, u = LedgerAccount.__table__, LedgerBalance.__table__, User.__table__
    ledger = {"yes": 0, "no": 0}
    with svc.db.reader.connect() as conn:
        rows = conn.execute(select(b.c.asset, b.c.amount).join(a, a.c.id == b.c.account_id)
                            .join(u, u.c.id == func.cast(a.c.ref, u.c.id.type))
                            .where(a.c.kind == L.USER, u.c.kind == "custodial",
                                   b.c.asset.in_([L.yes_asset(ticker), L.no_asset(ticker)]))).all()
    for asset, amount in rows:
        ledger["yes" if asset.startswith("YES:") else "no"] += amount
    assert custody == ledger, (custody, ledger)
    return custody, ledger


def records(svc, ticker: str, kind: str) -> list[dict]:
    return [p for _s, k, p in check_outbox_gapless(svc).get(ticker, []) if k == kind]


# ---------------------------------------------------------------------------------- pure
def test_book_terms_and_side_prices():
    assert W.book_terms("yes", "buy", 400_000) == ("bid", 400_000)
    assert W.book_terms("yes", "sell", 400_000) == ("ask", 400_000)
    assert W.book_terms("no", "buy", 300_000) == ("ask", 700_000)
    assert W.book_terms("no", "sell", 300_000) == ("bid", 700_000)
    assert W.side_price("no", 700_000) == 300_000


def test_fee_budget_covers_the_worst_fill_price():
    rates = FeeRates()
    # A buy at 0.70 may fill at 0.50, where C × P × (1 − P) peaks: 0.07 × 10 × 0.25 = $0.175 -> $0.18.
    assert W.worst_fee(10 * C, 700_000, "buy", rates) == taker_fee(10 * C, 500_000)
    # A buy at 0.30 fills at or below 0.30.
    assert W.worst_fee(10 * C, 300_000, "buy", rates) == taker_fee(10 * C, 300_000)
    # A sell at 0.30 may fill up to 0.50; a sell at 0.80 only above 0.80.
    assert W.worst_fee(10 * C, 300_000, "sell", rates) == taker_fee(10 * C, 500_000)
    assert W.worst_fee(10 * C, 800_000, "sell", rates) == taker_fee(10 * C, 800_000)
    assert W.fee_budget(10 * C, 700_000, "buy", rates) == taker_fee(10 * C, 500_000) + CENT
    assert W.fee_budget(10 * C, 500_000, "buy", FeeRates(0, 0, 0)) == 0


def test_clob_count_is_limited_by_the_fee_budget_and_the_escrow():
    rates = FeeRates()
    full = placed("M", "yes", "buy", 400_000, 10 * C)
    assert W.clob_count(full, rates, 10_000) == 10 * C
    # Half the fee budget: fewer contracts, the largest whose worst fee still fits.
    half = placed("M", "yes", "buy", 400_000, 10 * C, max_fee=W.fee_budget(5 * C, 400_000, "buy", rates))
    count = W.clob_count(half, rates, 10_000)
    assert 4 * C <= count < 10 * C and W.worst_fee(count, 400_000, "buy", rates) + CENT <= half.max_fee
    assert W.worst_fee(count + 10_000, 400_000, "buy", rates) + CENT > half.max_fee
    # No fee budget at all: nothing the CLOB could charge fits.
    assert W.clob_count(placed("M", "yes", "sell", 400_000, C, max_fee=0), rates, 10_000) == 0
    # Without fees the whole size goes in.
    assert W.clob_count(placed("M", "no", "sell", 400_000, 3 * C, max_fee=0), FeeRates(0, 0, 0), 10_000) == 3 * C


# ---------------------------------------------------------------------------------- ledger
def test_placed_order_is_escrow_and_a_resting_order_in_one_transaction_once(svc):
    svc.create_market("WB", title="w", close_ms=_later())
    order = placed("WB", "yes", "buy", 400_000, 10 * C)
    state = W.place(svc, order)
    assert state.status == "resting" and state.clob_count == 10 * C and state.filled_count == 0
    again = W.place(svc, order)  # the relay saw it twice (a restart): nothing new
    assert again == state
    with svc.db.reader.connect() as conn:
        orders = conn.execute(select(func.count()).select_from(Order.__table__).where(
            Order.__table__.c.wallet_order == order.key)).scalar_one()
        escrows = conn.execute(select(func.count()).select_from(LedgerEntry.__table__).where(
            LedgerEntry.__table__.c.kind == W.ESCROW, LedgerEntry.__table__.c.ref == order.order)).scalar_one()
    assert (orders, escrows) == (1, 2)  # one order; one movement (two entries)
    assert account_holdings(svc, state.user_id) == {L.CASH: order.escrowed}
    assert svc.get_user(state.user_id).kind == "wallet"
    assert svc.get_order(state.user_id, state.order_id).client_order_id == order.order
    book = svc.orderbook("WB")
    assert book.yes == [(400_000, 10 * C)]
    check_ledger(svc)


def test_custodial_sells_yes_to_a_wallet_buy(svc):
    svc.create_market("WS", title="w", close_ms=_later())
    holder, no_buyer = custodial(svc, "holder"), custodial(svc, "no-buyer")
    svc.place_order(holder, OrderRequest("WS", "bid", 300_000, 6 * C))  # custodial mint: holder gets 6 YES
    svc.place_order(no_buyer, OrderRequest.legacy("WS", "no", "buy", 6 * C, no_price=700_000))
    order = placed("WS", "yes", "buy", 400_000, 6 * C)
    W.place(svc, order)
    _, fills = svc.place_order(holder, OrderRequest.legacy("WS", "yes", "sell", 6 * C, yes_price=400_000))  # a transfer
    assert [(f.price, f.count) for f in fills] == [(400_000, 6 * C)]
    state = W.get(svc, order.order)
    assert state.status == "executed" and state.filled_count == 6 * C
    [settle] = records(svc, "WS", "settle_fill")
    assert (settle["side"], settle["action"], settle["size"], settle["price"], settle["fee"]) == ("yes", "buy", 6 * C, 400_000, 0)
    assert settle["order_id"] == state.order_id  # the wallet was the maker: no fee
    # The YES went to the wallet on chain and the rest of the escrow with the close_order.
    assert account_holdings(svc, state.user_id) == {}
    [close] = records(svc, "WS", "close_order")
    assert close["wallet_order"] == order.key and close["unfilled"] == 0
    fills_ = W.fills(svc, state)
    assert [(f.count, f.price, f.fee, f.signature) for f in fills_] == [(6 * C, 400_000, 0, None)]
    check_ledger(svc)
    custody_matches_ledger(svc, "WS")


def test_wallet_sells_yes_to_custodial_and_pays_the_fee_from_proceeds(svc):
    svc.create_market("WY", title="w", close_ms=_later())
    order = placed("WY", "yes", "sell", 550_000, 4 * C)
    state = W.place(svc, order)
    assert state.status == "resting"
    assert account_holdings(svc, state.user_id) == {L.yes_asset("WY"): 4 * C}
    buyer = custodial(svc, "buyer")
    _, fills = svc.place_order(buyer, OrderRequest("WY", "bid", 600_000, 4 * C))  # takes at the maker's 0.55
    assert [(f.price, f.count) for f in fills] == [(550_000, 4 * C)]
    [settle] = records(svc, "WY", "settle_fill")
    assert (settle["action"], settle["size"], settle["price"]) == ("sell", 4 * C, 550_000)
    assert account_holdings(svc, state.user_id) == {}  # proceeds (2.20 - fee) went to the wallet
    check_ledger(svc)
    custody_matches_ledger(svc, "WY")


def test_wallet_buys_no_and_sells_no(svc):
    svc.create_market("WN", title="w", close_ms=_later())
    yes_buyer = custodial(svc, "yes-buyer")
    buy_no = placed("WN", "no", "buy", 350_000, 5 * C)  # an ask at 0.65 YES
    W.place(svc, buy_no)
    svc.place_order(yes_buyer, OrderRequest("WN", "bid", 650_000, 5 * C))  # mint: custody makes the set
    [settle] = records(svc, "WN", "settle_fill")
    assert (settle["side"], settle["action"], settle["price"]) == ("no", "buy", 350_000)
    sell_no = placed("WN", "no", "sell", 300_000, 5 * C)  # a bid at 0.70 YES; the wallet escrows NO
    W.place(svc, sell_no)
    yes_seller = yes_buyer  # holds 5 YES: selling them against the wallet's NO retires the sets (merge)
    svc.place_order(yes_seller, OrderRequest.legacy("WN", "yes", "sell", 5 * C, yes_price=700_000))
    kinds = [k for _s, k, _p in check_outbox_gapless(svc)["WN"]]
    assert kinds.count("settle_fill") == 2 and "custody_mint_set" in kinds and "custody_merge_set" in kinds
    for o in (buy_no, sell_no):
        assert account_holdings(svc, W.get(svc, o.order).user_id) == {}
    check_ledger(svc)
    custody_matches_ledger(svc, "WN")


def test_wallet_against_wallet_nets_out_in_custody(svc):
    svc.create_market("WW", title="w", close_ms=_later())
    sell = placed("WW", "yes", "sell", 450_000, 3 * C)
    buy = placed("WW", "yes", "buy", 500_000, 3 * C, owner=sell.owner)  # even the same wallet: through custody
    W.place(svc, sell)
    W.place(svc, buy)
    settles = records(svc, "WW", "settle_fill")
    assert [(s["action"], s["size"], s["price"]) for s in settles] == [("sell", 3 * C, 450_000), ("buy", 3 * C, 450_000)]
    check_ledger(svc)
    custody_matches_ledger(svc, "WW")


def test_refused_order_is_refunded_at_once(svc):
    svc.create_market("WR", title="w", close_ms=_later())
    svc.halt("WR")
    order = placed("WR", "yes", "buy", 400_000, 2 * C)
    state = W.place(svc, order)
    assert state.order_id is None and state.refused
    [close] = records(svc, "WR", "close_order")
    assert close["wallet_order"] == order.key and close["unfilled"] == 2 * C
    assert account_holdings(svc, state.user_id) == {}
    assert W.place(svc, order) == state  # once
    assert len(records(svc, "WR", "close_order")) == 1
    # Off the tick: refused the same way.
    svc.create_market("WT", title="w", close_ms=_later(), tick=50_000)
    off = placed("WT", "yes", "buy", 420_000, C)
    assert W.place(svc, off).refused
    check_ledger(svc)


def test_cancel_requested_cancels_and_closes_once(svc):
    svc.create_market("WC", title="w", close_ms=_later())
    order = placed("WC", "yes", "buy", 400_000, 5 * C)
    W.place(svc, order)
    seller = custodial(svc, "seller")
    svc.place_order(seller, OrderRequest.legacy("WC", "no", "buy", 2 * C, no_price=600_000))  # 2 of 5 fill
    state = W.cancel_requested(svc, order.order)
    assert state.status == "canceled" and state.filled_count == 2 * C
    W.cancel_requested(svc, order.order)  # seen twice
    [close] = records(svc, "WC", "close_order")
    assert close["unfilled"] == 3 * C
    assert account_holdings(svc, state.user_id) == {}
    assert svc.orderbook("WC").yes == []
    check_ledger(svc)
    custody_matches_ledger(svc, "WC")


def test_force_closed_cancels_without_close_order(svc):
    svc.create_market("WF", title="w", close_ms=_later())
    order = placed("WF", "no", "sell", 400_000, 5 * C)
    W.place(svc, order)
    state = W.force_closed(svc, order.order)
    assert state.status == "canceled"
    assert records(svc, "WF", "close_order") == []
    assert account_holdings(svc, state.user_id) == {}
    check_ledger(svc)


def test_unknown_market_and_bad_amounts_write_nothing(svc):
    svc.create_market("WX", title="w", close_ms=_later())
    with pytest.raises(errors.NotFound):
        W.place(svc, placed("NOPE", "yes", "buy", 400_000, C))
    bad = placed("WX", "yes", "buy", 400_000, C)
    with pytest.raises(errors.InvalidRequest):
        W.place(svc, W.PlacedOrder(**{**_fields(bad), "escrowed": bad.escrowed + 1}))
    with pytest.raises(errors.NotFound):
        W.get(svc, bad.order)
    with svc.db.reader.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxEvent.__table__).where(
            OutboxEvent.__table__.c.kind != "create_market")).scalar_one() == 0


def _fields(p: W.PlacedOrder) -> dict:
    return {name: getattr(p, name) for name in W.PlacedOrder.__slots__}


def test_a_pda_placed_again_after_a_close_is_a_new_order(svc):
    svc.create_market("WP", title="w", close_ms=_later())
    first = W.PlacedOrder(**{**_fields(placed("WP", "yes", "buy", 400_000, C)), "order_id": 7})
    W.place(svc, first)
    W.cancel_requested(svc, first.order, 7)
    again = W.PlacedOrder(**{**_fields(first), "order_id": 9})  # same PDA (same owner and nonce), new program id
    state = W.place(svc, again)
    assert state.status == "resting" and state.key == f"{first.order}:9"
    assert W.get(svc, first.order).key == state.key  # the newest at that PDA
    assert W.get(svc, first.order, 7).status == "canceled"
    assert W.split_wallet_order(state.key) == (first.order, 9)
    with pytest.raises(ValueError):
        W.split_wallet_order(first.order)
    check_ledger(svc)
