"""FIX framing and encoding on `simplefix`.

simplefix parses fields and encodes messages (BodyLength and CheckSum computed), but it
takes a message to end at the first `10=` it meets and checks neither BodyLength nor
CheckSum. The gateway must refuse both lies, so framing is done here: a frame is
`8=FIXT.1.1|9=N|` + N bytes + `10=ccc|`, where the N bytes must end exactly at the first
`|10=ccc|` and ccc must be the byte sum modulo 256. Only a frame that passes is handed to
simplefix to split into fields.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import simplefix

SOH = b"\x01"
BEGIN_STRING = b"FIXT.1.1"
_BEGIN = b"8=FIXT.1.1\x019="
MAX_BODY = 64 * 1024  # far above any message the gateway accepts; a larger claim is a lie
_LENGTH = re.compile(rb"(\d{1,6})\x01")
_TRAILER = re.compile(rb"\x0110=(\d{3})\x01")


class Garbled(Exception):
    """Bytes that are not a well-formed FIXT.1.1 frame (bad start, length or checksum)."""


@dataclass(slots=True)
class Frame:
    raw: bytes  # the whole frame as received
    message: simplefix.FixMessage


def checksum(data: bytes) -> int:
    return sum(data) % 256


class Framer:
    """Cuts a byte stream into checked frames. `feed` then `next_frame` until it returns None;
    a Garbled error has already dropped the bad bytes (up to the next `8=FIXT.1.1`)."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data

    def _drop_to_next_start(self) -> None:
        nxt = self.buf.find(b"8=FIXT.1.1\x01", 1)
        self.buf = self.buf[nxt:] if nxt >= 0 else b""

    def next_frame(self) -> Frame | None:
        buf = self.buf
        if not buf:
            return None
        if not buf.startswith(_BEGIN):
            if _BEGIN.startswith(buf[: len(_BEGIN)]) and len(buf) < len(_BEGIN):
                return None  # a start still arriving
            self._drop_to_next_start()
            raise Garbled("does not start with 8=FIXT.1.1|9=")
        m = _LENGTH.match(buf, len(_BEGIN))
        if m is None:
            if len(buf) < len(_BEGIN) + 7 and buf[len(_BEGIN):].isdigit():
                return None
            self._drop_to_next_start()
            raise Garbled("BodyLength (9) is not a number")
        body_start = m.end()
        claimed = int(m.group(1))
        if claimed > MAX_BODY:
            self._drop_to_next_start()
            raise Garbled(f"BodyLength {claimed} is over {MAX_BODY}")
        # The real end of the message is its first CheckSum field; it must be where BodyLength says.
        trailer = _TRAILER.search(buf, body_start - 1)
        if trailer is None:
            if len(buf) - body_start > MAX_BODY + 8:
                self._drop_to_next_start()
                raise Garbled("no CheckSum (10) field")
            return None
        actual = trailer.start() + 1 - body_start
        if actual != claimed:
            self.buf = buf[trailer.end():]
            raise Garbled(f"BodyLength says {claimed} bytes, the body has {actual}")
        end = trailer.end()
        raw = buf[:end]
        self.buf = buf[end:]
        if int(trailer.group(1)) != checksum(raw[: trailer.start() + 1]):
            raise Garbled(f"CheckSum {trailer.group(1).decode()} is wrong (bytes sum to {checksum(raw[: trailer.start() + 1]):03d})")
        parser = simplefix.FixParser()
        parser.append_buffer(raw)
        message = parser.get_message()
        if message is None:  # cannot happen for a frame that passed the checks above
            raise Garbled("unparseable")
        return Frame(raw, message)


def utc_timestamp(ts: float | None = None) -> bytes:
    """FIX UTCTimestamp with milliseconds: 20260101-12:00:00.000."""
    dt = datetime.now(timezone.utc) if ts is None else datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y%m%d-%H:%M:%S.").encode() + f"{dt.microsecond // 1000:03d}".encode()


def parse_utc_timestamp(value: bytes) -> float:
    """Seconds since the epoch of a UTCTimestamp (seconds, milli, micro or nano precision)."""
    text = value.decode("ascii")
    head, _, frac = text.partition(".")
    dt = datetime.strptime(head, "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)
    if frac and not frac.isdigit():
        raise ValueError(text)
    return dt.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


def get(message: simplefix.FixMessage, tag: int) -> bytes | None:
    return message.get(tag)


def fields(message: simplefix.FixMessage) -> list[tuple[int, bytes]]:
    return [(int(t), v) for t, v in message.pairs]
