"""The sender of one outbox stream: exactly once onto the chain (DESIGN.md, "The bridge's
exactly-once protocol").

Every transaction is signed, then PERSISTED (bridge_txs: its seqs, signature, blockhash, last
valid block height and the signed bytes), then sent. Until the chain answers, the same bytes
are resent. What happens next depends only on what the chain says:

- the signature is confirmed without error: its seqs are applied (`mark_applied`);
- it failed (on chain or at preflight): nothing of it happened (transactions are atomic). Its
  seqs are sent again, re-signed, once every lower seq of the stream is done (so a failure
  caused by an earlier transaction still in flight, which landed out of order, clears itself).
  A failure that repeats at the head of the stream is real: a settle_fill whose order is gone
  (force-closed) is reverted in the ledger; anything else is retried with a growing delay;
- no status, and the block height passed its last valid block height: it can never land.
  Before re-signing, the signature is looked up once more in the whole history and, for
  sequenced records, the program's replay window is read: a seq it consumed is applied.

Re-signing a sequenced record early (after a preflight refusal, before the old blockhash
expired) is safe: the program accepts each seq once, so the worst case is a refusal with
SequenceReplayed, which counts as applied. Records the current program does not sequence
(market lifecycle, custody_fund's plain transfer) are re-signed only after expiry.

In flight, a stream never has a seq more than 255 above its lowest seq not yet done: the
program's replay window (REPLAY_WINDOW_BITS, read from the IDL) then always holds both.
After a crash, everything is rebuilt from bridge_txs and the chain, never from memory.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from solana.rpc.commitment import Confirmed, Processed
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.hash import Hash
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.signature import Signature
from solders.transaction_status import TransactionErrorFieldless, TransactionErrorInstructionError

from bridge import store as S
from bridge.mapper import BARRIERS, Built, Mapper, OrderUnknown
from bridge.txbuild import TooLarge, TxBuilder
from chain.errors import program_error
from exchange import outbox as O

log = logging.getLogger("tandem.bridge")

# Program errors that mean "this seq was already applied" (the replay window refused it).
ALREADY_APPLIED = {"SequenceReplayed", "SequenceAlreadyUsed", "SequenceTooOld"}
# Program/Anchor errors of a settle_fill whose wallet order is gone for good (force-closed).
ORDER_GONE = {"AccountNotInitialized", "AccountOwnedByWrongProgram", "AccountDiscriminatorMismatch", "OrderIdMismatch",
              "OrderClosed", "OrderNotOpen"}


@dataclass
class Flight:
    """A persisted transaction not yet known to have landed or not."""

    row_id: int
    seqs: list[int]
    signature: Signature
    raw: bytes
    blockhash: str
    last_valid_height: int
    attempt: int
    sent_at: float = 0.0  # monotonic time of the last send by this process (0: never)
    refused: Any = None  # the preflight refusal (the node did not forward it)
    created: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """Why a transaction did not land: the error's name (program or runtime) and the seq whose instruction failed."""

    name: str | None
    failing_seq: int | None
    message: str


@dataclass
class StreamStats:
    sends: int = 0
    landed_txs: int = 0
    landed_seqs: int = 0
    expired_txs: int = 0
    failed_txs: int = 0
    reverted: int = 0
    last_error: str | None = None


class ChainView:
    """Block height, a recent blockhash, and the statuses of every stream's signatures in
    flight, shared by every stream.

    Statuses: one poller asks getSignatureStatuses for all signatures in flight (256 per call)
    every `status_every` seconds and wakes the streams whose transactions changed, so each
    stream reads a status no older than that without a request of its own. A status only moves
    forward (none -> processed -> confirmed -> finalized, its error fixed), so an answer a few
    milliseconds old is never wrong, only late; what it does not show yet (expiry) is checked
    afresh before anything is decided on it (`StreamSender._not_landed`)."""

    def __init__(self, rpc, *, height_ttl: float = 0.1, blockhash_ttl: float = 1.0, status_every: float = 0.01) -> None:
        self.rpc = rpc
        self.height_ttl = height_ttl
        self.blockhash_ttl = blockhash_ttl
        self.status_every = status_every
        self._height: tuple[float, int] | None = None
        self._blockhash: tuple[float, Hash, int] | None = None
        self._lock = asyncio.Lock()
        self._watched: dict[Signature, asyncio.Event] = {}  # signature -> its stream's wake-up
        self._statuses: dict[Signature, Any] = {}  # the last answer for each watched signature
        self._poller: asyncio.Task | None = None

    async def height(self) -> int:
        now = time.monotonic()
        if self._height is None or now - self._height[0] > self.height_ttl:
            self._height = (now, (await self.rpc.get_block_height(Processed)).value)
        return self._height[1]

    async def blockhash(self, avoid: set[str] = frozenset()) -> tuple[Hash, int]:
        async with self._lock:
            for _ in range(200):
                now = time.monotonic()
                if self._blockhash is None or now - self._blockhash[0] > self.blockhash_ttl or str(self._blockhash[1]) in avoid:
                    latest = (await self.rpc.get_latest_blockhash(Confirmed)).value
                    self._blockhash = (now, latest.blockhash, latest.last_valid_block_height)
                if str(self._blockhash[1]) not in avoid:
                    return self._blockhash[1], self._blockhash[2]
                await asyncio.sleep(0.05)
            raise RuntimeError("no new blockhash")

    # -- statuses ----------------------------------------------------------------------------
    def watch(self, signature: Signature, wake: asyncio.Event) -> None:
        self._watched[signature] = wake
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_statuses())

    async def close(self) -> None:
        """Stop the status poller (the bridge is stopping)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    def unwatch(self, signature: Signature) -> None:
        self._watched.pop(signature, None)
        self._statuses.pop(signature, None)

    def status(self, signature: Signature) -> Any:
        """The poller's last answer for a watched signature (None: no status yet)."""
        return self._statuses.get(signature)

    async def statuses(self, signatures: list[Signature]) -> list[Any]:
        """Statuses of signatures in flight: the poller's, or read now for ones it does not watch."""
        unwatched = [s for s in signatures if s not in self._watched]
        fresh: dict[Signature, Any] = {}
        for start in range(0, len(unwatched), 256):
            chunk = unwatched[start:start + 256]
            fresh.update(zip(chunk, (await self.rpc.get_signature_statuses(chunk)).value))
        return [fresh[s] if s in fresh else self._statuses.get(s) for s in signatures]

    async def _poll_statuses(self) -> None:
        delay = self.status_every
        while self._watched:
            sigs = list(self._watched)
            try:
                for start in range(0, len(sigs), 256):
                    chunk = sigs[start:start + 256]
                    answers = (await self.rpc.get_signature_statuses(chunk)).value
                    for sig, st in zip(chunk, answers):
                        if st is None or sig not in self._watched:
                            continue
                        old = self._statuses.get(sig)
                        if old is None or old.confirmation_status != st.confirmation_status or old.err != st.err:
                            self._statuses[sig] = st
                            self._watched[sig].set()
                delay = self.status_every
            except Exception as exc:  # the node unreachable: the senders' own reads fail and rebuild; keep trying
                log.debug("status poller: %s", exc)
                delay = min(max(delay * 2, 0.05), 1.0)
            await asyncio.sleep(delay)


class StreamSender:
    def __init__(self, stream: str, *, store: S.Store, reader, mapper: Mapper, builder: TxBuilder, view: ChainView,
                 window: int, max_in_flight: int = 16, max_records_per_tx: int = 64, resend_every: float = 1.0,
                 poll_every: float = 0.05, on_landed: Callable[[str, list[O.OutboxRecord], str, int], None] | None = None) -> None:
        self.stream = stream
        self.store = store
        self.reader = reader
        self.mapper = mapper
        self.builder = builder
        self.view = view
        self.rpc = mapper.c.rpc
        self.window = window
        self.max_in_flight = max_in_flight
        self.max_records_per_tx = max_records_per_tx
        self.resend_every = resend_every
        self.poll_every = poll_every
        self.on_landed = on_landed
        self.stats = StreamStats()
        self.flights: dict[int, Flight] = {}
        self.records: dict[int, O.OutboxRecord] = {}  # seqs not yet done whose records we hold
        self.done: set[int] = set()  # seqs above `floor` that are done
        self.floor = 0  # every seq <= floor is done
        self.persisted = 0  # every seq <= persisted is in a row (sent, done, ...): new records come after it
        self.placed: set[int] = set()  # seqs above `persisted` already in a row (placed out of order)
        self.resign: set[int] = set()  # expired: re-sign as soon as possible
        self.blocked: dict[int, Any] = {}  # failed: re-sign once at the head (seq -> last error)
        self.backoff_until = 0.0
        self.backoff = 0.0
        self.finalizing: dict[int, tuple[list[int], str]] = {}  # landed rows waiting for finality
        self._last_final_check = 0.0
        self._recovered = False
        # A lower bound of the program's `highest` accepted seq: it accepts a seq only up to
        # highest + window (SequenceTooFarAhead beyond), so nothing above that is sent.
        self.chain_highest = 0
        self.split_group: str | None = None  # a group too large for one transaction, sent in parts
        self.one_group_per_tx = False  # re-sending a failed head: each group in its own transaction
        # set when the stream has something to do: new outbox records (the runner's watcher) or a
        # new status of one of its transactions (the view's poller)
        self.wake = asyncio.Event()
        self._built: dict[int, Built] = {}  # seq -> its instructions (mapper.build), until the seq is done
        self.outbox_last: int | None = None  # the stream's last seq as the runner's watcher saw it (None: unknown, read)

    # ------------------------------------------------------------------ recovery
    async def recover(self) -> None:
        """Rebuild the stream's state from the exchange (applied seq) and bridge_txs."""
        self.floor = self.reader.applied_seq(self.stream)
        latest: dict[int, S.TxRow] = {}
        rows = self.store.rows_after(self.stream, self.floor)
        for row in rows:  # ascending id: a later row for a seq supersedes an earlier one, unless that one is done
            for s in row.seqs:
                if s > self.floor and not (s in latest and latest[s].status in S.DONE):
                    latest[s] = row
        self.persisted = self.floor
        self.placed = set(latest)
        self._place([])
        for f in list(self.flights.values()):
            self._drop(f)
        self.done.clear()
        self.resign.clear()
        self.blocked.clear()
        for s, row in latest.items():
            if row.status in S.DONE:
                self.done.add(s)
            elif row.status == S.SENT:
                if row.id not in self.flights:
                    self._track(Flight(row.id, row.seqs, Signature.from_string(row.signature), row.raw, row.blockhash,
                                       row.last_valid_height, row.attempt))
            elif row.status == S.EXPIRED:
                self.resign.add(s)
            else:  # FAILED: the reason is found again when it is re-sent at the head
                self.blocked[s] = Failure(None, None, row.error or "failed")
        for row in rows:
            if row.status == S.LANDED and row.signature:
                self.finalizing[row.id] = (row.seqs, row.signature)
        self._advance_floor()
        window = await self.builder.replay_window(self.stream)
        self.chain_highest = window.highest if window is not None else 0
        await self._load(sorted(s for s in latest if s > self.floor and s not in self.done))
        self._recovered = True

    def _place(self, seqs) -> None:
        """These seqs are in rows now; `persisted` advances over every contiguous one."""
        self.placed.update(s for s in seqs if s > self.persisted)
        while self.persisted + 1 in self.placed:
            self.persisted += 1
            self.placed.discard(self.persisted)

    def _build(self, rec: O.OutboxRecord) -> Built:
        """A record's instructions, built once (they depend on nothing that changes: not the
        blockhash, not the lookup table; a wallet order's owner and side are fixed)."""
        b = self._built.get(rec.seq)
        if b is None:
            b = self._built[rec.seq] = self.mapper.build(rec)
        return b

    def _track(self, f: Flight) -> None:
        self.flights[f.row_id] = f
        self.view.watch(f.signature, self.wake)

    def _drop(self, f: Flight) -> None:
        self.flights.pop(f.row_id, None)
        self.view.unwatch(f.signature)

    def _advance_floor(self) -> None:
        if self.floor + 1 in self.done:
            self.one_group_per_tx = False
        while self.floor + 1 in self.done:
            self.floor += 1
            self.done.discard(self.floor)
            self.records.pop(self.floor, None)
            self._built.pop(self.floor, None)

    # ------------------------------------------------------------------ bookkeeping
    def lowest_open(self) -> int:
        """The lowest seq not yet done (persisted or not)."""
        return self.floor + 1

    def highest_allowed(self) -> int:
        """The highest seq that may be in flight: within the window of the lowest open seq (so
        it stays acceptable while that one is still out) and at most the window above the
        chain's highest (what the program accepts at all)."""
        return min(self.lowest_open() + self.window - 1, self.chain_highest + self.window)

    def in_flight_seqs(self) -> int:
        return sum(len(f.seqs) for f in self.flights.values())

    def at_head(self, seq: int) -> bool:
        return seq == self.floor + 1

    def barrier_in_flight(self) -> bool:
        return any(self.records.get(f.seqs[0]) is not None and self.records[f.seqs[0]].kind in BARRIERS for f in self.flights.values())

    def _kinds(self, seqs: list[int]) -> list[str]:
        return [self.records[s].kind if s in self.records else "?" for s in seqs]

    def _sequenced(self, seqs: list[int]) -> bool:
        return all(k in self.mapper.sequenced for k in self._kinds(seqs))

    # ------------------------------------------------------------------ one step
    async def step(self) -> bool:
        """Poll what is in flight, resend, re-sign, send new records. True if anything moved."""
        if not self._recovered:
            await self.recover()
        moved = await self._poll()
        moved |= await self._fill()
        await self._finality()
        return moved

    async def _poll(self) -> bool:
        if not self.flights:
            return False
        moved = False
        flights = list(self.flights.values())
        statuses = await self.view.statuses([f.signature for f in flights])
        height = await self.view.height()
        now = time.monotonic()
        for f, st in zip(flights, statuses):
            if st is not None:
                if st.confirmation_status is None or int(st.confirmation_status) < 1:
                    continue  # processed only: wait for confirmed
                if st.err is None:
                    await self._landed(f, st.slot)
                elif _is_blockhash_error(st.err):
                    # recorded but never executed (localnet records what its bank refused): it can
                    # never land, its seqs are re-signed at once
                    await self._expired(f, recorded=True)
                else:
                    await self._failed(f, st.err, landed_slot=st.slot)
                moved = True
            elif f.refused is not None:
                if self._sequenced(f.seqs):
                    await self._failed(f, f.refused)  # safe to re-sign now: the replay window guards it
                    moved = True
                elif await self._barrier_done(f):
                    moved = True
                elif height > f.last_valid_height and await self._not_landed(f):
                    await self._failed(f, f.refused)  # can no longer land: re-sign from the head
                    moved = True
            elif height > f.last_valid_height:
                await self._expired(f)
                moved = True
            elif f.refused is None and now - f.sent_at >= self.resend_every:
                try:
                    await self._send(f)
                except Exception as exc:  # unreachable node: resent next time round
                    log.debug("%s: resend of %s failed: %s", self.stream, f.signature, exc)
        return moved

    async def _landed(self, f: Flight, slot: int) -> None:
        # the database calls of the hot path run in a worker thread: a write that waits for
        # SQLite's one writer lock (the exchange trading) then holds up only this stream
        await asyncio.to_thread(self._record_landed, f, slot)
        self._drop(f)
        self.finalizing[f.row_id] = (f.seqs, str(f.signature))
        if self.on_landed is not None:
            self.on_landed(self.stream, [self.records[s] for s in f.seqs if s in self.records], str(f.signature), slot)
        self.done.update(f.seqs)
        self.chain_highest = max([self.chain_highest] + [s for s in f.seqs if self._sequenced([s])])
        self.stats.landed_txs += 1
        self.stats.landed_seqs += len(f.seqs)
        self._advance_floor()
        self.backoff = 0.0

    def _record_landed(self, f: Flight, slot: int) -> None:
        self.reader.mark_applied(self.stream, f.seqs, str(f.signature), slot)  # the exchange first: a crash
        self.store.set_status(f.row_id, S.LANDED, slot=slot)  # between the two repeats an idempotent mark

    async def _failed(self, f: Flight, err: Any, landed_slot: int | None = None) -> None:
        """Nothing of `f` happened. Seqs the chain already consumed are applied; the rest wait for the head."""
        failure = self._failure(err, f.seqs)
        consumed = await self._consumed(f.seqs) if self._sequenced_any(f.seqs) else set()
        if consumed:
            await self._applied_elsewhere(sorted(consumed))
        self.store.set_status(f.row_id, S.FAILED, error=failure.message)
        self._drop(f)
        for s in f.seqs:
            if s not in consumed and s not in self.done:
                self.blocked[s] = failure
        self.stats.failed_txs += 1
        self.stats.last_error = failure.message
        log.info("%s: transaction %s (seqs %s..%s) failed: %s", self.stream, f.signature, f.seqs[0], f.seqs[-1], failure.message)

    def _failure(self, err: Any, seqs: list[int]) -> Failure:
        logs = err.logs if isinstance(err, _Refusal) else None
        inner = err.err if isinstance(err, _Refusal) else err
        e = program_error(self.mapper.c.idl, str(self.mapper.c.program_id), inner, logs)
        failing = None
        if isinstance(inner, TransactionErrorInstructionError):
            failing = self.builder.seq_at(inner.index, [self.records[s] for s in seqs if s in self.records])
        name = e.name
        if name is None and inner is not None:
            name = str(inner).split("(")[0].split(".")[-1] or None
        return Failure(name, failing, f"{e}")

    async def _not_landed(self, f: Flight) -> bool:
        """The whole history has no trace of this signature."""
        return (await self.rpc.get_signature_statuses([f.signature], search_transaction_history=True)).value[0] is None

    async def _barrier_done(self, f: Flight) -> bool:
        """A refused lifecycle transaction whose effect the chain already shows (e.g. the market
        `chain init` created): it can never land, and there is nothing to do."""
        recs = [self.records.get(s) for s in f.seqs]
        if len(recs) != 1 or recs[0] is None or recs[0].kind not in BARRIERS:
            return False
        if not await self.builder.already_applied(recs[0].record):
            return False
        self.store.set_status(f.row_id, S.FAILED, error=f"refused: {f.refused}")
        self._drop(f)
        self._skip(f.seqs[0], f"chain already shows {recs[0].kind}")
        return True

    async def _expired(self, f: Flight, recorded: bool = False) -> None:
        if not recorded and not await self._not_landed(f):
            return  # it did land after all; the next poll sees it confirmed
        consumed = await self._consumed(f.seqs) if self._sequenced_any(f.seqs) else set()
        if consumed:
            await self._applied_elsewhere(sorted(consumed))
        self.store.set_status(f.row_id, S.EXPIRED)
        self._drop(f)
        for s in f.seqs:
            if s not in consumed and s not in self.done:
                self.resign.add(s)
        self.stats.expired_txs += 1

    def _sequenced_any(self, seqs: list[int]) -> bool:
        return any(k in self.mapper.sequenced for k in self._kinds(seqs))

    async def _consumed(self, seqs: list[int]) -> set[int]:
        """The seqs the program's replay window of this stream has accepted (read at processed)."""
        window = await self.builder.replay_window(self.stream)
        if window is None:
            return set()
        applied = set()
        for s in seqs:
            if not self._sequenced([s]):
                continue
            state = _window_status(window, s, self.window)
            if state == "applied":
                applied.add(s)
            elif state == "expired":  # below the window: only the events can say (never expected: see highest_allowed)
                if s in await self.builder.find_applying(self.stream, [s]):
                    applied.add(s)
                else:
                    log.error("%s: seq %s fell below the program's replay window unapplied: it can never land", self.stream, s)
        return applied

    async def _applied_elsewhere(self, seqs: list[int]) -> None:
        """Seqs the chain applied through a transaction of ours this process did not see land."""
        found = await self.builder.find_applying(self.stream, seqs)
        for s in seqs:
            sig, slot = found.get(s, ("", 0))
            self.reader.mark_applied(self.stream, [s], sig, slot)
            self.store.insert_tx(self.stream, [s], None, None, None, None, status=S.SKIPPED,
                                 error=f"applied on chain by {sig or 'an earlier transaction'}")
            self.done.add(s)
        self._advance_floor()

    # ------------------------------------------------------------------ sending
    async def _send(self, f: Flight) -> None:
        # The first send is simulated (preflight: a refusal comes back at once, nothing lands);
        # resends of the same bytes are not: their simulation was done, and a node simulating a
        # transaction that already landed does it twice (the status cache, then a twin).
        resend = f.sent_at > 0
        f.sent_at = time.monotonic()
        self.stats.sends += 1
        try:
            await self.rpc.send_raw_transaction(f.raw, opts=TxOpts(skip_preflight=resend, preflight_commitment=Processed))
        except RPCException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, SendTransactionPreflightFailureMessage):
                err = error.data.err
                if err == TransactionErrorFieldless.AlreadyProcessed or err == TransactionErrorFieldless.BlockhashNotFound or "BlockhashNotFound" in str(err):
                    return  # landed already / node behind or hash gone: the status poll and expiry decide
                f.refused = _Refusal(err, list(error.data.logs or []))
                log.debug("%s: preflight refused %s: %s", self.stream, f.signature, err)
            else:
                log.debug("%s: send of %s refused by the RPC: %s", self.stream, f.signature, error)
        # transport errors (connection refused/cut, timeouts) propagate: the step is retried, the flight stays

    async def _fill(self) -> bool:
        """Re-sign what must be, then send new records, within the window and the in-flight limit."""
        moved = False
        if len(self.flights) >= self.max_in_flight or self.barrier_in_flight():
            return False
        # 1. blocked seqs at the head: resolve (revert a settle_fill whose order is gone) or retry
        if self.blocked and not self.flights and min(self.blocked) == self.floor + 1 and not self.resign:
            if time.monotonic() < self.backoff_until:
                return False
            await self._load([s for s in self.blocked])
            if await self._resolve_head():
                return True
            self.resign.update(self.blocked)
            self.blocked.clear()
            # Later transactions of the stream may have landed first and used what the head
            # needs (a merge after it took the sets a mint inside the failed transaction
            # would have made): each group alone now, so the ones that can go first do.
            self.one_group_per_tx = True
            self.backoff = min(max(self.backoff * 2, 0.2), 5.0)
            self.backoff_until = time.monotonic() + self.backoff
        # 2. expired seqs: re-sign at once
        if self.resign:
            await self._load(sorted(self.resign))
            groups = _groups([self.records[s] for s in sorted(self.resign)])
            moved |= await self._send_groups(groups, resign=True)
            if self.resign or len(self.flights) >= self.max_in_flight or self.barrier_in_flight():
                return moved
        # New records go on past a failure waiting for the head: it may need them (a reverted
        # fill's compensating custody_mint_set comes after the custody_merge_set it backs).
        # 3. new records
        limit = self.highest_allowed() - self.persisted
        if limit <= 0:
            return moved
        if self.outbox_last is not None and self.outbox_last <= self.persisted:
            return moved  # the outbox watcher saw nothing new: no read
        fresh = await asyncio.to_thread(self.reader.pending, self.stream, after_seq=self.persisted,
                                        limit=min(limit, self.max_records_per_tx * self.max_in_flight))
        fresh = [r for r in fresh if r.seq > self.persisted and r.seq not in self.placed]
        if not fresh:
            return moved
        for r in fresh:
            self.records[r.seq] = r
        await self.mapper.prepare(fresh)
        moved |= await self._send_groups(_groups(fresh), resign=False)
        return moved

    def _at_head(self, group: list[O.OutboxRecord]) -> bool:
        """Everything before this group is done and nothing is in flight."""
        return group[0].seq == self.floor + 1 and not self.flights

    async def _send_groups(self, groups: list[list[O.OutboxRecord]], *, resign: bool) -> bool:
        """Pack whole groups into transactions (a barrier alone) and persist + send each."""
        moved = False
        i = 0
        while i < len(groups) and len(self.flights) < self.max_in_flight:
            head = groups[i]
            if (_has_close(head) or _is_barrier(head) or head[0].group == self.split_group) and not self._at_head(head):
                # a barrier goes alone once everything before it is done; a close_order refunds
                # what is left in escrow, so only once every fill before it settled (a fill retried
                # after it would find the order gone); the rest of a split group follows its first part
                return moved
            if head[-1].seq > self.highest_allowed():
                return moved
            # The candidates: whole groups in seq order, as far as the rules allow; then the
            # longest prefix of them that fits one transaction (bytes, trace, accounts).
            built: dict[int, Built] = {}
            candidates: list[list[O.OutboxRecord]] = []
            count = 0
            for g in groups[i:]:
                if candidates and (_is_barrier(g) or _is_barrier(candidates[0]) or g[-1].seq > self.highest_allowed()
                                   or count + len(g) > self.max_records_per_tx or (resign and self.one_group_per_tx)
                                   or (_has_close(g) and not self._at_head(candidates[0]))):
                    break
                try:
                    parts = {r.seq: self._build(r) for r in g}
                except OrderUnknown as exc:
                    if not candidates:
                        return await self._unbuildable(g, exc) or moved
                    break
                candidates.append(g)
                built.update(parts)
                count += len(g)
            await self.mapper.setup([r for g in candidates for r in g])
            if self.builder.use_lookup_tables and self.stream != O.EXCHANGE_STREAM:
                await self.builder.ensure_table(self.stream, [m.pubkey for b in built.values() for ins in b.instructions
                                                              for m in ins.accounts if not m.is_signer
                                                              and m.pubkey not in self.builder.static_keys(self.stream)])
            take = self._longest_fit(candidates, built)
            taken, split = await self._persist_and_send(candidates[:max(take, 1)], built, resign=resign)
            moved = True
            if split:
                return moved  # the rest of that group goes once this part landed
            i += taken
            if _is_barrier(candidates[0]):
                return moved
        return moved

    def _fits(self, records: list[O.OutboxRecord], built: dict[int, Built]) -> bool:
        return self.builder.fits(self.stream, self.mapper.plan(records, built))

    def _longest_fit(self, groups: list[list[O.OutboxRecord]], built: dict[int, Built]) -> int:
        """How many of `groups` (a prefix) fit one transaction; 0 if not even the first does.
        A prefix that fits stays fitting when shortened, so a binary search finds it in a few compiles."""
        flat = lambda k: [r for g in groups[:k] for r in g]  # noqa: E731
        if self._fits(flat(len(groups)), built):
            return len(groups)
        low, high = 0, len(groups)  # fits(low) (0 trivially), not fits(high)
        while high - low > 1:
            mid = (low + high) // 2
            if self._fits(flat(mid), built):
                low = mid
            else:
                high = mid
        return low

    async def _persist_and_send(self, batch: list[list[O.OutboxRecord]], built: dict[int, Built], *,
                                resign: bool) -> tuple[int, bool]:
        """Build the transaction of `batch` (whole groups that fit, or one group too large for a
        transaction: its longest prefix); persist; send. Returns (groups taken, whether the one
        group was too large and only its first part went)."""
        avoid: set[str] = set()
        if resign:
            for g in batch:
                for r in g:
                    avoid.update(self.store.blockhashes_of(self.stream, r.seq))
        blockhash, last_valid = await self.view.blockhash(avoid)
        recs = [r for g in batch for r in g]
        split = False
        if len(batch) == 1 and not self._fits(recs, built):
            # One group larger than a transaction: split it in seq order, each part sent alone
            # after the previous landed. The outbox orders a group so that custody never runs
            # short part way (mint first, then fills, merge last), so applying it in consecutive
            # parts is equivalent.
            low, high = 0, len(recs)
            while high - low > 1:
                mid = (low + high) // 2
                if self._fits(recs[:mid], built):
                    low = mid
                else:
                    high = mid
            if low < 1:
                raise TooLarge(f"seq {recs[0].seq} ({recs[0].kind}) alone does not fit a transaction")
            recs, split = recs[:low], True
        tx = await self.builder.build(self.stream, self.mapper.plan(recs, built), blockhash)
        seqs = [r.seq for r in recs]
        if split:
            self.split_group = batch[0][0].group
        elif batch[0][0].group == self.split_group:
            self.split_group = None
        raw = bytes(tx)
        attempt = self.store.attempts_of(self.stream, seqs[0]) + 1 if resign else 1
        row_id = await asyncio.to_thread(self.store.insert_tx, self.stream, seqs, str(tx.signatures[0]), str(blockhash),
                                         last_valid, raw, attempt=attempt)
        f = Flight(row_id, seqs, tx.signatures[0], raw, str(blockhash), last_valid, attempt)
        self._track(f)
        for s in seqs:
            self.resign.discard(s)
            self.blocked.pop(s, None)
        self._place(seqs)
        try:
            await self._send(f)
        except Exception as exc:  # the row is persisted: the next poll resends it
            log.debug("%s: send failed (%s); it will be resent", self.stream, exc)
        return len(batch), split

    async def _unbuildable(self, group: list[O.OutboxRecord], exc: OrderUnknown) -> bool:
        """A record names a wallet order the chain does not show. Not at the head: wait (it may
        still appear). At the head, with the order gone: a settle_fill is reverted, a close_order
        has nothing left to refund."""
        self.stats.last_error = f"wallet order {exc} not on chain"
        rec = next(r for r in group if isinstance(r.record, (O.SettleFill, O.CloseOrder)) and self.mapper.order(r.record.wallet_order) is None)
        # at the head: nothing before its group is still open (its group's own records go after the revert)
        at_head = not self.flights and all(s in self.done for s in range(self.floor + 1, group[0].seq))
        if at_head and not await self.mapper.order_exists(rec.record.wallet_order):
            if isinstance(rec.record, O.SettleFill):
                self._revert(rec, "wallet order closed on chain (force_close) before this fill settled")
            else:
                self._skip(rec.seq, "wallet order already closed on chain: nothing left to refund")
            return True
        await self.mapper.prepare(group)  # read it again next time round
        return False

    def _revert(self, rec: O.OutboxRecord, reason: str) -> None:
        current = self.reader.get(self.stream, rec.seq)
        if current.status != O.REVERTED:
            self.reader.revert_settle_fill(self.stream, rec.seq, reason)
        self.store.insert_tx(self.stream, [rec.seq], None, None, None, None, status=S.REVERTED, error=reason)
        self.blocked.pop(rec.seq, None)
        self.resign.discard(rec.seq)
        self.done.add(rec.seq)
        self._place([rec.seq])
        self._advance_floor()
        self.stats.reverted += 1
        log.warning("%s: settle_fill seq %s reverted: %s", self.stream, rec.seq, reason)

    async def _late_landings(self, seq: int) -> bool:
        """Did an earlier transaction of this seq, once judged expired, land after all? (Seen
        under heavy load on localnet: a re-signed merge then fails with InsufficientBalance,
        because its effect is already there.) Such a row is landed: its seqs are applied."""
        healed = False
        rows = [r for r in self.store.rows_after(self.stream, seq - 1) if seq in r.seqs and r.status == S.EXPIRED and r.signature]
        if not rows:
            return False
        statuses = (await self.rpc.get_signature_statuses([Signature.from_string(r.signature) for r in rows],
                                                          search_transaction_history=True)).value
        for row, st in zip(rows, statuses):
            if st is None or st.err is not None:
                continue
            fresh = [s for s in row.seqs if s not in self.done]
            log.warning("%s: transaction %s (seqs %s..%s) judged expired has landed at slot %s", self.stream,
                        row.signature, row.seqs[0], row.seqs[-1], st.slot)
            self.reader.mark_applied(self.stream, fresh, row.signature, st.slot)
            self.store.set_status(row.id, S.LANDED, slot=st.slot, error="landed after it was judged expired")
            for s in fresh:
                self.blocked.pop(s, None)
                self.resign.discard(s)
                self.done.add(s)
            healed = True
        self._advance_floor()
        return healed

    async def _resolve_head(self) -> bool:
        """The head of the stream failed with nothing before it in flight: a refusal for good?"""
        head = min(self.blocked)
        if await self._late_landings(head):
            return True
        rec = self.records[head]
        failure = self.blocked[head]
        if rec.kind in BARRIERS and await self.builder.already_applied(rec.record):
            self._skip(head, f"chain already shows {rec.kind}")
            return True
        target = self.records.get(failure.failing_seq) if failure.failing_seq is not None else None
        if target is not None and target.seq in self.blocked and isinstance(target.record, O.SettleFill) and (
                failure.name == "OrderIdMismatch" or not await self.mapper.order_exists(target.record.wallet_order)):
            self._revert(target, f"program refused the fill for good: {failure.name}")
            for s in [s for s, f in self.blocked.items() if f is failure]:  # the rest of its transaction: send again now
                del self.blocked[s]
                self.resign.add(s)
            return True
        log.warning("%s: seq %s refused at the head of the stream (%s); retrying", self.stream, head, failure.message)
        return False

    def _skip(self, seq: int, reason: str) -> None:
        """A record the chain needs nothing for (its effect is there already)."""
        self.reader.mark_applied(self.stream, [seq], "", 0)
        self.store.insert_tx(self.stream, [seq], None, None, None, None, status=S.SKIPPED, error=reason)
        self.blocked.pop(seq, None)
        self.resign.discard(seq)
        self.done.add(seq)
        self._place([seq])
        self._advance_floor()

    async def _load(self, seqs: list[int]) -> None:
        """The records of these seqs (after a restart they are read back from the outbox)."""
        missing = sorted(s for s in seqs if s not in self.records)
        if not missing:
            return
        after = missing[0] - 1
        while missing and after < missing[-1]:
            page = self.reader.pending(self.stream, after_seq=after, limit=256)
            if not page:
                break
            for r in page:
                self.records[r.seq] = r
            after = page[-1].seq
            missing = [s for s in missing if s not in self.records]
        if missing:
            # no longer pending in the exchange: applied or reverted there already
            for s in missing:
                got = self.reader.get(self.stream, s)
                self.records[s] = got
        await self.mapper.prepare([self.records[s] for s in seqs])

    # ------------------------------------------------------------------ finality
    async def _finality(self) -> None:
        """Report finalized transactions (a withdrawal's status becomes finalized): one status
        read and one write of each kind per round, whatever the number of transactions."""
        now = time.monotonic()
        if not self.finalizing or now - self._last_final_check < 1.0:
            return
        self._last_final_check = now
        items = list(self.finalizing.items())[:256]
        statuses = (await self.rpc.get_signature_statuses([Signature.from_string(sig) for _, (_, sig) in items])).value
        final = [(row_id, seqs) for (row_id, (seqs, _sig)), st in zip(items, statuses)
                 if st is not None and st.confirmation_status is not None and int(st.confirmation_status) >= 2]
        if not final:
            return
        def record() -> None:
            if hasattr(self.reader, "mark_finalized"):
                self.reader.mark_finalized(self.stream, [s for _, seqs in final for s in seqs])
            self.store.set_statuses([row_id for row_id, _ in final], S.FINAL)

        await asyncio.to_thread(record)
        for row_id, _ in final:
            del self.finalizing[row_id]

    # ------------------------------------------------------------------ status
    def snapshot(self, outbox_last: int) -> dict:
        return {
            "stream": self.stream,
            "pending": max(0, outbox_last - self.floor - len(self.done)),
            "in_flight_txs": len(self.flights),
            "in_flight_seqs": self.in_flight_seqs(),
            "applied_seq": self.floor,
            "landed_txs": self.stats.landed_txs,
            "landed_seqs": self.stats.landed_seqs,
            "sends": self.stats.sends,
            "expired": self.stats.expired_txs,
            "failed": self.stats.failed_txs,
            "reverted": self.stats.reverted,
            "blocked": len(self.blocked),
            "last_error": self.stats.last_error,
        }


class _Refusal:
    """A preflight refusal: the transaction error and the simulation's logs."""

    def __init__(self, err: Any, logs: list[str]) -> None:
        self.err = err
        self.logs = logs

    def __str__(self) -> str:
        return str(self.err)


def _is_blockhash_error(err: Any) -> bool:
    return err == TransactionErrorFieldless.BlockhashNotFound or "BlockhashNotFound" in str(err)


def _window_status(window, seq: int, bits: int) -> str:
    """applied | open | expired, as the program's ReplayWindow::status says."""
    highest = window.highest
    if seq > highest:
        return "open"
    offset = highest - seq
    if offset >= bits:
        return "expired"
    return "applied" if window.bitmap[offset // 64] >> (offset % 64) & 1 else "open"


def _is_barrier(group: list[O.OutboxRecord]) -> bool:
    return any(r.kind in BARRIERS for r in group)


def _has_close(group: list[O.OutboxRecord]) -> bool:
    return any(r.kind == "close_order" for r in group)


def _groups(records: list[O.OutboxRecord]) -> list[list[O.OutboxRecord]]:
    out: list[list[O.OutboxRecord]] = []
    index: dict[str, list[O.OutboxRecord]] = {}
    for r in records:
        g = index.get(r.group)
        if g is None or g is not out[-1]:
            g = index[r.group] = []
            out.append(g)
        g.append(r)
    return out
