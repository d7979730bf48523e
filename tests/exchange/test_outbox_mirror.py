"""The outbox is enough to mirror custody on chain (DESIGN.md invariant 2), and its in-group
order is one the program can apply: random trading between custodial users and wallet orders
(each wallet order its own ledger account holding its escrow, as exchange/wallet_orders does),
then every record applied in seq order to a model of custody's YES, NO and collateral accounts.
Custody never runs short in the middle of a group; at the end it holds exactly the sum of the
custodial positions the ledger shows, and collateral for custodial cash plus the fees kept."""
from __future__ import annotations

import random
import time
import uuid

from solders.keypair import Keypair

from exchange import errors
from exchange import outbox as X
from exchange.fees import CENT, ONE
from exchange.journal import Journal
from exchange.models import ledger as L
from exchange.schemas import OrderRequest

from .checks import check_ledger, check_outbox_gapless

C = ONE


def _escrow(svc, user_id, asset, amount):
    with svc.unit_of_work.transaction() as conn:
        j = Journal(str(uuid.uuid4()), int(time.time() * 1000))
        j.move("escrow", "test", asset, svc.accounts.get(conn, L.EXTERNAL), svc.holdings.user_account(conn, user_id), amount)
        j.flush(conn)


def _apply(custody: dict[str, int], rec: X.OutboxRecord) -> None:
    """One record as the program moves custody's YES, NO and collateral accounts."""
    r = rec.record
    if isinstance(r, X.CustodyFund):
        custody["cash"] += r.amount
    elif isinstance(r, X.CustodyMintSet):  # one collateral base unit per contract base unit of a set
        custody["yes"] += r.amount
        custody["no"] += r.amount
        custody["cash"] -= r.amount
    elif isinstance(r, X.CustodyMergeSet):
        custody["yes"] -= r.amount
        custody["no"] -= r.amount
        custody["cash"] += r.amount
    elif isinstance(r, X.SettleFill):  # custody is the wallet's counterparty; the fee stays in custody
        notional = r.price * r.size // ONE
        if r.action == "buy":
            custody[r.side] -= r.size
            custody["cash"] += notional + r.fee
        else:
            custody[r.side] += r.size
            custody["cash"] -= notional - r.fee
    elif isinstance(r, X.CustodyWithdraw):
        custody[r.asset] -= r.amount


def test_applying_the_outbox_in_order_mirrors_custody_and_never_runs_short(svc):
    rng = random.Random(11)
    svc.create_market("MIR", title="mirror", close_ms=int(time.time() * 1000) + 3_600_000)
    custodial = []
    for i in range(4):
        u = svc.create_user(f"c{i}")
        svc.fund(u.id, cents=2_000_00)
        custodial.append(u.id)
    placed = 0
    for _ in range(250):
        price = rng.randint(5, 95) * CENT
        count = rng.randint(1, 8) * C // 4
        side, action = rng.choice(["yes", "no"]), rng.choice(["buy", "sell"])
        yes_price = price if side == "yes" else ONE - price
        book_side = "bid" if (side, action) in (("yes", "buy"), ("no", "sell")) else "ask"
        if rng.random() < 0.4:  # a wallet order, escrowed like the program escrows it
            w = svc.ensure_wallet(str(Keypair().pubkey()))
            if action == "buy":
                _escrow(svc, w.id, L.CASH, price * count // ONE + ONE)
            else:
                _escrow(svc, w.id, L.yes_asset("MIR") if side == "yes" else L.no_asset("MIR"), count)
                _escrow(svc, w.id, L.CASH, ONE)  # the fee budget
            request = OrderRequest("MIR", book_side, yes_price, count, side=side, action=action,
                                   wallet_order=f"{Keypair().pubkey()}:{rng.randint(1, 10**6)}")
            user = w.id
        else:
            user = rng.choice(custodial)
            request = OrderRequest("MIR", book_side, yes_price, count, side=side, action=action,
                                   time_in_force=rng.choice(["good_till_canceled"] * 3 + ["immediate_or_cancel"]))
        try:
            svc.place_order(user, request)
            placed += 1
        except errors.ExchangeError:
            pass
    assert placed > 150
    reader = svc.outbox_reader()
    records = reader.records("MIR", limit=100_000)
    kinds = {r.kind for r in records}
    assert {"custody_mint_set", "custody_merge_set", "settle_fill"} <= kinds  # the run exercised every path
    custody = {"yes": 0, "no": 0, "cash": 0}
    for rec in reader.records(X.EXCHANGE_STREAM, limit=100_000):  # the operator's funding went in first
        _apply(custody, rec)
    for rec in records:
        _apply(custody, rec)
        assert min(custody.values()) >= 0, f"custody short after {rec.kind} seq {rec.seq}: {custody}"
    held = {"yes": 0, "no": 0}
    for u in custodial:
        for p in svc.positions(u)[0].items:
            held["yes" if p.position > 0 else "no"] += abs(p.position)
    assert (custody["yes"], custody["no"]) == (held["yes"], held["no"])
    # Collateral backs custodial cash; the surplus is exactly the fees the venue kept.
    cash = sum(svc.balance(u).cash for u in custodial)
    fees = check_ledger(svc)["by_owner"].get((L.FEES, ""), {}).get(L.CASH, 0)
    assert custody["cash"] - cash == fees > 0
    check_outbox_gapless(svc)
