"""Invariant 3 (pure): ledger outbox seqs <-> the program's sequenced events, per stream.

Every record of a sequenced kind must show up on chain exactly once as its event, carrying
(stream, seq), unless the bridge reverted it (the program refused it for good; the ledger
compensated). Lifecycle records (create_market, halt, ...) are not sequenced by the program:
they are checked through the transaction the bridge recorded for them.

- `seq_duplicate`: one (stream, seq) in two events, or a reverted record whose seq is on chain.
- `seq_unknown`: a sequenced event whose seq has no ledger record, or a record of another kind.
- `seq_missing`: a record with no event although the bridge says it applied it (once that
  slot is `grace` slots final), or that the chain has moved past: a higher seq of the stream
  has been on chain for `grace` slots, or the seq fell below the replay window (it can never
  be applied now).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from exchange.outbox import OutboxRecord

from indexer.reconcile import SEQ_DUPLICATE, SEQ_MISSING, SEQ_UNKNOWN, Break

SEQUENCED_EVENT = {
    "custody_mint_set": "CustodySetMinted",
    "custody_merge_set": "CustodySetMerged",
    "custody_redeem": "CustodyRedeemed",
    "settle_fill": "FillSettled",
    "close_order": "OrderClosed",
    "custody_fund": "CustodyFunded",
}
LIFECYCLE_EVENT = {
    "create_market": "MarketCreated",
    "halt": "MarketStatusChanged",
    "resume": "MarketStatusChanged",
    "close_market": "MarketStatusChanged",
    "determine": "MarketDetermined",
    "finalize": "MarketFinalized",
}


def expected_event(record: OutboxRecord) -> str | None:
    """The sequenced event a record must produce (None for lifecycle records)."""
    if record.kind == "custody_withdraw":
        return "CustodyCollateralWithdrawn" if record.record.asset == "cash" else "CustodyWithdrawn"
    return SEQUENCED_EVENT.get(record.kind)


@dataclass(frozen=True)
class ChainSeq:
    name: str
    slot: int
    signature: str


@dataclass
class StreamCheck:
    """What one pass found for one stream; `verified_through` is the highest seq with every seq
    at or below it settled for good (matched once, or reverted and absent)."""

    breaks: list[Break] = field(default_factory=list)
    verified_through: int = 0


def _ticker(stream: str) -> str | None:
    return None if stream.startswith("_") else stream


def check_stream(
    stream: str,
    records: list[OutboxRecord],
    chain: dict[int, list[ChainSeq]],
    lifecycle_seen: set[tuple[str, str]],
    *,
    verified_through: int,
    slot: int,
    grace: int,
    window_highest: int,
    window_bits: int,
) -> StreamCheck:
    """`records`: the stream's records with seq > verified_through (every status), in seq order;
    `chain`: seq -> finalized sequenced events of the stream at slots <= `slot` with seq >
    verified_through; `lifecycle_seen`: (signature, event name) of finalized lifecycle events in
    the transactions those records name."""
    ticker = _ticker(stream)
    missing: list[int] = []
    duplicate: list[int] = []
    unknown: list[str] = []
    by_seq = {r.seq: r for r in records}
    # the highest seq that has been on chain for `grace` slots: anything below it was skipped past
    passed_max = max((s for s, evs in chain.items() if min(e.slot for e in evs) <= slot - grace), default=0)
    settled_prefix = True
    through = verified_through
    for r in records:
        events = chain.get(r.seq, [])
        want = expected_event(r)
        good = False
        if want is None:  # lifecycle: the bridge's recorded transaction must hold the event
            name = LIFECYCLE_EVENT.get(r.kind)
            if events:
                unknown.append(f"{r.seq} ({r.kind} record, {events[0].name} on chain)")
            elif r.status == "applied" and r.signature and r.slot is not None and r.slot <= slot - grace:
                good = (r.signature, name) in lifecycle_seen
                if not good:
                    missing.append(r.seq)
            elif r.status == "reverted":
                good = True
        elif r.status == "reverted":
            if events:
                duplicate.append(r.seq)
            else:
                good = True
        elif events:
            if len(events) > 1:
                duplicate.append(r.seq)
            elif events[0].name != want:
                unknown.append(f"{r.seq} ({r.kind} record, {events[0].name} on chain)")
            else:
                good = True
        else:
            claimed = r.status == "applied" and r.slot is not None and r.slot <= slot - grace
            passed = passed_max > r.seq
            expired = window_highest - r.seq >= window_bits  # below the window: can never be applied now
            if claimed or passed or expired:
                missing.append(r.seq)
        if good and settled_prefix:
            through = r.seq
        else:
            settled_prefix = False
    for seq, events in chain.items():
        if seq not in by_seq:
            unknown.append(f"{seq} ({events[0].name} on chain, no ledger record)")
    out = StreamCheck(verified_through=through)
    if missing:
        out.breaks.append(Break(SEQ_MISSING, ticker, f"stream {stream}: seqs {_short(missing)} not on chain (claimed applied, skipped past or expired)"))
    if duplicate:
        out.breaks.append(Break(SEQ_DUPLICATE, ticker, f"stream {stream}: seqs {_short(duplicate)} applied more than once (or applied after being reverted)"))
    if unknown:
        out.breaks.append(Break(SEQ_UNKNOWN, ticker, f"stream {stream}: on-chain seqs without their ledger record: {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}"))
    return out


def _short(seqs: list[int]) -> str:
    head = ", ".join(str(s) for s in seqs[:8])
    return f"[{head}{', ...' if len(seqs) > 8 else ''}] ({len(seqs)})"
