"""Following the program's transactions gap-free at one commitment (getSignaturesForAddress + getTransaction).

The caller owns the durable checkpoint (the newest transaction it has stored, as
`Checkpoint(slot, signature)`) and hands it in; the follower yields every later
transaction of the program visible at the commitment, oldest first, with its decoded
events and the top-level instruction each came from. Nothing is ever skipped: a read
that fails (RPC error, or a transaction the node lists but cannot serve yet) stops the
pass right there, and the next pass starts again after the last transaction yielded.
So a caller that stores each batch and its checkpoint in one database transaction
neither loses nor repeats a transaction across crashes, downtime or RPC hiccups.

Backfill after downtime is the same pass: signatures are paged newest-first with
`before` down to the checkpoint (`until`), then replayed oldest-first.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Sequence

from anchorpy.program.common import Event
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed, Finalized
from solders.pubkey import Pubkey
from solders.signature import Signature

from chain.events import EventDecoder, account_keys, instruction_indexes, program_ids, top_level_segments
from chain.idl import load_modern

log = logging.getLogger(__name__)

PAGE_LIMIT = 1000  # getSignaturesForAddress's maximum page


class FollowError(Exception):
    """A read failed; everything before it was yielded, nothing after it."""


@dataclass(frozen=True)
class Checkpoint:
    """The newest transaction the caller has stored (base58 signature)."""

    slot: int
    signature: str


@dataclass(frozen=True)
class ProgramEvent:
    """One event the program emitted: `instruction_index` is the top-level instruction of the
    transaction it came from, `event_index` its position among that instruction's events."""

    instruction_index: int
    event_index: int
    name: str
    data: Any  # anchorpy's decoded container (attributes = the IDL's fields)
    fields: dict[str, Any]  # the same, JSON-ready: pubkeys base58, enums by variant name, byte arrays hex


@dataclass(frozen=True)
class FollowedTx:
    slot: int
    signature: str
    block_time: int | None
    failed: bool  # a failed transaction changed nothing and carries no events
    events: tuple[ProgramEvent, ...]

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.slot, self.signature)


@dataclass(frozen=True)
class Batch:
    """Consecutive transactions, oldest first. `checkpoint` is the last one's (or the one the pass
    started from when empty). `synced_slot` is set on the batch that ends a pass: every program
    transaction at a slot <= synced_slot (at this commitment) has now been yielded."""

    txs: tuple[FollowedTx, ...]
    checkpoint: Checkpoint | None
    synced_slot: int | None = None

    @property
    def events(self) -> list[tuple[FollowedTx, ProgramEvent]]:
        return [(tx, ev) for tx in self.txs for ev in tx.events]


# -- decoding --------------------------------------------------------------------------------


# the log splitter lives with the decoder (chain/events.py); these names are kept for callers
_top_level_segments = top_level_segments
_instruction_indexes = instruction_indexes


class _Plain:
    """Anchor event values -> JSON-ready values, guided by the IDL's field types."""

    def __init__(self) -> None:
        modern = load_modern()
        types = {t["name"]: t["type"] for t in modern.get("types", [])}
        self._types = types
        self._fields = {e["name"]: types.get(e["name"], {}).get("fields", []) for e in modern.get("events", [])}

    def event(self, name: str, data: Any) -> dict[str, Any]:
        return {f["name"]: self.value(getattr(data, f["name"]), f["type"]) for f in self._fields.get(name, [])}

    def value(self, value: Any, ty: Any) -> Any:
        if isinstance(value, Pubkey):
            return str(value)
        if isinstance(ty, dict):
            if "array" in ty and ty["array"][0] == "u8":
                return bytes(value).hex()
            if "defined" in ty:
                name = ty["defined"]["name"] if isinstance(ty["defined"], dict) else ty["defined"]
                defined = self._types.get(name, {})
                if defined.get("kind") == "enum":
                    return type(value).__name__
                return {f["name"]: self.value(getattr(value, f["name"]), f["type"]) for f in defined.get("fields", [])}
            if "vec" in ty or "array" in ty:
                inner = ty.get("vec") or ty["array"][0]
                return [self.value(v, inner) for v in value]
            if "option" in ty:
                return None if value is None else self.value(value, ty["option"])
        if isinstance(value, bytes):
            return value.hex()
        return value


def decode_transaction_events(decoder: EventDecoder, plain: "_Plain", logs: Sequence[str],
                              program_ids: Sequence[str] | None = None, inner_instructions: Any = None,
                              keys: Sequence[str] = ()) -> tuple[ProgramEvent, ...]:
    """The program's events of one transaction with their top-level instruction index, from its
    logs (emit!) and its inner instructions (emit_cpi!); `program_ids`: the program of each
    instruction of the message, in order; `keys`: the account list inner instructions index."""
    out: list[ProgramEvent] = []
    for ix_index, events in decoder.by_instruction(logs, inner_instructions, keys, program_ids).items():
        for ev_index, ev in enumerate(events):
            out.append(ProgramEvent(ix_index, ev_index, ev.name, ev.data, plain.event(ev.name, ev.data)))
    return tuple(out)


def _program_ids(tx: Any, keys: Sequence[str] | None = None) -> list[str] | None:
    """The program of each top-level instruction of a transaction as getTransaction (json) serves it."""
    return program_ids(getattr(tx, "message", None), keys)


# -- following -------------------------------------------------------------------------------


class ProgramFollower:
    """Follows one program at one commitment (`confirmed` or `finalized`).

    Make one per commitment; `from_client` takes the RPC connection and program of a
    `chain.client.ChainClient`.
    """

    def __init__(
        self,
        rpc: AsyncClient,
        program_id: Pubkey,
        decoder: EventDecoder,
        *,
        commitment: Commitment = Finalized,
        page_limit: int = PAGE_LIMIT,
        concurrency: int = 16,
        max_batch: int = 256,
    ) -> None:
        if commitment not in (Confirmed, Finalized):
            raise ValueError("getTransaction serves only confirmed or finalized transactions")
        self.rpc = rpc
        self.program_id = program_id
        self.commitment = commitment
        self.page_limit = page_limit
        self.concurrency = concurrency
        self.max_batch = max_batch
        self._decoder = decoder
        self._plain = _Plain()

    @classmethod
    def from_client(cls, client: Any, commitment: Commitment = Finalized, **kw: Any) -> "ProgramFollower":
        return cls(client.rpc, client.program_id, EventDecoder(client.program), commitment=commitment, **kw)

    async def _signatures_after(self, after: Checkpoint | None) -> list[tuple[int, str]]:
        """(slot, signature) of every program transaction newer than `after`, oldest first."""
        until = Signature.from_string(after.signature) if after else None
        newest_first: list[tuple[int, str]] = []
        before: Signature | None = None
        while True:
            page = (
                await self.rpc.get_signatures_for_address(
                    self.program_id, before=before, until=until, limit=self.page_limit, commitment=self.commitment
                )
            ).value
            for entry in page:
                # `until` names the checkpoint; a node that no longer has it in its history would
                # page on past it, so the slot bounds the walk as well.
                if after is not None and entry.slot < after.slot:
                    page = []
                    break
                newest_first.append((entry.slot, str(entry.signature)))
            if len(page) < self.page_limit:
                break
            before = page[-1].signature
        newest_first.reverse()
        return newest_first

    async def _read(self, slot: int, signature: str) -> FollowedTx:
        resp = await self.rpc.get_transaction(
            Signature.from_string(signature), commitment=self.commitment, max_supported_transaction_version=0
        )
        if resp.value is None:
            raise FollowError(f"{signature} (slot {slot}) is listed at {self.commitment} but getTransaction returned nothing")
        meta = resp.value.transaction.meta
        if meta is None:
            raise FollowError(f"{signature} (slot {slot}) has no status meta")
        failed = meta.err is not None
        message = getattr(resp.value.transaction.transaction, "message", None)
        keys = account_keys(message, meta)
        events = () if failed else decode_transaction_events(self._decoder, self._plain, list(meta.log_messages or []),
                                                             program_ids(message, keys), meta.inner_instructions, keys)
        return FollowedTx(resp.value.slot, signature, resp.value.block_time, failed, events)

    async def pass_once(self, after: Checkpoint | None) -> AsyncIterator[Batch]:
        """One catch-up pass: every transaction after `after`, oldest first, in batches of at most
        `max_batch`; the last batch (possibly empty) carries `synced_slot`.

        Raises `FollowError` at the first failed read, after yielding every batch before it.
        """
        try:
            # Read the slot first: everything listed afterwards includes every transaction up to it.
            head = (await self.rpc.get_slot(commitment=self.commitment)).value
            pending = await self._signatures_after(after)
        except FollowError:
            raise
        except Exception as exc:
            raise FollowError(f"listing signatures after {after}: {exc!r}") from exc
        checkpoint = after
        for start in range(0, len(pending), self.max_batch):
            chunk = pending[start : start + self.max_batch]
            txs = await self._read_chunk(chunk)
            if txs:
                checkpoint = txs[-1].checkpoint
            if len(txs) < len(chunk):
                if txs:
                    yield Batch(tuple(txs), checkpoint)
                raise FollowError(f"reading {chunk[len(txs)][1]} (slot {chunk[len(txs)][0]}): {self._last_error!r}")
            last = start + self.max_batch >= len(pending)
            yield Batch(tuple(txs), checkpoint, synced_slot=head if last else None)
        if not pending:
            yield Batch((), checkpoint, synced_slot=head)

    async def _read_chunk(self, chunk: list[tuple[int, str]]) -> list[FollowedTx]:
        """Read `chunk` concurrently; returns its longest fully read prefix (oldest first)."""
        self._last_error: BaseException | None = None
        gate = asyncio.Semaphore(self.concurrency)

        async def one(slot: int, sig: str) -> FollowedTx:
            async with gate:
                return await self._read(slot, sig)

        results = await asyncio.gather(*(one(s, sig) for s, sig in chunk), return_exceptions=True)
        out: list[FollowedTx] = []
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancellation, KeyboardInterrupt
                self._last_error = result
                break
            out.append(result)
        return out

    async def follow(self, after: Checkpoint | None, *, interval: float = 0.4) -> AsyncIterator[Batch]:
        """Passes forever, `interval` seconds apart. A failed read is logged and the next pass
        resumes after the last transaction yielded (the caller must have stored each batch
        before asking for the next, as an `async for` body does)."""
        checkpoint = after
        while True:
            try:
                async for batch in self.pass_once(checkpoint):
                    checkpoint = batch.checkpoint
                    yield batch
            except FollowError as exc:
                log.warning("follower (%s): %s; retrying from %s", self.commitment, exc, checkpoint)
            await asyncio.sleep(interval)


__all__ = ["Batch", "Checkpoint", "FollowError", "FollowedTx", "ProgramEvent", "ProgramFollower", "decode_transaction_events"]
