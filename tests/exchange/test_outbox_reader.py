"""The outbox as the bridge sees it (exchange/outbox_reader.py), on both databases: typed
records in groups, in the order the program needs; whole groups only; applied/finalized marks
(idempotent) that drive withdrawals; a refused settle_fill reversed in the ledger."""
from __future__ import annotations

import time
import uuid

import pytest
from solders.keypair import Keypair

from exchange import errors
from exchange import outbox as X
from exchange.fees import CENT, ONE
from exchange.journal import Journal
from exchange.models import ledger as L
from exchange.schemas import FillEvent, OrderEvent, OrderRequest

from .checks import check_ledger, check_outbox_gapless

C = ONE


def _later() -> int:
    return int(time.time() * 1000) + 3_600_000


def _pda() -> str:
    return str(Keypair().pubkey())


@pytest.fixture
def reader(svc):
    return svc.outbox_reader()


def _custodial(svc, name, cents=1_000_00):
    u = svc.create_user(name)
    svc.fund(u.id, cents=cents)
    return u


def _escrow(svc, user_id, asset, amount):
    """What the program escrowed for a wallet order, into its ledger account (as exchange/wallet_orders does)."""
    with svc.unit_of_work.transaction() as conn:
        j = Journal(str(uuid.uuid4()), int(time.time() * 1000))
        j.move("escrow", "test", asset, svc.accounts.get(conn, L.EXTERNAL), svc.holdings.user_account(conn, user_id), amount)
        j.flush(conn)


def _wallet(svc, cash=100 * ONE, **tokens):
    """A wallet order's own ledger account (users.kind "wallet") holding its escrow."""
    w = svc.ensure_wallet(_pda())
    _escrow(svc, w.id, L.CASH, cash)
    for asset, amount in tokens.items():
        _escrow(svc, w.id, asset.replace("_", ":"), amount)
    return w


CHAIN = ("custody_mint_set", "custody_merge_set", "settle_fill")


def _market_records(reader, ticker, kinds=CHAIN):
    return [r for r in reader.records(ticker) if r.kind in kinds]


def _balances(svc, user_id):
    return svc.balance(user_id).cash, [(p.ticker, p.position) for p in svc.positions(user_id)[0].items]


def test_fund_writes_custody_fund_for_custodial_cash_only(svc, reader):
    alice = _custodial(svc, "alice", cents=250)
    svc.fund(svc.ensure_wallet(_pda()).id, cents=100)
    [rec] = reader.records(X.EXCHANGE_STREAM)
    assert rec.record == X.CustodyFund(250 * CENT, alice.id, rec.record.journal_id)
    assert rec.group == rec.record.journal_id and rec.status == X.PENDING


def test_a_mint_against_a_wallet_buy_no_puts_the_mint_first_and_prices_in_no_terms(svc, reader):
    svc.create_market("M", title="m", close_ms=_later())
    w, c = _wallet(svc), _custodial(svc, "c")
    pda = _pda()
    # The wallet buys NO at 0.60 (an ask at YES 0.40); the custodial user buys YES at 0.40.
    svc.place_order(w.id, OrderRequest.legacy("M", "no", "buy", 10 * C, no_price=600_000, wallet_order=pda))
    svc.place_order(c.id, OrderRequest("M", "bid", 400_000, 10 * C))
    mint, settle = _market_records(reader, "M")
    assert mint.group == settle.group and (mint.seq, settle.seq) == (2, 3)
    assert mint.record == X.CustodyMintSet("M", 10 * C, mint.group)
    s = settle.record
    assert (s.wallet_order, s.side, s.action, s.size, s.price, s.fee) == (pda, "no", "buy", 10 * C, 600_000, 0)
    assert s.fill_id == svc.fills(w.id).items[0].fill_id
    check_ledger(svc)


def test_a_merge_with_a_wallet_sell_puts_the_settle_fill_before_the_merge(svc, reader):
    svc.create_market("M", title="m", close_ms=_later())
    w, c, d = _wallet(svc, YES_M=5 * C), _custodial(svc, "c"), _custodial(svc, "d")
    svc.place_order(d.id, OrderRequest("M", "bid", 500_000, 5 * C))
    svc.place_order(c.id, OrderRequest.legacy("M", "no", "buy", 5 * C, no_price=500_000))  # c holds NO
    svc.place_order(c.id, OrderRequest.legacy("M", "no", "sell", 5 * C, no_price=400_000))  # c sells NO: a bid at 0.60
    sell = _pda()
    _, fills = svc.place_order(w.id, OrderRequest.legacy("M", "yes", "sell", 5 * C, yes_price=600_000, wallet_order=sell))
    assert sum(f.count for f in fills) == 5 * C
    *_, settle, merge = _market_records(reader, "M")
    assert settle.group == merge.group and merge.seq == settle.seq + 1
    assert merge.record == X.CustodyMergeSet("M", 5 * C, merge.group)
    assert (settle.record.wallet_order, settle.record.action, settle.record.price) == (sell, "sell", 600_000)
    assert settle.record.fee > 0  # the wallet was the taker
    check_ledger(svc)


def test_wallet_sells_come_before_wallet_buys_in_a_group(svc, reader):
    """A custodial taker bid that buys YES a wallet sells (transfer) and mints against a wallet
    buying NO: mint, then the wallet that hands tokens to custody, then the one that takes them."""
    svc.create_market("M", title="m", close_ms=_later())
    seller, buyer, c = _wallet(svc, YES_M=2 * C), _wallet(svc), _custodial(svc, "c")
    sell_pda, buy_pda = _pda(), _pda()
    svc.place_order(seller.id, OrderRequest("M", "ask", 300_000, 2 * C, wallet_order=sell_pda))
    svc.place_order(buyer.id, OrderRequest("M", "ask", 310_000, 3 * C, side="no", action="buy", wallet_order=buy_pda))
    svc.place_order(c.id, OrderRequest("M", "bid", 310_000, 5 * C))
    last = _market_records(reader, "M")[-1].group
    group = [r for r in _market_records(reader, "M") if r.group == last]
    assert [r.kind for r in group] == ["custody_mint_set", "settle_fill", "settle_fill"]
    assert [(r.record.wallet_order, r.record.action) for r in group[1:]] == [(sell_pda, "sell"), (buy_pda, "buy")]
    assert group[0].record.amount == 3 * C
    assert group[2].record.price == ONE - 310_000
    check_ledger(svc)


def test_pending_returns_whole_groups_and_marks_are_idempotent(svc, reader):
    svc.create_market("M", title="m", close_ms=_later())  # seq 1
    w, c = _wallet(svc), _custodial(svc, "c")
    svc.place_order(w.id, OrderRequest("M", "bid", 400_000, 1 * C, wallet_order=_pda()))
    svc.place_order(c.id, OrderRequest("M", "ask", 400_000, 1 * C))  # one group: mint, settle_fill (, close_order)
    svc.halt("M")
    svc.resume("M")
    fill_group = [r.seq for r in reader.records("M") if r.group == reader.get("M", 2).group]
    k = fill_group[-1]
    assert fill_group == list(range(2, k + 1)) and k >= 3 and reader.streams()["M"] == k + 2
    assert [r.seq for r in reader.pending("M", limit=1)] == [1]
    assert [r.seq for r in reader.pending("M", limit=2)] == [1]  # stops before a group that would pass the limit
    assert [r.seq for r in reader.pending("M", after_seq=1, limit=1)] == fill_group  # the first group is never cut
    assert [r.seq for r in reader.pending("M", after_seq=1, limit=len(fill_group) + 1)] == fill_group + [k + 1]
    assert reader.applied_seq("M") == 0
    assert reader.mark_applied("M", fill_group, "sig-b", 11) == len(fill_group)
    assert reader.applied_seq("M") == 0  # seq 1 is still pending
    assert reader.mark_applied("M", [1], "sig-a", 10) == 1
    assert reader.applied_seq("M") == k
    assert reader.mark_applied("M", fill_group, "sig-again", 12) == 0  # idempotent: the first signature stays
    assert (reader.get("M", k).signature, reader.get("M", k).slot, reader.get("M", k).status) == ("sig-b", 11, X.APPLIED)
    assert [r.seq for r in reader.pending("M")] == [k + 1, k + 2]
    with pytest.raises(errors.NotFound, match=f"M/\\[{k + 9}\\]"):
        reader.mark_applied("M", [k + 1, k + 9], "sig-c", 13)
    assert reader.get("M", k + 1).status == X.PENDING  # nothing marked
    with pytest.raises(errors.Conflict, match="not applied"):
        reader.mark_finalized("M", [k, k + 1])
    assert reader.mark_finalized("M", [1, *fill_group]) == k
    assert reader.mark_finalized("M", [1, *fill_group]) == 0
    assert reader.get("M", 1).finalized and not reader.get("M", k + 1).finalized
    reader.mark_applied("M", [k + 1, k + 2], "sig-d", 14)
    assert reader.applied_seq("M") == k + 2 and reader.pending("M") == []


def test_withdrawals_go_pending_sent_finalized_and_are_refused_beyond_the_free_amount(svc, reader):
    svc.create_market("M", title="m", close_ms=_later())
    alice, bob = _custodial(svc, "alice"), _custodial(svc, "bob")
    wallet = _pda()
    before = reader.streams()
    with pytest.raises(errors.InsufficientBalance, match="cash free"):
        svc.withdraw(alice.id, "cash", 1_000 * ONE + 1, wallet)
    with pytest.raises(errors.InvalidRequest, match="not a Solana address"):
        svc.withdraw(alice.id, "cash", ONE, "not-a-wallet")
    with pytest.raises(errors.InsufficientBalance, match="YES free"):
        svc.withdraw(alice.id, "yes", C, wallet, "M")
    assert reader.streams() == before  # nothing written
    cash = svc.withdraw(alice.id, "cash", 5 * ONE, wallet)
    assert cash.status == "pending" and svc.balance(alice.id).cash == 995 * ONE
    [rec] = [r for r in reader.records(X.EXCHANGE_STREAM) if r.kind == "custody_withdraw"]
    assert rec.record == X.CustodyWithdraw(None, "cash", 5 * ONE, wallet, cash.withdrawal_id, alice.id)
    # YES: free is the position less what resting asks would sell.
    svc.place_order(alice.id, OrderRequest("M", "bid", 500_000, 4 * C))
    svc.place_order(bob.id, OrderRequest("M", "ask", 500_000, 4 * C))
    svc.place_order(alice.id, OrderRequest("M", "ask", 900_000, 1 * C))
    with pytest.raises(errors.InsufficientBalance, match="only 3000000 YES free"):
        svc.withdraw(alice.id, "yes", 4 * C, wallet, "M")
    yes = svc.withdraw_position(alice.id, "M", "yes", 3 * C, wallet)
    assert svc.positions(alice.id)[0].items[0].position == C
    [yrec] = [r for r in reader.records("M") if r.kind == "custody_withdraw"]
    assert yrec.record == X.CustodyWithdraw("M", "yes", 3 * C, wallet, yes.withdrawal_id, alice.id)
    reader.mark_applied(X.EXCHANGE_STREAM, [rec.seq], "sig-w", 5)
    assert (svc.get_withdrawal(alice.id, cash.withdrawal_id).status, svc.get_withdrawal(alice.id, cash.withdrawal_id).signature) == ("sent", "sig-w")
    reader.mark_finalized(X.EXCHANGE_STREAM, [rec.seq])
    assert svc.get_withdrawal(alice.id, cash.withdrawal_id).status == "finalized"
    assert svc.get_withdrawal(alice.id, yes.withdrawal_id).status == "pending"
    with pytest.raises(errors.NotFound):
        svc.get_withdrawal(bob.id, cash.withdrawal_id)  # not his
    assert [w.withdrawal_id for w in svc.list_withdrawals(alice.id)] == [yes.withdrawal_id, cash.withdrawal_id]
    check_ledger(svc)
    check_outbox_gapless(svc)


def test_debit_to_a_wallet_is_a_cash_withdrawal(svc, reader):
    alice = _custodial(svc, "alice")
    svc.debit(alice.id, cents=100, to_wallet=_pda())
    [w] = svc.list_withdrawals(alice.id)
    assert (w.asset, w.amount, w.status) == ("cash", 100 * CENT, "pending")
    svc.debit(alice.id, cents=100)  # paid out off chain: ledger only
    assert [r.kind for r in reader.records(X.EXCHANGE_STREAM)] == ["custody_fund", "custody_withdraw"]


def test_deposits_credit_once_unknown_references_go_to_suspense(svc):
    svc.create_market("M", title="m", close_ms=_later())
    alice, bob = _custodial(svc, "alice"), _custodial(svc, "bob")
    ref = svc.deposit_reference(alice.id)
    assert len(ref) == 32 and int(ref, 16) >= 0 and svc.deposit_reference(alice.id) == ref
    assert svc.deposit_reference(bob.id) != ref
    first = svc.credit_deposit("sig1", 0, ref, "cash", None, 7 * ONE)
    assert (first.credited, first.user_id, first.suspense) == (True, alice.id, False)
    again = svc.credit_deposit("sig1", 0, ref, "cash", None, 7 * ONE)
    assert (again.credited, again.message) == (False, "already credited")
    assert svc.balance(alice.id).cash == 1_007 * ONE
    svc.credit_deposit("sig1", 1, ref, "yes", "M", 2 * C)  # another instruction of the same transaction
    assert svc.positions(alice.id)[0].items[0].position == 2 * C
    real = "5" * 88  # a Solana signature in base58 is up to 88 characters, longer than a ledger ref
    assert svc.credit_deposit(real, 3, ref, "cash", None, ONE).credited
    assert not svc.credit_deposit(real, 3, ref, "cash", None, ONE).credited
    stray = svc.credit_deposit("sig2", 0, "ab" * 16, "cash", None, ONE)
    assert (stray.credited, stray.user_id, stray.suspense) == (True, None, True)
    assert [(d.signature, d.amount) for d in svc.suspense_deposits()] == [("sig2", ONE)]
    with pytest.raises(errors.InvalidRequest, match="32 hex"):
        svc.credit_deposit("sig3", 0, "xyz", "cash", None, ONE)
    with pytest.raises(errors.InvalidRequest, match="invalid_ticker|not 1-32"):
        svc.credit_deposit("sig3", 0, ref, "yes", "bad ticker", ONE)
    check_ledger(svc)


def test_a_token_deposit_against_the_other_side_is_netted_by_a_merge(svc):
    svc.create_market("M", title="m", close_ms=_later())
    alice, bob = _custodial(svc, "alice"), _custodial(svc, "bob")
    svc.place_order(alice.id, OrderRequest.legacy("M", "no", "buy", 3 * C, no_price=600_000))
    svc.place_order(bob.id, OrderRequest("M", "bid", 400_000, 3 * C))  # alice holds 3 NO
    cash = svc.balance(alice.id).cash
    svc.credit_deposit("sigY", 0, svc.deposit_reference(alice.id), "yes", "M", 2 * C)
    assert svc.positions(alice.id)[0].items[0].position == -1 * C
    assert svc.balance(alice.id).cash == cash + 2 * ONE
    assert svc.outbox_reader().records("M")[-1].record.amount == 2 * C
    assert svc.get_market("M").open_interest == C
    check_ledger(svc)


def test_a_refused_settle_fill_is_reversed_and_both_users_are_told(svc, reader):
    svc.create_market("M", title="m", close_ms=_later())
    w, c = _wallet(svc), _custodial(svc, "c")
    custodial_cash = svc.balance(c.id).cash
    events: list = []
    svc.subscribe(events.append)
    svc.place_order(w.id, OrderRequest("M", "bid", 400_000, 10 * C, wallet_order=_pda()))
    svc.place_order(c.id, OrderRequest("M", "ask", 400_000, 10 * C))  # c buys NO: a mint
    mint, settle = _market_records(reader, "M")
    with pytest.raises(errors.InvalidRequest, match="not a settle_fill"):
        reader.revert_settle_fill("M", mint.seq, "force-closed")
    events.clear()
    wallet_before = _balances(svc, w.id)
    [comp] = reader.revert_settle_fill("M", settle.seq, "order force-closed")
    assert comp.record == X.CustodyMergeSet("M", 10 * C, comp.group) and comp.group != settle.group
    assert reader.get("M", settle.seq).status == X.REVERTED
    assert reader.revert_settle_fill("M", settle.seq, "again") == []  # idempotent
    # The custodial side is as before the fill (its fee refunded); the wallet order's account
    # keeps what it had (the escrow went back to the wallet on chain by force_close).
    assert svc.balance(c.id).cash == custodial_cash
    [pos] = svc.positions(c.id, include_closed=True)[0].items
    assert (pos.position, pos.exposure, pos.total_traded, pos.fees_paid) == (0, 0, 0, 0)
    assert _balances(svc, w.id) == wallet_before
    assert svc.get_market("M").open_interest == 0
    [cf] = svc.fills(c.id).items
    assert cf.reverted_ms is not None and cf.revert_reason == "order force-closed"
    told = {(type(e).__name__, e.fill.user_id if isinstance(e, FillEvent) else e.order.user_id) for e in events
            if isinstance(e, (FillEvent, OrderEvent))}
    assert told == {("FillEvent", w.id), ("FillEvent", c.id), ("OrderEvent", w.id), ("OrderEvent", c.id)}
    # Applied records cannot be reverted; the remaining mint still applies with the compensation after it.
    reader.mark_applied("M", [r.seq for r in reader.pending("M") if r.seq < comp.seq], "sig", 1)
    assert [r.seq for r in reader.pending("M")] == [comp.seq]
    assert reader.applied_seq("M") == comp.seq - 1
    with pytest.raises(errors.Conflict, match="reverted"):
        reader.mark_applied("M", [settle.seq], "sig", 1)
    check_outbox_gapless(svc)


def test_an_applied_settle_fill_cannot_be_reverted(svc, reader):
    svc.create_market("M", title="m", close_ms=_later())
    w, c = _wallet(svc), _custodial(svc, "c")
    svc.place_order(w.id, OrderRequest("M", "bid", 400_000, C, wallet_order=_pda()))
    svc.place_order(c.id, OrderRequest("M", "ask", 400_000, C))
    _mint, settle = _market_records(reader, "M")
    reader.mark_applied("M", [settle.seq], "sig", 1)
    with pytest.raises(errors.Conflict, match="applied"):
        reader.revert_settle_fill("M", settle.seq, "late")
    assert svc.fills(c.id).items[0].reverted_ms is None


def test_bad_tickers_are_refused_before_anything_is_written(svc, reader):
    for bad in ("", "m", "A" * 33, "M N", "É", "M/1"):
        with pytest.raises(errors.InvalidRequest) as refused:
            svc.create_market(bad, title="x", close_ms=_later())
        assert refused.value.code == "invalid_ticker"
    assert reader.streams() == {} and svc.list_markets().items == []
    svc.create_market("A" * 32, title="x", close_ms=_later())
    svc.create_market("KX-1.5_B", title="x", close_ms=_later())


def test_a_revert_that_gives_back_a_crossed_side_nets_it_and_custody_still_mirrors(svc, reader):
    from .test_outbox_mirror import _apply

    svc.create_market("M", title="m", close_ms=_later())
    c, d = _custodial(svc, "c"), _custodial(svc, "d")
    svc.place_order(d.id, OrderRequest("M", "bid", 500_000, 5 * C))
    svc.place_order(c.id, OrderRequest.legacy("M", "no", "buy", 5 * C, no_price=500_000))  # c: 5 NO, d: 5 YES
    w = _wallet(svc)
    svc.place_order(w.id, OrderRequest.legacy("M", "no", "buy", 5 * C, no_price=400_000, wallet_order=f"{_pda()}:1"))
    svc.place_order(c.id, OrderRequest.legacy("M", "no", "sell", 5 * C, no_price=400_000))  # c's NO to the wallet
    svc.place_order(d.id, OrderRequest("M", "ask", 550_000, 3 * C))
    svc.place_order(c.id, OrderRequest("M", "bid", 550_000, 3 * C))  # c now holds 3 YES
    [settle] = _market_records(reader, "M", kinds=("settle_fill",))
    [comp] = reader.revert_settle_fill("M", settle.seq, "order force-closed")
    assert comp.record == X.CustodyMergeSet("M", 3 * C, comp.group)  # c's 5 NO back against 3 YES: 3 pairs merged
    assert svc.positions(c.id)[0].items[0].position == -2 * C
    custody = {"yes": 0, "no": 0, "cash": 0}
    for rec in reader.records("M"):
        if rec.status != X.REVERTED:
            _apply(custody, rec)
            assert min(custody["yes"], custody["no"]) >= 0
    assert (custody["yes"], custody["no"]) == (2 * C, 2 * C)  # d's 2 YES, c's 2 NO
    check_ledger(svc)
