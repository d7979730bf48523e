"""Events from inner instructions (emit_cpi!) and from logs (emit!), through one decoder (no chain needed)."""
from __future__ import annotations

import base64
import json

from based58 import b58encode
from solders.transaction_status import UiInnerInstructions

from chain.events import EVENT_IX_TAG_LE, EventDecoder
from chain.follower import decode_transaction_events
from chain.idl import idl_from_modern

from .samples import program_for, synthetic
from .test_decoding import PID, TOKEN, event_bytes, order_placed

OTHER = "Other11111111111111111111111111111111111111"


class _NoPlain:
    """The JSON-ready view follows the real IDL; these events are the synthetic IDL's."""

    def event(self, name, data):
        return {}


AUTHORITY_INDEX = 4  # where the tests' account lists put the program's event authority


def inner(index: int, *instructions: tuple) -> UiInnerInstructions:
    """(program index, data[, account indexes]) per inner instruction; accounts default to the event authority."""
    return UiInnerInstructions.from_json(json.dumps({"index": index, "instructions": [
        {"programIdIndex": i[0], "accounts": list(i[2]) if len(i) > 2 else [AUTHORITY_INDEX], "data": b58encode(i[1]).decode(),
         "stackHeight": 2} for i in instructions]}))


def test_cpi_events_by_top_level_instruction_only_ours_and_only_tagged():
    program = program_for(idl_from_modern(synthetic()), PID)
    decoder = EventDecoder(program)
    ev = [base64.b64decode(event_bytes(program, "OrderPlaced", order_placed(program, n))) for n in (1, 2, 3)]
    keys = ["Payer111111111111111111111111111111111111111", PID, TOKEN, OTHER, decoder.event_authority]
    groups = [
        inner(0, (2, b"\x03" + bytes(8)), (1, EVENT_IX_TAG_LE + ev[0]), (1, EVENT_IX_TAG_LE + ev[1])),
        inner(2, (3, EVENT_IX_TAG_LE + ev[2]),  # another program's data with the tag: not ours
              (1, ev[2]),  # ours, untagged: an ordinary self-CPI, not an event
              (1, EVENT_IX_TAG_LE + bytes(8) + b"x"),  # tagged, unknown discriminator
              (1, EVENT_IX_TAG_LE + ev[1], [0]),  # tagged, ours, but not carrying the event authority
              (1, EVENT_IX_TAG_LE + ev[2])),
    ]
    by_ix = decoder.inner_events(groups, keys)
    assert {i: [e.data.params.limit_price for e in evs] for i, evs in by_ix.items()} == {0: [1, 2], 2: [3]}
    got = decode_transaction_events(decoder, _NoPlain(), [], [PID, TOKEN, PID], groups, keys)
    assert [(e.instruction_index, e.event_index, e.data.params.limit_price) for e in got] == [(0, 0, 1), (0, 1, 2), (2, 0, 3)]


def test_a_known_discriminator_that_does_not_decode_raises():
    program = program_for(idl_from_modern(synthetic()), PID)
    decoder = EventDecoder(program)
    good = base64.b64decode(event_bytes(program, "OrderPlaced", order_placed(program, 1)))
    try:
        decoder.decode_cpi(EVENT_IX_TAG_LE + good[:12])
    except Exception:
        pass
    else:
        raise AssertionError("a truncated event decoded")


def test_logs_and_inner_instructions_together_keep_instruction_order():
    """A transaction mixing an emit! instruction (logs) and an emit_cpi! one (inner instructions)."""
    program = program_for(idl_from_modern(synthetic()), PID)
    decoder = EventDecoder(program)
    logged = event_bytes(program, "OrderPlaced", order_placed(program, 7))
    cpi = base64.b64decode(event_bytes(program, "OrderPlaced", order_placed(program, 8)))
    logs = [f"Program {PID} invoke [1]", f"Program {PID} success",
            f"Program {PID} invoke [1]", f"Program data: {logged}", f"Program {PID} success"]
    keys = ["Payer111111111111111111111111111111111111111", PID, TOKEN, OTHER, decoder.event_authority]
    got = decode_transaction_events(decoder, _NoPlain(), logs, [PID, PID], [inner(0, (1, EVENT_IX_TAG_LE + cpi))], keys)
    assert [(e.instruction_index, e.data.params.limit_price) for e in got] == [(0, 8), (1, 7)]
