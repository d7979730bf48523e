"""Anchor events of the program, from wherever a transaction carries them: one decoder.

- `emit!` writes "Program data: <base64>" log lines (what the program did before v1.2, and
  what a simulation's logs still show of it);
- `emit_cpi!` makes the program invoke itself with instruction data
  EVENT_IX_TAG_LE ++ event discriminator ++ borsh fields: the event is an inner instruction of
  the transaction (meta.innerInstructions), never truncated the way logs are past 10 kB.

Both decode to the same anchorpy `Event`s (name + data), in emission order per top-level
instruction. An inner instruction counts as an event only if its program is ours and its data
starts with the tag: Anchor's handler of that instruction checks that the program's event
authority PDA signed it, which only the program itself can do, so another program cannot forge
one (the transaction would fail, and failed transactions carry no events); its one account must be
that event authority too.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Sequence

from anchorpy import Program
from anchorpy.program.common import Event
from anchorpy.program.event import EventParser
from based58 import b58decode
from solders.pubkey import Pubkey

PROGRAM_LOG = "Program log: "
PROGRAM_DATA = "Program data: "
# anchor_lang::event::EVENT_IX_TAG (0x1d9acb512ea545e4), little endian: the first 8 bytes of an emit_cpi! instruction
EVENT_IX_TAG_LE = (0x1D9ACB512EA545E4).to_bytes(8, "little")


class EventDecoder:
    """Decodes the program's events from logs and from inner instructions.

    Logs: anchorpy's parser tracks which program is executing (so another program's data
    lines inside a CPI are not mistaken for ours). "Program log:" lines never carry events and
    are dropped first, so free text is never base64-decoded by accident; data lines that cannot
    be one of our events (not base64, or no known discriminator) are dropped too. Data with a
    known discriminator that fails to decode raises: the IDL and the program disagree.
    """

    def __init__(self, program: Program) -> None:
        self.program_id = program.program_id
        self._program_id = str(program.program_id)
        # the one account of an emit_cpi! instruction: the PDA only the program can sign for
        self.event_authority = str(Pubkey.find_program_address([b"__event_authority"], program.program_id)[0])
        self._coder = program.coder.events
        self._parser = EventParser(program.program_id, program.coder)
        self._discriminators = set(program.coder.events.discriminators)

    # -- logs (emit!) -----------------------------------------------------------------------
    def _may_be_event(self, line: str) -> bool:
        if line.startswith(PROGRAM_LOG):
            return False
        if not line.startswith(PROGRAM_DATA):
            return True  # invoke/success/failed lines: the parser needs them to track the stack
        try:
            raw = base64.b64decode(line[len(PROGRAM_DATA):], validate=True)
        except binascii.Error:
            return False
        return raw[:8] in self._discriminators

    def decode(self, logs: Sequence[str]) -> list[Event]:
        """The events `emit!` wrote into these logs, in order."""
        lines = [line for line in logs if self._may_be_event(line)]
        if not lines:
            return []
        events: list[Event] = []
        self._parser.parse_logs(lines, lambda event: events.append(event) if event is not None else None)
        return events

    # -- inner instructions (emit_cpi!) ---------------------------------------------------
    def decode_cpi(self, data: bytes) -> Event | None:
        """The event an inner instruction of our program carries (None: not an event)."""
        if data[:8] != EVENT_IX_TAG_LE or data[8:16] not in self._discriminators:
            return None
        event = self._coder.parse(data[8:])
        if event is None:
            raise ValueError(f"event data with discriminator {data[8:16].hex()} does not decode")
        return event

    def inner_events(self, inner_instructions: Any, account_keys: Sequence[str]) -> dict[int, list[Event]]:
        """Events in a transaction's inner instructions, by top-level instruction index.

        `inner_instructions`: meta.innerInstructions as solders parses getTransaction's json
        encoding (UiInnerInstructions: index, instructions with program_id_index and base58
        data); `account_keys`: the message's keys followed by the addresses its lookup tables
        loaded (writable, then readonly), which program_id_index points into."""
        out: dict[int, list[Event]] = {}
        for group in inner_instructions or ():
            for inner in group.instructions:
                index = getattr(inner, "program_id_index", None)
                if index is None or index >= len(account_keys) or account_keys[index] != self._program_id:
                    continue
                accounts = bytes(getattr(inner, "accounts", b"") or b"")
                if not accounts or accounts[0] >= len(account_keys) or account_keys[accounts[0]] != self.event_authority:
                    continue  # not an event instruction (a plain self-CPI)
                event = self.decode_cpi(_data_bytes(inner.data))
                if event is not None:
                    out.setdefault(group.index, []).append(event)
        return out

    def by_instruction(self, logs: Sequence[str], inner_instructions: Any = None, keys: Sequence[str] = (),
                       program_ids: Sequence[str] | None = None) -> dict[int, list[Event]]:
        """Events of one transaction by top-level instruction index, each instruction's in emission
        order: its emit! log events, then its emit_cpi! events (the program uses one or the other)."""
        by_ix: dict[int, list[Event]] = {}
        segments = top_level_segments(logs)
        for ix, (_, segment) in zip(instruction_indexes(segments, program_ids), segments):
            events = self.decode(segment)
            if events:
                by_ix.setdefault(ix, []).extend(events)
        for ix, events in self.inner_events(inner_instructions, keys).items():
            by_ix.setdefault(ix, []).extend(events)
        return dict(sorted(by_ix.items()))

    def transaction_events(self, meta: Any, message: Any) -> list[Event]:
        """Every event of one transaction as getTransaction (json encoding) serves it, in order."""
        if meta is None:
            return []
        keys = account_keys(message, meta)
        by_ix = self.by_instruction(list(meta.log_messages or []), meta.inner_instructions, keys, program_ids(message, keys))
        return [e for events in by_ix.values() for e in events]


# -- logs split by top-level instruction -------------------------------------------------------

_INVOKE = re.compile(r"^Program (\S+) invoke \[\d+\]$")
_DONE = re.compile(r"^Program (\S+) (success$|failed)")


def top_level_segments(logs: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(program id, log lines) of each top-level instruction that logged, in order.

    Depth is counted from invoke/success/failed lines, not from the "[n]" a line prints:
    solana-program-test's native mode writes a native program's invoke and success lines twice
    and numbers a native program's CPIs from 1, while pushes and pops still pair up."""
    segments: list[tuple[str, list[str]]] = []
    depth = 0
    for line in logs:
        invoke = _INVOKE.match(line)
        if invoke and depth == 0:
            segments.append((invoke.group(1), []))
        if segments:
            segments[-1][1].append(line)
        if invoke:
            depth += 1
        elif _DONE.match(line):
            depth = max(0, depth - 1)
    return segments


def instruction_indexes(segments: list[tuple[str, list[str]]], program_ids: Sequence[str] | None) -> list[int]:
    """The message index of each segment. Instructions that log nothing (precompiles such as the
    ed25519 program) are skipped by matching each segment to the next instruction of its program."""
    if program_ids is None:
        return list(range(len(segments)))
    out, k = [], 0
    for program, _ in segments:
        while k < len(program_ids) and program_ids[k] != program:
            k += 1
        out.append(k if k < len(program_ids) else len(out))
        k += 1
    return out


def _data_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    try:
        return b58decode(str(data).encode())
    except Exception:
        return b""


def account_keys(message: Any, meta: Any = None) -> list[str]:
    """The transaction's account list as instructions index it: static keys, then the addresses
    loaded from lookup tables (writable, then readonly)."""
    keys = [str(k) for k in (getattr(message, "account_keys", None) or [])]
    loaded = getattr(meta, "loaded_addresses", None) if meta is not None else None
    if loaded is not None:
        keys += [str(k) for k in (loaded.writable or [])] + [str(k) for k in (loaded.readonly or [])]
    return keys


def program_ids(message: Any, keys: Sequence[str] | None = None) -> list[str] | None:
    """The program of each top-level instruction of a message as getTransaction (json) serves it."""
    instructions = getattr(message, "instructions", None)
    keys = list(keys) if keys is not None else account_keys(message)
    if not keys or instructions is None:
        return None
    try:
        return [keys[i.program_id_index] for i in instructions]
    except (AttributeError, IndexError):
        return None
