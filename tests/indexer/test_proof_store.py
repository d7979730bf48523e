"""indexer/epochs.py's storage on a real database (SQLite and PostgreSQL): trees stored as salts and
leaves, proofs rebuilt from them, old epochs pruned. The chain side is in test_proof_epochs.py."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.db import connect
from indexer import epochs as E
from indexer.db import migrate
from indexer.proof import make_proof, tree_of_commits, verify_path
from tests.databases import BACKENDS, fresh_database

LEDGER = [  # (user_id, asset, amount) as exchange.ledger_queries.custodial_balances gives them
    (1, "USD", 5_000_000), (2, "USD", 7_000_000), (3, "USD", 1),
    (1, "YES:ALPHA", 3_000_000), (2, "NO:ALPHA", 3_000_000), (3, "YES:ALPHA", 10_000),
    (2, "YES:BETA", 1_000_000),
    (1, "NO:BETA", 0),  # a flat position: no leaf
]


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    with fresh_database(request.param, tmp_path, "proofstore") as url:
        migrate(url)
        database = connect(url)
        try:
            yield database
        finally:
            database.dispose()


def store(db, epoch: int, slot: int, keep: int = 48) -> E.EpochSummary:
    salts, trees = E._build(epoch, LEDGER, ["ALPHA", "BETA", "GAMMA"])
    roots = tuple(E.TreeRoot(t or None, a, tree.root_hash, tree.root_sum, tree.count, "custody", tree.root_sum, True)
                  for (t, a), (*_, tree) in trees.items())
    summary = E.EpochSummary(epoch, slot, 1_700_000_000_000 + epoch, roots)
    E._store(db, summary, salts, trees, keep)
    return summary


def test_trees_per_market_and_asset_and_for_cash(db):
    summary = store(db, 7, 700)
    roots = {(r.ticker, r.asset): (r.sum, r.leaves) for r in summary.roots}
    assert roots == {
        (None, "cash"): (12_000_001, 3),
        ("ALPHA", "yes"): (3_010_000, 2), ("ALPHA", "no"): (3_000_000, 1),
        ("BETA", "yes"): (1_000_000, 1), ("BETA", "no"): (0, 0),
        ("GAMMA", "yes"): (0, 0), ("GAMMA", "no"): (0, 0),  # a market nobody holds still has its (empty) roots
    }
    assert E.latest_epoch(db) == summary


def test_every_users_proof_is_rebuilt_from_the_stored_leaves(db):
    summary = store(db, 7, 700)
    for user_id, asset, amount in LEDGER:
        ticker, kind = E._asset_key(asset)
        proof = E.latest_proof(db, user_id=user_id, ticker=ticker or None, asset=kind)
        if amount == 0:
            assert proof is None
            continue
        verify_path(proof)
        assert (proof.epoch, proof.slot, proof.balance, proof.user_id) == (7, 700, amount, user_id)
        root = next(r for r in summary.roots if (r.ticker, r.asset) == (ticker or None, kind))
        assert (proof.root_hash, proof.root_sum, proof.custody_account) == (root.hash, root.sum, "custody")
    assert E.latest_proof(db, user_id=3, ticker="ALPHA", asset="no") is None
    assert E.latest_proof(db, user_id=99, ticker=None, asset="cash") is None


def test_salts_are_per_user_and_epoch(db):
    store(db, 7, 700)
    a = E.latest_proof(db, user_id=1, ticker=None, asset="cash")
    assert a.commit == E.latest_proof(db, user_id=1, ticker="ALPHA", asset="yes").commit
    store(db, 8, 800)
    b = E.latest_proof(db, user_id=1, ticker=None, asset="cash")
    assert b.epoch == 8 and b.salt != a.salt and b.commit != a.commit


def test_old_epochs_are_pruned(db):
    for epoch in range(1, 5):
        store(db, epoch, epoch * 100, keep=2)
    with db.reader.connect() as conn:
        for table in (E.proof_epochs, E.proof_roots, E.proof_salts, E.proof_trees):
            assert {r.epoch for r in conn.execute(table.select())} == {3, 4}, table.name


def test_a_balance_the_tables_cannot_hold_is_refused():
    with pytest.raises(ValueError, match="cannot be in a tree"):
        E._build(1, [(1, "USD", 1 << 63)], [])
    with pytest.raises(ValueError, match="cannot be in a tree"):
        E._build(1, [(1, "YES:X", -5)], ["X"])


def test_no_tables_no_proof(tmp_path):
    database = connect(f"sqlite:///{tmp_path / 'bare.db'}")
    try:
        assert E.latest_proof(database, user_id=1, ticker=None, asset="cash") is None
    finally:
        database.dispose()


ASSETS = st.sampled_from(["USD", "YES:ALPHA", "NO:ALPHA", "YES:BETA", "NO:BETA", "FEES:X"])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.tuples(st.integers(1, 50), ASSETS), st.integers(0, 10**12), max_size=60))
def test_random_ledgers_every_holder_can_prove_and_sums_add_up(ledger):
    balances = [(u, a, v) for (u, a), v in ledger.items()]
    salts, trees = E._build(3, balances, ["ALPHA", "BETA"])
    expected: dict[tuple[str, str], int] = {}
    for (user_id, asset), amount in ledger.items():
        key = E._asset_key(asset)
        if key is None or amount == 0:
            continue
        expected[key] = expected.get(key, 0) + amount
        ids, commits, amounts, root = trees[key]
        tree = tree_of_commits(3, commits, amounts)  # _build keeps only the root; rebuilt as from storage
        assert (tree.root_hash, tree.root_sum, tree.count) == (root.root_hash, root.root_sum, root.count)
        proof = make_proof(tree, user_id=user_id, salt=salts[user_id], slot=9, ticker=key[0] or None, asset=key[1],
                           custody_account="custody")
        verify_path(proof)
        assert proof.balance == amount
    assert {k: t.root_sum for k, (*_, t) in trees.items() if t.root_sum} == expected
    assert set(trees) == {("", "cash"), ("ALPHA", "yes"), ("ALPHA", "no"), ("BETA", "yes"), ("BETA", "no")}


def test_the_migrations_build_exactly_the_proof_tables(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.writer.connect() as conn:
        ours = lambda obj, name, type_, reflected, compare_to: type_ != "table" or name.startswith("proof_")  # noqa: E731
        ctx = MigrationContext.configure(conn, opts={"include_object": ours})
        assert compare_metadata(ctx, E.metadata) == []
