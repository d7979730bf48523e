"""Anchor events from transaction logs ("Program data: <base64>" lines written by `emit!`)."""
from __future__ import annotations

import base64
import binascii

from anchorpy import Program
from anchorpy.program.common import Event
from anchorpy.program.event import EventParser

PROGRAM_LOG = "Program log: "
PROGRAM_DATA = "Program data: "


class EventDecoder:
    """Decodes the program's events from a transaction's logs, in emission order.

    anchorpy's parser tracks which program is executing (so another program's data
    lines inside a CPI are not mistaken for ours). "Program log:" lines never carry
    events and are dropped first, so free text is never base64-decoded by accident;
    data lines that cannot be one of our events (not base64, or no known discriminator)
    are dropped too. A line with a known discriminator that fails to decode raises:
    that means the IDL and the program disagree.
    """

    def __init__(self, program: Program) -> None:
        self._parser = EventParser(program.program_id, program.coder)
        self._discriminators = set(program.coder.events.discriminators)

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

    def decode(self, logs: list[str]) -> list[Event]:
        lines = [line for line in logs if self._may_be_event(line)]
        if not lines:
            return []
        events: list[Event] = []
        self._parser.parse_logs(lines, lambda event: events.append(event) if event is not None else None)
        return events
