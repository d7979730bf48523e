"""indexer/proof.py: the Merkle-sum tree of DESIGN.md ("Proof of backing"), its proofs and their checks."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.proof import (
    MAX_U64,
    PAD_HASH,
    PathStep,
    Proof,
    ProofError,
    build_tree,
    check_backing,
    leaf_commit,
    make_proof,
    verify_path,
)

CUSTODY = "11111111111111111111111111111111"


def sha(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def be(n: int) -> bytes:
    return n.to_bytes(8, "big")


def tree_of(epoch: int, ledger: dict[int, int], salts: dict[int, bytes] | None = None):
    salts = salts or {u: os.urandom(32) for u in ledger}
    users = sorted(ledger)
    return build_tree(epoch, users, [salts[u] for u in users], [ledger[u] for u in users]), salts


def proof_of(tree, salts, user_id, *, slot=123, ticker="MKT-1", asset="yes"):
    return make_proof(tree, user_id=user_id, salt=salts[user_id], slot=slot, ticker=ticker, asset=asset,
                      custody_account=CUSTODY)


def test_the_root_is_the_design_byte_for_byte():
    """Three users, recomputed here straight from DESIGN.md's formulas: sorted leaves, one padding leaf."""
    epoch, ledger = 7, {5: 1_000_000, 9: 250, 2: 0}
    salts = {u: bytes([u]) * 32 for u in ledger}
    tree, _ = tree_of(epoch, ledger, salts)

    leaves = sorted((sha(b"tandem-leaf", be(epoch), be(u), salts[u]), b) for u, b in ledger.items())
    level = [(sha(b"\x00", c, be(b)), b) for c, b in leaves] + [(sha(b"\x02"), 0)]
    assert PAD_HASH == sha(b"\x02")
    while len(level) > 1:
        level = [(sha(b"\x01", lh, be(ls), rh, be(rs)), ls + rs) for (lh, ls), (rh, rs) in zip(level[0::2], level[1::2])]
    assert (tree.root_hash, tree.root_sum) == level[0]
    assert tree.root_sum == 1_000_250


def test_every_proof_verifies_and_round_trips_through_json():
    ledger = {u: u * 1_000 for u in range(1, 12)}
    tree, salts = tree_of(3, ledger)
    for user_id, balance in ledger.items():
        proof = proof_of(tree, salts, user_id)
        assert proof.balance == balance
        assert len(proof.path) == 4  # 11 leaves padded to 16
        verify_path(proof)
        doc = json.loads(json.dumps(proof.to_json()))
        assert set(doc) == {"epoch", "slot", "ticker", "asset", "commit", "salt", "user_id", "balance", "path", "root",
                            "custody_account"}
        assert Proof.from_json(doc) == proof
        check_backing(proof, tree.root_sum)


def test_sides_name_where_the_sibling_sits():
    tree, salts = tree_of(1, {1: 10, 2: 20})
    first, second = sorted((proof_of(tree, salts, u) for u in (1, 2)), key=lambda p: p.commit)
    assert [s.side for s in first.path] == ["R"] and [s.side for s in second.path] == ["L"]
    assert first.path[0].hash == hashlib.sha256(b"\x00" + second.commit + be(second.balance)).digest()
    assert first.path[0].sum == second.balance


def test_a_changed_balance_fails():
    tree, salts = tree_of(3, {1: 500, 2: 700, 3: 900})
    proof = proof_of(tree, salts, 2)
    with pytest.raises(ProofError) as err:
        verify_path(dataclasses.replace(proof, balance=proof.balance + 1))
    assert err.value.check == "path"


def test_a_changed_sibling_sum_fails():
    tree, salts = tree_of(3, {1: 500, 2: 700, 3: 900})
    proof = proof_of(tree, salts, 2)
    path = list(proof.path)
    path[1] = dataclasses.replace(path[1], sum=path[1].sum - 1)  # move 1 from the sibling to... nowhere
    with pytest.raises(ProofError) as err:
        verify_path(dataclasses.replace(proof, path=tuple(path)))
    assert err.value.check == "path"


def test_a_root_sum_above_custody_fails():
    tree, salts = tree_of(3, {1: 500, 2: 700})
    proof = proof_of(tree, salts, 1)
    verify_path(proof)
    check_backing(proof, 1_200)
    with pytest.raises(ProofError) as err:
        check_backing(proof, 1_199)
    assert err.value.check == "backing"
    assert "1200" in err.value.message and "1199" in err.value.message


def test_a_root_sum_that_the_path_does_not_add_up_to_fails():
    tree, salts = tree_of(3, {1: 500, 2: 700})
    proof = proof_of(tree, salts, 1)
    with pytest.raises(ProofError) as err:
        verify_path(dataclasses.replace(proof, root_sum=proof.root_sum - 100))
    assert err.value.check == "root_sum"


def test_someone_elses_salt_or_id_fails_the_commit():
    tree, salts = tree_of(3, {1: 500, 2: 700})
    proof = proof_of(tree, salts, 1)
    for forged in (dataclasses.replace(proof, user_id=2), dataclasses.replace(proof, salt=salts[2]),
                   dataclasses.replace(proof, epoch=4)):
        with pytest.raises(ProofError) as err:
            verify_path(forged)
        assert err.value.check == "commit"


def test_sums_over_64_bits_are_refused():
    with pytest.raises(ProofError) as err:
        build_tree(1, [1, 2], [b"a" * 32, b"b" * 32], [MAX_U64, 1])
    assert err.value.check == "overflow"
    build_tree(1, [1, 2], [b"a" * 32, b"b" * 32], [MAX_U64 - 1, 1])  # exactly 2^64 - 1 is fine

    tree, salts = tree_of(1, {1: 5, 2: 6})
    proof = proof_of(tree, salts, 1)
    huge = dataclasses.replace(proof, path=(PathStep(proof.path[0].side, proof.path[0].hash, MAX_U64),))
    with pytest.raises(ProofError) as err:
        verify_path(huge)
    assert err.value.check == "overflow"


def test_small_trees():
    empty, _ = tree_of(1, {})
    assert (empty.root_hash, empty.root_sum, empty.levels) == (PAD_HASH, 0, ())
    one, salts = tree_of(1, {42: 9})
    proof = proof_of(one, salts, 42, ticker=None, asset="cash")
    assert proof.path == () and proof.root_hash == hashlib.sha256(b"\x00" + proof.commit + be(9)).digest()
    verify_path(proof)
    with pytest.raises(KeyError):
        make_proof(one, user_id=43, salt=salts[42], slot=1, ticker=None, asset="cash", custody_account=CUSTODY)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="distinct"):
        build_tree(1, [1, 1], [b"a" * 32, b"b" * 32], [1, 2])
    with pytest.raises(ValueError, match="32 bytes"):
        build_tree(1, [1, 2], [b"a" * 32, b"b" * 31], [1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        build_tree(1, [1, 2], [b"a" * 32, b"b" * 32], [1, -2])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("root"), "root is missing"),
        (lambda d: d.update(commit="zz" * 32), "commit is not hex"),
        (lambda d: d.update(salt="00" * 31), "salt must be 32 bytes"),
        (lambda d: d.update(balance=-1), "balance must be a 64-bit"),
        (lambda d: d.update(balance=True), "balance is missing or not a int"),
        (lambda d: d.update(asset="maybe"), "asset must be one of"),
        (lambda d: d.update(asset="cash"), "ticker must be null for cash"),
        (lambda d: d.update(ticker=None), "ticker must be a market ticker"),
        (lambda d: d["path"][0].update(side="X"), 'path\\[0\\].side must be "L" or "R"'),
        (lambda d: d["path"][0].update(sum="5"), "path\\[0\\].sum is missing"),
    ],
)
def test_malformed_documents_name_the_field(change, message):
    tree, salts = tree_of(1, {1: 5, 2: 6})
    doc = proof_of(tree, salts, 1).to_json()
    change(doc)
    with pytest.raises(ProofError, match=message) as err:
        Proof.from_json(doc)
    assert err.value.check == "format"


ledgers = st.dictionaries(st.integers(0, MAX_U64), st.integers(0, 1 << 50), max_size=40)


def _tamper(proof: Proof, data) -> Proof:
    """One change to one field the hashes cover (slot, ticker, asset and custody_account are checked against the chain)."""
    fields = ["epoch", "user_id", "balance", "salt", "commit", "root_hash", "root_sum"] + (["path"] if proof.path else [])
    name = data.draw(st.sampled_from(fields))
    if name in ("salt", "commit", "root_hash"):
        old = getattr(proof, name)
        return dataclasses.replace(proof, **{name: data.draw(st.binary(min_size=32, max_size=32).filter(lambda b: b != old))})
    if name != "path":
        old = getattr(proof, name)
        return dataclasses.replace(proof, **{name: data.draw(st.integers(0, MAX_U64).filter(lambda v: v != old))})
    path = list(proof.path)
    i = data.draw(st.integers(0, len(path) - 1))
    what = data.draw(st.sampled_from(["side", "hash", "sum", "drop"]))
    if what == "drop":
        del path[i]
    elif what == "side":
        path[i] = dataclasses.replace(path[i], side="L" if path[i].side == "R" else "R")
    elif what == "hash":
        path[i] = dataclasses.replace(path[i], hash=data.draw(st.binary(min_size=32, max_size=32).filter(lambda b: b != path[i].hash)))
    else:
        path[i] = dataclasses.replace(path[i], sum=data.draw(st.integers(0, MAX_U64).filter(lambda v: v != path[i].sum)))
    return dataclasses.replace(proof, path=tuple(path))


@settings(max_examples=150, deadline=None)
@given(epoch=st.integers(0, MAX_U64), ledger=ledgers, data=st.data())
def test_random_ledgers(epoch, ledger, data):
    tree, salts = tree_of(epoch, ledger)
    assert tree.root_sum == sum(ledger.values())
    proofs = [proof_of(tree, salts, u) for u in ledger]
    for proof in proofs:
        verify_path(proof)
        assert proof.root_hash == tree.root_hash and proof.root_sum == tree.root_sum
        assert Proof.from_json(json.loads(json.dumps(proof.to_json()))) == proof
    if proofs:
        forged = _tamper(data.draw(st.sampled_from(proofs)), data)
        with pytest.raises(ProofError):
            verify_path(forged)
