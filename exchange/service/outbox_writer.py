"""The outbox writer: typed records (exchange/outbox.py) appended in the command's own
transaction, each with its stream's next gapless seq, one group per ledger journal."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection

from exchange import outbox as X
from exchange import statements as Q
from exchange.service.common import new_id


class OutboxWriter:
    def next_seqs(self, conn: Connection, stream: str, n: int) -> int:
        """Reserve n sequence numbers of a stream in this transaction; returns the first."""
        last = Q.RESERVE_SEQS.scalar(conn, {"b_stream": stream, "n": n})
        if last is None:
            Q.INSERT_STREAM.execute(conn, {"stream": stream, "last_seq": n}).close()
            last = n
        return last - n + 1

    def write(self, conn: Connection, records: list[X.Record], ts: int, group: str | None = None) -> list[tuple[str, int]]:
        """Append `records`, in the order given, as ONE group (default: a fresh id); each gets
        its stream's next seq. Returns their (stream, seq)."""
        group = group or new_id()
        by_stream: dict[str, list[X.Record]] = defaultdict(list)
        for record in records:
            by_stream[X.stream_of(record)].append(record)
        rows = []
        where: dict[int, tuple[str, int]] = {}
        for stream, items in by_stream.items():
            first = self.next_seqs(conn, stream, len(items))
            for i, record in enumerate(items):
                kind, payload = X.encode(record)
                where[id(record)] = (stream, first + i)
                rows.append({"stream": stream, "seq": first + i, "group_id": group, "kind": kind, "payload": payload,
                             "created_ms": ts, "status": X.PENDING, "signature": None, "slot": None, "applied_ms": None,
                             "finalized": False, "revert_reason": None})
        Q.INSERT_OUTBOX.executemany(conn, rows)
        return [where[id(r)] for r in records]
