"""A deposit is credited once the chain has it finalized, so the ledger may already hold a
credit that the reconciliation's chain read (an earlier finalized slot) does not: that credit
is taken back, as a bridge record not yet on chain is, instead of showing custody short
(seen in `tandem up`: a transient false `cash` break right after the demo's deposit)."""
from __future__ import annotations

import json

from sqlalchemy import insert

from indexer import models as T
from indexer.db import open_database
from indexer.reconcile import Effect
from indexer.service import Indexer


def test_credits_of_deposits_after_the_read_slot_are_taken_back(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'ix.db'}")
    try:
        with db.writer.begin() as conn:
            for sig, slot in (("early", 90), ("at", 100), ("late", 101)):
                conn.execute(insert(T.events).values(signature=sig, instruction_index=0, event_index=0, slot=slot,
                                                     name="Deposited", data=json.dumps({}), finalized=True, ingested_ms=0))
        deposits = [("early", "cash", None, 5), ("at", "yes", "M", 7), ("late", "cash", None, 11),
                    ("late", "no", "M", 13), ("unseen", "yes", "M", 17)]
        with db.reader.connect() as iconn:
            late = Indexer._deposits_after(iconn, deposits, 100)
        # on chain by slot 100: kept; later, or not ingested yet: taken back
        assert late == {None: Effect(cash=11), "M": Effect(yes=17, no=13)}
        with db.reader.connect() as iconn:
            assert Indexer._deposits_after(iconn, deposits, 101) == {"M": Effect(yes=17)}
            assert Indexer._deposits_after(iconn, [], 100) == {}
    finally:
        db.dispose()
