"""The indexer's pure arithmetic: replay windows, record effects, invariants, invariant 3, invariant 5."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.outbox import (
    CloseOrder, CreateMarket, CustodyFund, CustodyMergeSet, CustodyMintSet, CustodyRedeem, CustodyWithdraw, Halt, OutboxRecord, SettleFill,
)
from indexer.derive import OrderInfo, fill_violations
from indexer.reconcile import (
    BRIDGE_LAG, CASH, CUSTODY_NO, CUSTODY_YES, SEQ_DUPLICATE, SEQ_MISSING, SEQ_UNKNOWN, SUPPLY, VAULT, ChainMarket, Effect,
    Window, bridge_lag, cash_backing, effect, invariant_1, invariant_2, pending_effect,
)
from indexer.sequencing import ChainSeq, check_stream

BITS = 256
ONE = 1_000_000


def window_of(applied: set[int]) -> Window:
    """The program's window after accepting `applied` (bit i <=> highest - i accepted)."""
    highest = max(applied, default=0)
    words = [0, 0, 0, 0]
    for seq in applied:
        offset = highest - seq
        if offset < BITS:
            words[offset // 64] |= 1 << (offset % 64)
    return Window(highest, tuple(words), BITS)


def rec(seq: int, record, status: str = "pending", signature: str | None = None, slot: int | None = None, stream: str = "M") -> OutboxRecord:
    return OutboxRecord(stream=stream, seq=seq, group=f"g{seq}", created_ms=0, record=record, status=status, signature=signature, slot=slot)


def mint(n: int) -> CustodyMintSet:
    return CustodyMintSet(ticker="M", amount=n, journal_id="j")


def fill(action: str, side: str, size: int, price: int, fee: int = 0) -> SettleFill:
    return SettleFill(ticker="M", wallet_order="W", side=side, action=action, size=size, price=price, fee=fee,
                      trade_id="t", fill_id="f", order_id="o")


# -- windows ---------------------------------------------------------------------------------


def test_window_knows_inside_and_not_below():
    w = window_of({1, 2, 4, 300})
    assert w.highest == 300 and w.start == 45
    assert w.applied(300) is True and w.applied(299) is False and w.applied(301) is False
    assert w.applied(4) is None and w.applied(0) is None, "below the window it no longer knows"
    assert window_of({1, 2, 4}).first_unapplied() == 3
    assert window_of({1, 2, 3}).first_unapplied() == 4
    assert Window.empty(BITS).first_unapplied() == 1


# -- effects -----------------------------------------------------------------------------------


def test_effects_of_each_record_kind():
    assert effect(mint(5)) == Effect(5, 5, -5)
    assert effect(CustodyMergeSet(ticker="M", amount=3, journal_id="j")) == Effect(-3, -3, 3)
    assert effect(CustodyRedeem(ticker="M", yes_amount=4, no_amount=2, payout=3, journal_id="j")) == Effect(-4, -2, 3)
    # a wallet buying 2 YES at 0.40 takes them out of custody; custodial sellers got $0.80
    assert effect(fill("buy", "yes", 2 * ONE, 400_000)) == Effect(-2 * ONE, 0, 800_000)
    assert effect(fill("sell", "no", ONE, 250_000, fee=7)) == Effect(0, ONE, -250_000)
    assert effect(CustodyWithdraw(ticker="M", asset="no", amount=9, wallet="w", withdrawal_id="x", user_id=1)) == Effect(no=-9)
    assert effect(CustodyWithdraw(ticker=None, asset="cash", amount=9, wallet="w", withdrawal_id="x", user_id=1)) == Effect(cash=-9)
    assert effect(CustodyFund(amount=11, user_id=1, journal_id="j")) == Effect(cash=11)
    for lifecycle in (CreateMarket(ticker="M", close_time=1, tick_size=1), Halt(ticker="M"),
                      CloseOrder(ticker="M", wallet_order="W", order_id="o", unfilled=1)):
        assert effect(lifecycle) == Effect()


def test_wallet_vs_custodial_mint_group_nets_to_the_custodial_side():
    # wallet buys YES at 0.30 against a custodial NO buyer: custody mints, hands YES to the wallet
    group = [mint(ONE), fill("buy", "yes", ONE, 300_000)]
    total = sum((effect(r) for r in group), Effect())
    assert total == Effect(0, ONE, -700_000), "the custodial user paid $0.70 for one NO"


def test_pending_effect_counts_only_what_the_chain_has_not_applied():
    records = [rec(1, mint(10)), rec(2, mint(20)), rec(3, mint(40)), rec(4, mint(80), status="reverted")]
    w = window_of({1, 3})
    assert pending_effect(records, w, set()) == effect(mint(20)), "2 is open; 4 was reverted by the ledger"


def test_below_the_window_the_events_decide():
    records = [rec(1, mint(1)), rec(2, mint(2))]
    w = window_of({300})  # 1 and 2 are below the window
    assert pending_effect(records, w, {1}) == effect(mint(2))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5 * ONE), st.booleans()), min_size=1, max_size=60))
def test_ledger_at_the_chain_equals_custody_for_any_applied_subset(spec):
    """Custody after applying any subset of mint/merge records equals the ledger minus the
    pending effect, whatever the order the bridge landed them in."""
    records, applied = [], set()
    ledger, custody, outstanding = Effect(), Effect(), 0
    for seq, (amount, landed) in enumerate(spec, start=1):
        r = mint(amount) if outstanding < amount or seq % 3 else CustodyMergeSet(ticker="M", amount=amount, journal_id="j")
        outstanding += amount if isinstance(r, CustodyMintSet) else -amount
        records.append(rec(seq, r))
        ledger = ledger + effect(r)
        if landed:
            applied.add(seq)
            custody = custody + effect(r)
    w = window_of(applied)
    below = {s for s in applied if w.applied(s) is None}
    p = pending_effect(records, w, below)
    assert (ledger.yes - p.yes, ledger.no - p.no) == (custody.yes, custody.no)


# -- invariants ----------------------------------------------------------------------------------


def market(**kw) -> ChainMarket:
    base = dict(ticker="M", slot=1, status="Open", sets=5, yes_supply=5, no_supply=5, vault=5, yes_payout=0,
                custody_yes=0, custody_no=0, window=Window.empty(BITS))
    return ChainMarket(**{**base, **kw})


def test_invariant_1():
    assert invariant_1(market()) == []
    assert [b.kind for b in invariant_1(market(no_supply=4))] == [SUPPLY]
    assert [b.kind for b in invariant_1(market(vault=6))] == [VAULT]
    # finalized at YES = 1: 5 YES still redeem $5; NO is worthless
    assert invariant_1(market(status="Finalized", yes_payout=ONE, vault=5, no_supply=0)) == []
    assert [b.kind for b in invariant_1(market(status="Finalized", yes_payout=ONE, vault=4))] == [VAULT]


def test_invariant_2_and_cash_backing_excess_is_not_a_break():
    assert invariant_2("M", custody_yes=10, custody_no=10, ledger_yes=7, ledger_no=10) == []
    assert [b.kind for b in invariant_2("M", 10, 10, 11, 12)] == [CUSTODY_YES, CUSTODY_NO]
    assert cash_backing(custody=100, ledger=100) == [] and cash_backing(custody=101, ledger=100) == []
    (b,) = cash_backing(custody=99, ledger=100)
    assert b.kind == CASH and b.ticker is None and "1 short" in b.detail


def test_bridge_lag_by_count_and_by_age():
    assert bridge_lag("M", 10, 10, None, 0, max_seqs=5, max_age_s=1) == []
    assert [b.kind for b in bridge_lag("M", 10, 2, 0, 10, max_seqs=5, max_age_s=60)] == [BRIDGE_LAG]
    assert [b.ticker for b in bridge_lag("_exchange", 3, 2, 0, 5_000, max_seqs=5, max_age_s=1)] == [None]
    assert bridge_lag("M", 3, 2, 4_500, 5_000, max_seqs=5, max_age_s=1) == []


# -- invariant 3 ----------------------------------------------------------------------------------


def seqs(**by_seq) -> dict[int, list[ChainSeq]]:
    return {int(k[1:]): [ChainSeq(name, slot, f"sig{k}") for name, slot in v] for k, v in by_seq.items()}


def check(records, chain, *, slot=1000, grace=10, lifecycle=frozenset(), verified=0):
    highest = max(chain, default=0)
    return check_stream("M", records, chain, set(lifecycle), verified_through=verified, slot=slot, grace=grace,
                        window_highest=highest, window_bits=BITS)


def test_matched_records_are_verified():
    out = check([rec(1, mint(1), "applied", slot=5), rec(2, mint(1), "applied", slot=6)],
                seqs(s1=[("CustodySetMinted", 5)], s2=[("CustodySetMinted", 6)]))
    assert out.breaks == [] and out.verified_through == 2


def test_claimed_applied_but_not_on_chain_is_missing_after_grace():
    records = [rec(1, mint(1), "applied", slot=995)]
    assert check(records, {}).breaks == [], "within grace: the event may still be on its way"
    (b,) = check([rec(1, mint(1), "applied", slot=900)], {}).breaks
    assert b.kind == SEQ_MISSING and b.ticker == "M" and "[1]" in b.detail


def test_a_skipped_seq_is_missing_once_the_chain_moved_past_it():
    records = [rec(1, mint(1), "applied", slot=5), rec(2, mint(1)), rec(3, mint(1), "applied", slot=7)]
    chain = seqs(s1=[("CustodySetMinted", 5)], s3=[("CustodySetMinted", 7)])
    out = check(records, chain)
    assert [b.kind for b in out.breaks] == [SEQ_MISSING] and "[2]" in out.breaks[0].detail
    assert out.verified_through == 1
    assert check(records, chain, slot=12).breaks == [], "3 landed only just now: 2 may be in flight"


def test_duplicates_unknowns_and_reverts():
    out = check([rec(1, mint(1), "applied", slot=5)], seqs(s1=[("CustodySetMinted", 5), ("CustodySetMinted", 6)]))
    assert [b.kind for b in out.breaks] == [SEQ_DUPLICATE]
    out = check([rec(1, fill("buy", "yes", 1, 1), "reverted")], seqs(s1=[("FillSettled", 5)]))
    assert [b.kind for b in out.breaks] == [SEQ_DUPLICATE], "a reverted record must never land"
    out = check([rec(1, fill("buy", "yes", 1, 1), "reverted")], {})
    assert out.breaks == [] and out.verified_through == 1
    out = check([rec(1, mint(1), "applied", slot=5)], seqs(s1=[("FillSettled", 5)]))
    assert [b.kind for b in out.breaks] == [SEQ_UNKNOWN], "another kind at that seq"
    out = check([], seqs(s7=[("CustodySetMinted", 5)]))
    assert [b.kind for b in out.breaks] == [SEQ_UNKNOWN], "a seq the ledger never wrote"


def test_lifecycle_records_are_checked_through_their_transaction():
    r = rec(1, CreateMarket(ticker="M", close_time=1, tick_size=1), "applied", signature="S1", slot=5)
    assert check([r], {}, lifecycle={("S1", "MarketCreated")}).verified_through == 1
    (b,) = check([r], {}).breaks
    assert b.kind == SEQ_MISSING


# -- invariant 5 -----------------------------------------------------------------------------------


def test_fill_violations():
    order = OrderInfo("O", "BuyYes", "E", limit_price=500_000, size=2 * ONE, max_fee=10, filled=ONE, fees_paid=5)
    ok = {"order": "O", "price": 400_000, "size": ONE, "fee": 5, "cost": 400_000}
    assert fill_violations(ok, order) == []
    assert "above its limit" in fill_violations({**ok, "price": 600_000, "cost": 600_000}, order)[0]
    assert "filled" in fill_violations({**ok, "size": 2 * ONE, "cost": 800_000}, order)[0]
    assert "budget" in fill_violations({**ok, "fee": 6}, order)[0]
    sell = OrderInfo("O", "SellNo", "E", limit_price=500_000, size=ONE, max_fee=10, filled=0, fees_paid=0)
    assert "below its limit" in fill_violations({**ok, "price": 400_000}, sell)[0]
    assert "never seen" in fill_violations(ok, None)[0]
