"""How the bridge packs records into one transaction (no chain needed: instructions and messages
only): instructions built from a template are the bytes a full build gives, the order inside a
transaction lets the program apply it (mint first, merges after the fills, close_order last),
several fills of one wallet order become one settle_fills where the program has it, and every
bound (the program's instruction bound where it has one, the instruction trace, the account
lock limit, 1232 bytes) is enforced."""
from __future__ import annotations

import pytest
from solders.hash import Hash
from solders.keypair import Keypair

from bridge.mapper import Mapper, OrderUnknown, WalletOrderInfo
from bridge.store import Store
from bridge.txbuild import MAX_INSTRUCTION_TRACE, TooLarge, TxBuilder
from chain.client import ChainClient
from chain.instructions import OrderSide
from chain.setup import ChainKeys
from exchange import outbox as O

TICKER = "PACK-1"


@pytest.fixture
def mapper(tmp_path):
    keys = ChainKeys.load(tmp_path / "keys")
    chain = ChainClient("http://127.0.0.1:9", keys.bridge)  # never contacted
    return Mapper(chain, keys, Keypair().pubkey(), mint_float=False)


def rec(seq: int, record, group: str | None = None) -> O.OutboxRecord:
    return O.OutboxRecord(TICKER, seq, group or f"g{seq}", 0, record)


def mint(seq: int, amount: int = 1_000_000, group: str | None = None) -> O.OutboxRecord:
    return rec(seq, O.CustodyMintSet(TICKER, amount, f"j{seq}"), group)


def merge(seq: int, amount: int = 1_000_000, group: str | None = None) -> O.OutboxRecord:
    return rec(seq, O.CustodyMergeSet(TICKER, amount, f"j{seq}"), group)


def fill(seq: int, order: str, size: int = 1_000_000, group: str | None = None) -> O.OutboxRecord:
    return rec(seq, O.SettleFill(TICKER, order, "yes", "buy", size, 600_000, 0, f"t{seq}", f"f{seq}", "o"), group)


def close(seq: int, order: str) -> O.OutboxRecord:
    return rec(seq, O.CloseOrder(TICKER, order, "o", 0))


def known_order(mapper: Mapper, order_id: int = 1) -> str:
    key = f"{Keypair().pubkey()}:{order_id}"
    mapper._orders[key] = WalletOrderInfo(Keypair().pubkey(), OrderSide.BUY_YES, order_id)
    return key


def test_templated_instructions_are_the_full_builds_bytes(mapper):
    order = known_order(mapper)
    firsts = [mint(1), merge(2), fill(3, order)]
    for r in firsts:
        mapper.build(r)  # builds in full, remembers the accounts
    seconds = [mint(11, 7), merge(12, 8), fill(13, order, 9)]
    for r in seconds:
        templated = mapper.build(r)
        assert mapper._from_template(r) is not None  # it did come from the template
        full = mapper._build(r)
        assert [bytes(i.data) for i in templated.instructions] == [bytes(i.data) for i in full.instructions]
        assert [list(i.accounts) for i in templated.instructions] == [list(i.accounts) for i in full.instructions]


def test_a_wallet_order_the_chain_does_not_show_is_not_built(mapper):
    with pytest.raises(OrderUnknown):
        mapper.build(fill(1, f"{Keypair().pubkey()}:1"))


def test_plan_puts_mints_first_merges_after_fills_and_close_order_last(mapper):
    a, b = known_order(mapper), known_order(mapper)
    records = [merge(1), fill(2, a), close(3, b), mint(4), fill(5, b), merge(6), mint(7)]
    built = {r.seq: mapper.build(r) for r in records}
    steps = mapper.plan(records, built)
    kinds = [next(x for x in records if x.seq == s.seqs[0]).kind for s in steps]
    first_fill, last_fill = kinds.index("settle_fill"), len(kinds) - 1 - kinds[::-1].index("settle_fill")
    assert all(k == "custody_mint_set" for k in kinds[:first_fill])
    assert all(k in ("custody_merge_set", "close_order") for k in kinds[last_fill + 1:])
    assert kinds[-1] == "close_order"
    assert sorted(s for step in steps for s in step.seqs) == [1, 2, 3, 4, 5, 6, 7]  # nothing lost, nothing twice


def test_several_fills_of_one_order_become_one_settle_fills_in_seq_order(mapper):
    if not mapper.batched_fills:
        pytest.skip("this IDL has no settle_fills (program before v1.2)")
    a, b = known_order(mapper, 5), known_order(mapper, 6)
    records = [fill(1, a, 1), fill(2, b, 2), fill(3, a, 3), mint(4), fill(5, a, 5)]
    built = {r.seq: mapper.build(r) for r in records}
    steps = mapper.plan(records, built)
    batched = [s for s in steps if len(s.seqs) > 1]
    assert len(batched) == 1 and batched[0].seqs == [1, 3, 5]
    decoded = mapper.c.program.coder.instruction.parse(bytes(batched[0].instructions[0].data))
    assert decoded.name == "settle_fills"
    assert decoded.data.order_id == 5 and [(f.seq, f.size) for f in decoded.data.fills] == [(1, 1), (3, 3), (5, 5)]
    assert list(batched[0].instructions[0].accounts) == list(built[1].instructions[0].accounts)
    assert batched[0].trace == 3 + 3


def test_custody_sets_of_several_groups_become_one_batch_each_mints_first_merges_last(mapper):
    if not mapper.batched_sets:
        pytest.skip("this IDL has no custody_mint_sets (program before a227d7c)")
    order = known_order(mapper)
    records = [merge(1, 5), mint(2, 6), fill(3, order), mint(4, 7), merge(5, 8)]
    built = {r.seq: mapper.build(r) for r in records}
    steps = mapper.plan(records, built)
    coder = mapper.c.program.coder.instruction
    names = [coder.parse(bytes(s.instructions[0].data)).name for s in steps]
    assert names == ["custody_mint_sets", "settle_fill", "custody_merge_sets"]
    assert [s.seqs for s in steps] == [[2, 4], [3], [1, 5]]
    for step, name in ((steps[0], "custody_mint_sets"), (steps[2], "custody_merge_sets")):
        amounts = {r.seq: r.record.amount for r in records if r.kind != "settle_fill"}
        expected = coder.encode(name, {"records": [{"seq": q, "amount": amounts[q]} for q in step.seqs]})
        assert bytes(step.instructions[0].data) == expected  # our packing == anchorpy's encoder
        assert list(step.instructions[0].accounts) == list(built[step.seqs[0]].instructions[0].accounts)
        assert step.trace == 3 + 2


def builder(mapper, tmp_path) -> TxBuilder:
    from sqlalchemy import create_engine

    return TxBuilder(mapper, Store(create_engine(f"sqlite:///{tmp_path / 'b.db'}")))


def test_bounds_of_one_transaction(mapper, tmp_path):
    txb = builder(mapper, tmp_path)
    one = mapper.plan([mint(1)], {1: mapper.build(mint(1))})
    assert txb.fits(TICKER, one)
    many = [mint(s) for s in range(1, 100)]
    built = {r.seq: mapper.build(r) for r in many}
    steps = mapper.plan(many, built)
    assert not txb.fits(TICKER, steps)
    with pytest.raises(TooLarge):
        txb._compile(TICKER, steps, Hash.default())
    fit = max(k for k in range(1, len(many)) if txb.fits(TICKER, mapper.plan(many[:k], built)))
    if txb.max_instructions is not None:  # the program's own bound (v1.1)
        assert fit == txb.max_instructions
    elif not mapper.batched_sets:  # the instruction trace: custody_mint_set costs 5 of 64
        assert fit == MAX_INSTRUCTION_TRACE // mapper.build(many[0]).trace
    else:  # one custody_mint_sets: 16 bytes a record, bound by 1232 bytes
        assert 30 <= fit < MAX_INSTRUCTION_TRACE - 3
        assert len(bytes(txb._compile(TICKER, mapper.plan(many[:fit], built), Hash.default())[0])) <= 1232


def test_distinct_orders_are_bounded_by_bytes_and_accounts(mapper, tmp_path):
    txb = builder(mapper, tmp_path)
    fills = [fill(s, known_order(mapper, s)) for s in range(1, 30)]
    built = {r.seq: mapper.build(r) for r in fills}
    n = max(k for k in range(1, len(fills)) if txb.fits(TICKER, mapper.plan(fills[:k], built)))
    tx = txb._compile(TICKER, mapper.plan(fills[:n], built), Hash.default())[0]
    assert 1 <= n < len(fills) and len(bytes(tx)) <= 1232
