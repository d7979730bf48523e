"""Break bookkeeping: a break is opened with the slot it was first seen, kept while it lasts,
and cleared (kept in history) the first pass it is no longer found. Kinds a pass could not
check (say, cash when the reads kept answering from different slots) keep their state."""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from indexer import models as T
from indexer.reconcile import Break


@dataclass(frozen=True)
class Transition:
    state: str  # open | cleared
    kind: str
    ticker: str | None
    first_slot: int
    slot: int
    detail: str

    def body(self) -> dict:
        return {"kind": self.kind, "ticker": self.ticker, "first_slot": self.first_slot, "detail": self.detail, "state": self.state, "slot": self.slot}


def open_breaks(conn: Connection) -> list[dict]:
    rows = conn.execute(select(T.breaks).where(T.breaks.c.cleared_slot.is_(None)).order_by(T.breaks.c.first_slot, T.breaks.c.id)).mappings()
    return [{"kind": r["kind"], "ticker": r["ticker"], "first_slot": r["first_slot"], "detail": r["detail"]} for r in rows]


def _current(conn: Connection) -> dict:
    return {(r["kind"], r["ticker"]): r for r in conn.execute(select(T.breaks).where(T.breaks.c.cleared_slot.is_(None))).mappings()}


def _seen(found: list[Break]) -> dict:
    seen = {}
    for b in found:
        seen.setdefault(b.key, b)  # one break per (kind, ticker) per pass
    return seen


def changes(conn: Connection, found: list[Break], checked: set[str]) -> bool:
    """Whether `update_breaks` would write anything (read-only: most passes change nothing, and
    on SQLite a write transaction would take the lock the exchange's writer needs)."""
    current, seen = _current(conn), _seen(found)
    if any(key not in current or current[key]["detail"] != b.detail for key, b in seen.items()):
        return True
    return any(key not in seen and row["kind"] in checked for key, row in current.items())


def update_breaks(conn: Connection, found: list[Break], checked: set[str], slot: int) -> list[Transition]:
    """Open new breaks at `slot`, refresh the detail (and last slot) of lasting ones whose detail
    changed, clear the checked kinds no longer found."""
    now = time.time_ns() // 1_000_000
    current, seen = _current(conn), _seen(found)
    out: list[Transition] = []
    for key, b in seen.items():
        row = current.get(key)
        if row is None:
            conn.execute(insert(T.breaks).values(kind=b.kind, ticker=b.ticker, first_slot=slot, last_slot=slot, detail=b.detail, opened_ms=now))
            out.append(Transition("open", b.kind, b.ticker, slot, slot, b.detail))
        elif row["detail"] != b.detail:
            conn.execute(update(T.breaks).where(T.breaks.c.id == row["id"]).values(last_slot=slot, detail=b.detail))
    for key, row in current.items():
        if key not in seen and row["kind"] in checked:
            conn.execute(update(T.breaks).where(T.breaks.c.id == row["id"]).values(cleared_slot=slot, cleared_ms=now))
            out.append(Transition("cleared", row["kind"], row["ticker"], row["first_slot"], slot, row["detail"]))
    return out


def history(conn: Connection, limit: int) -> list[dict]:
    rows = conn.execute(select(T.breaks).order_by(T.breaks.c.id.desc()).limit(limit)).mappings()
    return [
        {k: r[k] for k in ("kind", "ticker", "first_slot", "last_slot", "cleared_slot", "detail", "opened_ms", "cleared_ms")}
        for r in rows
    ]
