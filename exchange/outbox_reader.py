"""The bridge's side of the outbox (DESIGN.md, "The bridge's exactly-once protocol"): read the
pending records of a stream as typed `OutboxRecord`s, whole groups at a time, and report back
what the chain did with them. The exchange keeps that report in its own `outbox` rows
(status, signature, slot, finalized); the bridge's in-flight bookkeeping (signed bytes,
blockhashes) is the bridge's own.

Every write here goes through the service's one unit of work (`ExchangeService.unit_of_work`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import func, select, update

from exchange import errors
from exchange import outbox as X
from exchange.models import CustodyWithdrawal, OutboxEvent, OutboxStream
from exchange.models import custody as C
from exchange.models._base import now_ms
from exchange.service import ExchangeService

_outbox = OutboxEvent.__table__
_streams = OutboxStream.__table__
_withdrawals = CustodyWithdrawal.__table__


def record_of(r) -> X.OutboxRecord:
    """An `outbox` row -> its typed record."""
    return X.OutboxRecord(r["stream"], r["seq"], r["group_id"], r["created_ms"], X.decode(r["kind"], r["payload"]),
                          r["status"], r["signature"], r["slot"], bool(r["finalized"]))


class OutboxReader:
    """What the bridge (and the indexer, read-only) uses of the exchange's outbox."""

    def __init__(self, service: ExchangeService,
                 reverter: Callable[[str, int, str], list[X.OutboxRecord]] | None = None) -> None:
        """`reverter`: how a refused settle_fill reaches the process that owns the books (the
        API's `POST /operator/outbox/{stream}/{seq}/revert`), so its memory and its WebSocket
        subscribers follow; without one it runs on `service` (right when that IS the API's)."""
        self.service = service
        self._db = service.db
        self._reverter = reverter

    @classmethod
    def open(cls, url: str, reverter: Callable[[str, int, str], list[X.OutboxRecord]] | None = None) -> "OutboxReader":
        """A reader on its own service (no books restored: it only reads and marks the outbox)."""
        return cls(ExchangeService(url, restore=False), reverter)

    def close(self) -> None:
        self.service.close()

    # -- reads
    def streams(self) -> dict[str, int]:
        """Every stream and the last seq written to it."""
        with self._db.reader.connect() as conn:
            return dict(conn.execute(select(_streams.c.stream, _streams.c.last_seq)).all())

    def pending(self, stream: str, after_seq: int = 0, limit: int = 256) -> list[X.OutboxRecord]:
        """Pending records of `stream` with seq > after_seq, in seq order, WHOLE groups only:
        it stops before a group that would pass `limit`, but always returns the first group
        whole (a group larger than `limit` must still go out). `after_seq` should be a group
        boundary; `applied_seq(stream)` always is."""
        if limit <= 0:
            raise errors.InvalidRequest("limit must be positive")
        base = select(_outbox).where(_outbox.c.stream == stream, _outbox.c.status == X.PENDING)
        with self._db.reader.connect() as conn:
            rows = conn.execute(base.where(_outbox.c.seq > after_seq).order_by(_outbox.c.seq).limit(limit)).mappings().all()
            if not rows:
                return []
            last = rows[-1]
            rest = conn.execute(base.where(_outbox.c.group_id == last["group_id"], _outbox.c.seq > last["seq"])
                                .order_by(_outbox.c.seq)).mappings().all()
        if rest:
            whole = [r for r in rows if r["group_id"] != last["group_id"]]
            rows = whole if whole else list(rows) + list(rest)
        return [record_of(r) for r in rows]

    def records(self, stream: str, after_seq: int = 0, limit: int = 1000) -> list[X.OutboxRecord]:
        """Every record of `stream` after `after_seq` whatever its status (the indexer's view)."""
        with self._db.reader.connect() as conn:
            rows = conn.execute(select(_outbox).where(_outbox.c.stream == stream, _outbox.c.seq > after_seq)
                                .order_by(_outbox.c.seq).limit(limit)).mappings().all()
        return [record_of(r) for r in rows]

    def get(self, stream: str, seq: int) -> X.OutboxRecord:
        with self._db.reader.connect() as conn:
            r = conn.execute(select(_outbox).where(_outbox.c.stream == stream, _outbox.c.seq == seq)).mappings().first()
        if r is None:
            raise errors.NotFound(f"no outbox record {stream}/{seq}", code="outbox_not_found")
        return record_of(r)

    def applied_seq(self, stream: str) -> int:
        """The highest seq such that every record of the stream up to it is applied (or
        reverted: resolved for good); 0 when nothing is."""
        with self._db.reader.connect() as conn:
            first_pending = conn.execute(select(func.min(_outbox.c.seq)).where(
                _outbox.c.stream == stream, _outbox.c.status == X.PENDING)).scalar_one()
            if first_pending is not None:
                return first_pending - 1
            return conn.execute(select(_streams.c.last_seq).where(_streams.c.stream == stream)).scalar_one_or_none() or 0

    # -- what the chain did
    def mark_applied(self, stream: str, seqs: Iterable[int], signature: str, slot: int) -> int:
        """The chain applied these seqs (in the transaction `signature`, at `slot`); also what
        a `SequenceAlreadyUsed` refusal means. Idempotent: records already applied keep their
        first signature. A custody_withdraw applied makes its withdrawal `sent`. Returns how
        many records were newly marked."""
        seqs = sorted(set(seqs))
        if not seqs:
            return 0
        with self.service.unit_of_work.transaction() as conn:
            rows = conn.execute(select(_outbox.c.seq, _outbox.c.status, _outbox.c.kind).where(
                _outbox.c.stream == stream, _outbox.c.seq.in_(seqs))).all()
            missing = set(seqs) - {r.seq for r in rows}
            if missing:
                raise errors.NotFound(f"no outbox records {stream}/{sorted(missing)}", code="outbox_not_found")
            reverted = [r.seq for r in rows if r.status == X.REVERTED]
            if reverted:
                raise errors.Conflict(f"outbox records {stream}/{reverted} were reverted; the chain cannot have applied them",
                                      code="outbox_reverted")
            fresh = [r.seq for r in rows if r.status == X.PENDING]
            if fresh:
                ts = now_ms()
                conn.execute(update(_outbox).where(_outbox.c.stream == stream, _outbox.c.seq.in_(fresh))
                             .values(status=X.APPLIED, signature=signature, slot=slot, applied_ms=ts))
                conn.execute(update(_withdrawals).where(_withdrawals.c.stream == stream, _withdrawals.c.seq.in_(fresh),
                                                        _withdrawals.c.status == C.PENDING)
                             .values(status=C.SENT, signature=signature, updated_ms=ts))
        return len(fresh)

    def mark_finalized(self, stream: str, seqs: Iterable[int]) -> int:
        """The transactions that applied these seqs are finalized; their withdrawals become
        `finalized`. Idempotent; only applied records can be finalized. Returns how many were
        newly marked."""
        seqs = sorted(set(seqs))
        if not seqs:
            return 0
        with self.service.unit_of_work.transaction() as conn:
            pending = conn.execute(select(_outbox.c.seq).where(_outbox.c.stream == stream, _outbox.c.seq.in_(seqs),
                                                               _outbox.c.status != X.APPLIED)).scalars().all()
            if pending:
                raise errors.Conflict(f"outbox records {stream}/{sorted(pending)} are not applied", code="outbox_not_applied")
            count = conn.execute(update(_outbox).where(_outbox.c.stream == stream, _outbox.c.seq.in_(seqs),
                                                       _outbox.c.finalized.is_(False)).values(finalized=True)).rowcount
            conn.execute(update(_withdrawals).where(_withdrawals.c.stream == stream, _withdrawals.c.seq.in_(seqs),
                                                    _withdrawals.c.status == C.SENT)
                         .values(status=C.FINALIZED, updated_ms=now_ms()))
        return count

    def revert_settle_fill(self, stream: str, seq: int, reason: str) -> list[X.OutboxRecord]:
        """The program refused this settle_fill for good (its order was force-closed): see
        `ExchangeService.revert_settle_fill`. Returns the compensating records it wrote."""
        if self._reverter is not None:
            return self._reverter(stream, seq, reason)
        return self.service.revert_settle_fill(stream, seq, reason)
