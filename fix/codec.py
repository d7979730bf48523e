"""FIX framing, parsing and encoding: the gateway's hot path, on bytes.

A frame is `8=FIXT.1.1|9=N|` + N bytes + `10=ccc|`, where the N bytes must end exactly at
the first `|10=ccc|` and ccc must be the byte sum modulo 256. The Framer checks both (a
BodyLength or CheckSum lie is refused) with `bytes.find`, then splits the frame once on SOH
into (tag, value) pairs; the only objects per field are the pair and its value.

Encoding builds the bytes directly: a session's constant header part (`49=..|56=..|`) is
made once, a message is `35=..|` + that + `34=..|52=..|` + body, and BodyLength and CheckSum
are computed once over the finished bytes. `simplefix` (the issue's named FIX library) was
the parser and encoder before; it built a Python object per field and per header pair and
was 10-25 % of the gateway's CPU (py-spy, `bench fix`). tests/fix/test_codec.py checks that
simplefix and this codec read each other's messages field for field.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

SOH = b"\x01"
BEGIN_STRING = b"FIXT.1.1"
_BEGIN = b"8=FIXT.1.1\x019="
_BEGIN_LEN = len(_BEGIN)
_TRAILER = b"\x0110="
MAX_BODY = 64 * 1024  # far above any message the gateway accepts; a larger claim is a lie
RAW_DATA_LENGTH, RAW_DATA = 95, 96  # a data field: its value may hold SOH, its length says where it ends


class Garbled(Exception):
    """Bytes that are not a well-formed FIXT.1.1 frame (bad start, length or checksum)."""


class Message:
    """One received message: its (tag, value) pairs in order and the first value of each tag.
    `get(tag)` is simplefix's FixMessage.get for int tags (bytes or None; `nth` for repeats)."""

    __slots__ = ("raw", "pairs", "_first")

    def __init__(self, raw: bytes, pairs: list[tuple[int, bytes]]) -> None:
        self.raw = raw
        self.pairs = pairs
        first: dict[int, bytes] = {}
        for tag, value in pairs:
            if tag not in first:
                first[tag] = value
        self._first = first

    def get(self, tag: int, nth: int = 1) -> bytes | None:
        if nth == 1:
            return self._first.get(tag)
        for t, v in self.pairs:
            if t == tag:
                nth -= 1
                if nth == 0:
                    return v
        return None

    def __repr__(self) -> str:
        return self.raw.replace(SOH, b"|").decode(errors="replace")


@dataclass(slots=True)
class Frame:
    raw: bytes  # the whole frame as received
    message: Message


def checksum(data: bytes) -> int:
    return sum(data) & 255


def split_fields(data: bytes) -> list[tuple[int, bytes]]:
    """`tag=value|...` (ending in SOH) -> [(tag, value)]. ValueError if a tag is not a number."""
    if b"\x0195=" in data:  # RawData may hold SOH: read it by its length
        return _split_with_data(data)
    parts = data.split(SOH)
    parts.pop()  # after the last SOH
    pairs = []
    append = pairs.append
    for part in parts:
        tag, _, value = part.partition(b"=")
        append((int(tag), value))
    return pairs


def _split_with_data(data: bytes) -> list[tuple[int, bytes]]:
    pairs: list[tuple[int, bytes]] = []
    pos, data_length = 0, None
    while pos < len(data):
        eq = data.index(b"=", pos)
        tag = int(data[pos:eq])
        if tag == RAW_DATA and data_length is not None:
            end = eq + 1 + data_length
            if data[end:end + 1] != SOH:
                raise ValueError("RawData (96) is not RawDataLength (95) bytes long")
        else:
            end = data.index(SOH, eq)
        value = data[eq + 1:end]
        pairs.append((tag, value))
        data_length = int(value) if tag == RAW_DATA_LENGTH and value.isdigit() else None
        pos = end + 1
    return pairs


class Framer:
    """Cuts a byte stream into checked frames. `feed` then `next_frame` until it returns None;
    a Garbled error has already dropped the bad bytes (up to the next `8=FIXT.1.1`). Frames are
    read at an offset into what was fed (one copy per frame, not one of the rest of the buffer:
    a pipelining client's read holds dozens)."""

    def __init__(self) -> None:
        self.buf = b""
        self.pos = 0

    def feed(self, data: bytes) -> None:
        if self.pos:
            self.buf, self.pos = self.buf[self.pos:] + data, 0
        else:
            self.buf = self.buf + data if self.buf else data

    def _consume(self, end: int) -> None:
        if end >= len(self.buf):
            self.buf, self.pos = b"", 0
        else:
            self.pos = end

    def _drop_to_next_start(self, start: int) -> None:
        nxt = self.buf.find(b"8=FIXT.1.1\x01", start + 1)
        if nxt >= 0:
            self.pos = nxt
        else:
            self.buf, self.pos = b"", 0

    def next_frame(self) -> Frame | None:
        buf, p = self.buf, self.pos
        if p >= len(buf):
            return None
        if not buf.startswith(_BEGIN, p):
            if len(buf) - p < _BEGIN_LEN and _BEGIN.startswith(buf[p:]):
                return None  # a start still arriving
            self._drop_to_next_start(p)
            raise Garbled("does not start with 8=FIXT.1.1|9=")
        at = p + _BEGIN_LEN
        soh = buf.find(SOH, at, at + 7)
        digits = buf[at:soh] if soh >= 0 else buf[at:at + 7]
        if soh < 0 or not digits or not digits.isdigit():
            if soh < 0 and len(buf) < at + 7 and (not digits or digits.isdigit()):
                return None  # the length still arriving
            self._drop_to_next_start(p)
            raise Garbled("BodyLength (9) is not a number")
        body_start = soh + 1
        claimed = int(digits)
        if claimed > MAX_BODY:
            self._drop_to_next_start(p)
            raise Garbled(f"BodyLength {claimed} is over {MAX_BODY}")
        # The real end of the message is its first CheckSum field; it must be where BodyLength says.
        trailer = buf.find(_TRAILER, soh)
        if trailer < 0 or len(buf) < trailer + 8:
            if len(buf) - body_start > MAX_BODY + 8:
                self._drop_to_next_start(p)
                raise Garbled("no CheckSum (10) field")
            return None
        end = trailer + 8  # |10=ccc|
        value = buf[trailer + 4:trailer + 7]
        if buf[trailer + 7] != 1 or not value.isdigit():
            self._drop_to_next_start(trailer)
            raise Garbled("CheckSum (10) is not three digits")
        actual = trailer + 1 - body_start
        if actual != claimed:
            self._consume(end)
            raise Garbled(f"BodyLength says {claimed} bytes, the body has {actual}")
        raw = buf if p == 0 and end == len(buf) else buf[p:end]
        self._consume(end)
        sum_ = checksum(raw[:trailer + 1 - p])
        if int(value) != sum_:
            raise Garbled(f"CheckSum {value.decode()} is wrong (bytes sum to {sum_:03d})")
        try:
            pairs = split_fields(raw[body_start - p:trailer + 1 - p])
        except ValueError:
            raise Garbled("a field is not tag=value with a numeric tag") from None
        return Frame(raw, Message(raw, pairs))


# ---------------------------------------------------------------------------------- encoding
def value_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return b"%d" % value
    return str(value).encode()


def encode_fields(fields: list[tuple[int, object]]) -> bytes:
    """[(tag, value)] -> `tag=value|...` (values: bytes, str, int, or anything str() renders)."""
    return b"".join([b"%d=%s\x01" % (tag, value_bytes(value)) for tag, value in fields])


def frame(body: bytes) -> bytes:
    """`35=...|...|` -> the whole message: BeginString, BodyLength, body, CheckSum."""
    head = b"8=FIXT.1.1\x019=%d\x01" % len(body)
    message = head + body
    return message + b"10=%03d\x01" % (sum(message) & 255)


def comp_ids(sender: str | bytes, target: str | bytes) -> bytes:
    """The constant header part of one direction of a session: `49=sender|56=target|`."""
    return b"49=%s\x0156=%s\x01" % (value_bytes(sender), value_bytes(target))


def encode(msg_type: bytes, comp: bytes, seq: int, sending_time: bytes, body: bytes) -> bytes:
    """One message from its parts (`comp` from comp_ids, `body` from encode_fields or a template)."""
    return frame(b"35=%s\x01%s34=%d\x0152=%s\x01%s" % (msg_type, comp, seq, sending_time, body))


# ---------------------------------------------------------------------------------- time
_second = -1
_second_text = b""


def utc_timestamp(ts: float | None = None) -> bytes:
    """FIX UTCTimestamp with milliseconds: 20260101-12:00:00.000 (the second's text is made
    once per second: this runs twice per ExecutionReport)."""
    global _second, _second_text
    now = time.time() if ts is None else ts
    whole = int(now)
    millis = int((now - whole) * 1000)
    if whole != _second:
        text = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y%m%d-%H:%M:%S.").encode()
        if ts is not None:
            return text + b"%03d" % millis
        _second, _second_text = whole, text
    return _second_text + b"%03d" % millis


def parse_utc_timestamp(value: bytes) -> float:
    """Seconds since the epoch of a UTCTimestamp (seconds, milli, micro or nano precision)."""
    text = value.decode("ascii")
    head, _, frac = text.partition(".")
    dt = datetime.strptime(head, "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)
    if frac and not frac.isdigit():
        raise ValueError(text)
    return dt.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)
