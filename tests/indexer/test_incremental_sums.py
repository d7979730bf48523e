"""The indexer's incremental custodial sums never miss a ledger entry that commits late under a
lower id (PostgreSQL: concurrent writers' sequence ids commit out of order), on a real server."""
from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import create_engine, insert, select

from exchange import ledger_queries as LQ
from exchange.db import normalize_url
from exchange.models import LedgerAccount, LedgerEntry
from exchange.service import ExchangeService
from indexer.service import Indexer, IndexerConfig
from tests.databases import fresh_database

ONE = 1_000_000


@pytest.mark.postgres
def test_an_entry_committed_late_under_a_lower_id_is_still_counted_once(tmp_path):
    with fresh_database("postgres", tmp_path, "ixinc") as url:
        svc = ExchangeService(url)
        ix = Indexer(IndexerConfig(rpc_url="http://127.0.0.1:1", db_url=url, full_every_s=1e9, follow_confirmed=False))
        engine = create_engine(normalize_url(url))
        try:
            svc.create_market("INC-" + uuid.uuid4().hex[:8].upper(), title="inc", close_ms=int(time.time() * 1000) + 3_600_000)
            a = svc.create_user(f"a-{uuid.uuid4().hex[:6]}").id
            svc.fund(a, cents=10_000)

            def sums():
                with LQ.snapshot(ix.db) as conn:
                    return ix._ledger_totals(conn)

            totals, full = sums()
            assert full and totals.cash() == 100 * ONE
            with engine.connect() as conn:
                account = conn.execute(select(LedgerAccount.__table__.c.id).where(
                    LedgerAccount.__table__.c.kind == "user", LedgerAccount.__table__.c.ref == str(a))).scalar_one()
            entry = dict(journal_id="j", leg=0, account_id=account, asset="USD", kind="deposit", ref="", created_ms=0)
            with engine.connect() as slow:
                slow_tx = slow.begin()
                slow.execute(insert(LedgerEntry.__table__), [{**entry, "amount": 7}])  # the lower id, not committed yet
                with engine.begin() as fast:
                    fast.execute(insert(LedgerEntry.__table__), [{**entry, "amount": 5}])  # the higher id, committed first
                totals, full = sums()
                assert not full and totals.cash() == 100 * ONE + 5
                slow_tx.commit()
            totals, _ = sums()
            assert totals.cash() == 100 * ONE + 12, "the entry committed late under the lower id is counted"
            totals, _ = sums()
            assert totals.cash() == 100 * ONE + 12, "and only once"
        finally:
            engine.dispose()
            ix.db.dispose()
            svc.close()
