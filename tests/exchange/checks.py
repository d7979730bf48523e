"""Ledger invariants, checked straight from the tables (DESIGN.md invariant 4)."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from exchange.models import LedgerAccount, LedgerBalance, LedgerEntry, Market, OutboxEvent
from exchange.models import ledger as L

E, B, A = LedgerEntry.__table__, LedgerBalance.__table__, LedgerAccount.__table__


def check_ledger(service) -> dict:
    """Assert double-entry and custody invariants; returns a few totals for further checks."""
    with service.db.reader.connect() as conn:
        # Every movement is a pair: two entries, one asset, opposite amounts.
        legs = conn.execute(
            select(E.c.journal_id, E.c.leg, func.count(), func.sum(E.c.amount), func.count(func.distinct(E.c.asset)))
            .group_by(E.c.journal_id, E.c.leg)
        ).all()
        for journal_id, leg, n, total, assets in legs:
            assert (n, total, assets) == (2, 0, 1), f"movement {journal_id}/{leg} is not a balanced pair"
        # Each asset sums to zero over all accounts (contra accounts included).
        for asset, total in conn.execute(select(E.c.asset, func.sum(E.c.amount)).group_by(E.c.asset)):
            assert total == 0, f"{asset} does not balance: {total}"
        # The running balances equal the sums of the entries.
        sums = {(a, s): t for a, s, t in conn.execute(select(E.c.account_id, E.c.asset, func.sum(E.c.amount)).group_by(E.c.account_id, E.c.asset))}
        balances = {(a, s): t for a, s, t in conn.execute(select(B.c.account_id, B.c.asset, B.c.amount))}
        assert {k: v for k, v in balances.items() if v} == {k: v for k, v in sums.items() if v}
        kinds = {i: (k, r) for i, k, r in conn.execute(select(A.c.id, A.c.kind, A.c.ref))}
        by_owner: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for (account, asset), amount in balances.items():
            by_owner[kinds[account]][asset] = amount
        # Cash held inside the venue == deposits − withdrawals (the external contra account).
        inside = sum(v.get(L.CASH, 0) for k, v in by_owner.items() if k[0] != L.EXTERNAL)
        assert inside == -by_owner.get((L.EXTERNAL, ""), {}).get(L.CASH, 0)
        # Per market: sets outstanding == YES held == NO held, and collateral backs them 1:1
        # until finalization (contracts withdrawn to wallets count as held outside).
        tickers = [t for (t,) in conn.execute(select(Market.__table__.c.ticker))]
        for t in tickers:
            yes, no = L.yes_asset(t), L.no_asset(t)
            sets = -by_owner.get((L.ISSUANCE, t), {}).get(yes, 0)
            assert sets == -by_owner.get((L.ISSUANCE, t), {}).get(no, 0)
            assert by_owner.get((L.COLLATERAL, t), {}).get(L.CASH, 0) == sets  # 1 contract base unit = 1 collateral base unit
            assert sum(v.get(yes, 0) for k, v in by_owner.items() if k[0] != L.ISSUANCE) == sets
            for k, v in by_owner.items():
                if k[0] == L.USER:
                    assert v.get(yes, 0) >= 0 and v.get(no, 0) >= 0
                    assert not (v.get(yes, 0) and v.get(no, 0)), f"user {k[1]} holds YES and NO of {t}"
            for k, v in by_owner.items():
                if k[0] != L.EXTERNAL:
                    assert v.get(L.CASH, 0) >= 0, f"{k} has negative cash"
    return {"by_owner": by_owner}


def check_outbox_gapless(service) -> dict[str, list[tuple[int, str, dict]]]:
    import json

    O = OutboxEvent.__table__
    streams: dict[str, list] = defaultdict(list)
    with service.db.reader.connect() as conn:
        for stream, seq, kind, payload in conn.execute(select(O.c.stream, O.c.seq, O.c.kind, O.c.payload).order_by(O.c.stream, O.c.seq)):
            streams[stream].append((seq, kind, json.loads(payload)))
    for stream, events in streams.items():
        assert [e[0] for e in events] == list(range(1, len(events) + 1)), f"stream {stream} has gaps"
    assert service.outbox_streams() == {s: len(e) for s, e in streams.items()}
    return streams


def funded_users(svc, *names, cents=1_000_00):
    """Custodial users created and funded with `cents` each, in order."""
    out = []
    for name in names:
        u = svc.create_user(name)
        svc.fund(u.id, cents=cents)
        out.append(u)
    return out


def row_count(svc, table) -> int:
    """Rows in a model's table."""
    with svc.db.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()
