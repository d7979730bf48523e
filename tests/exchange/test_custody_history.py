"""Deposit and withdrawal history (exchange/custody_history.py) on both databases: every way
cash comes and goes shows up once, with the right type and status, newest first, paged."""
from __future__ import annotations

import time

import pytest
from solders.keypair import Keypair

from exchange import custody_history as H
from exchange import errors
from exchange.fees import ONE


def _all(fn, reader, user_id, limit=1):
    """Walk every page (limit 1: each cursor is exercised)."""
    out, cursor = [], None
    while True:
        page = fn(reader, user_id, cursor=cursor, limit=limit)
        out += page.items
        if not page.cursor:
            return out
        cursor = page.cursor


def test_cash_history_has_every_way_in_and_out(svc):
    svc.create_market("M", title="m", close_ms=int(time.time() * 1000) + 3_600_000)
    alice, bob = svc.create_user("alice"), svc.create_user("bob")
    svc.fund(alice.id, cents=10_000)  # the operator: off chain
    ref = svc.deposit_reference(alice.id)
    assert svc.credit_deposit("sig-cash", 0, ref, "cash", None, 7 * ONE + 5_000).credited  # $7.005 on chain
    assert svc.credit_deposit("sig-cash", 1, ref, "yes", "M", 2 * ONE).credited  # contracts: not cash
    svc.debit(alice.id, cents=2_550)
    wallet = str(Keypair().pubkey())
    pending = svc.withdraw(alice.id, "cash", 12 * ONE, wallet)
    svc.withdraw(alice.id, "yes", ONE, wallet, "M")
    svc.fund(bob.id, cents=1)  # someone else's

    reader = svc.db.reader
    deposits = _all(H.cash_deposits, reader, alice.id)
    assert [(d.type, d.status, d.amount) for d in deposits] == [("crypto", "applied", 7 * ONE + 5_000),
                                                              ("wire", "applied", 100 * ONE)]
    assert len({d.id for d in deposits}) == 2
    withdrawals = _all(H.cash_withdrawals, reader, alice.id)
    assert [(w.id, w.type, w.status, w.amount, w.finalized_ms) for w in withdrawals][0] == \
        (pending.withdrawal_id, "crypto", "pending", 12 * ONE, None)
    assert [(w.type, w.status, w.amount) for w in withdrawals[1:]] == [("wire", "applied", 25_500_000)]

    chain = _all(H.chain_deposits, reader, alice.id)
    assert [(d["signature"], d["ix_index"], d["asset"], d["amount"]) for d in chain] == \
        [("sig-cash", 1, "yes", 2 * ONE), ("sig-cash", 0, "cash", 7 * ONE + 5_000)]
    out = _all(H.chain_withdrawals, reader, alice.id)
    assert [(w["asset"], w["ticker"], w["amount"], w["status"]) for w in out] == \
        [("yes", "M", ONE, "pending"), ("cash", None, 12 * ONE, "pending")]

    # The bridge sends, then the chain finalizes: the cash withdrawal is applied, with its time.
    cash = out[1]
    reader_box = svc.outbox_reader()
    assert reader_box.mark_applied(cash["stream"], [cash["seq"]], "sig-out", 5) == 1
    assert H.cash_withdrawals(reader, alice.id).items[0].status == "pending"  # sent, not final
    assert reader_box.mark_finalized(cash["stream"], [cash["seq"]]) == 1
    done = H.cash_withdrawals(reader, alice.id).items[0]
    assert (done.id, done.status) == (pending.withdrawal_id, "applied") and done.finalized_ms >= done.created_ms

    assert [d.amount for d in H.cash_deposits(reader, bob.id).items] == [ONE // 100]
    assert H.cash_withdrawals(reader, bob.id).items == [] and H.chain_deposits(reader, bob.id).items == []
    with pytest.raises(errors.InvalidRequest):
        H.cash_deposits(reader, alice.id, cursor="x1")
