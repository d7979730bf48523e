"""fix.codec against simplefix (an independent FIX parser and encoder): each reads the other's
messages field for field; the framer refuses the lies simplefix would let through."""
from __future__ import annotations

import pytest
import simplefix

from fix.codec import Framer, Garbled, comp_ids, encode, encode_fields, frame, utc_timestamp

BODY = [(11, "cl-1"), (55, "FIXM-1"), (54, 1), (38, "1.5"), (40, 2), (44, b"56.5"), (58, "a text = with equals")]


def _simplefix(msg_type: str, seq: int, sending_time: bytes, body) -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, "FIXT.1.1", header=True)
    m.append_pair(35, msg_type, header=True)
    m.append_pair(49, "key", header=True)
    m.append_pair(56, "KalshiRT", header=True)
    m.append_pair(34, seq, header=True)
    m.append_pair(52, sending_time, header=True)
    for tag, value in body:
        m.append_pair(tag, value)
    return m.encode()


def test_encoding_is_byte_for_byte_simplefix():
    now = utc_timestamp()
    ours = encode(b"D", comp_ids("key", "KalshiRT"), 42, now, encode_fields(BODY))
    assert ours == _simplefix("D", 42, now, BODY)


def test_framer_reads_what_simplefix_writes_in_pieces():
    now = utc_timestamp()
    stream = _simplefix("D", 1, now, BODY) + _simplefix("0", 2, now, [])
    framer, got = Framer(), []
    for i in range(0, len(stream), 7):  # arriving 7 bytes at a time
        framer.feed(stream[i:i + 7])
        while (frame := framer.next_frame()) is not None:
            got.append(frame.message)
    assert len(got) == 2
    parser = simplefix.FixParser()
    parser.append_buffer(stream)
    expected = parser.get_message()
    assert got[0].pairs == [(int(t), v) for t, v in expected.pairs if int(t) not in (8, 9, 10)]
    assert got[0].get(58) == b"a text = with equals" and got[1].get(35) == b"0" and got[1].get(34) == b"2"


def test_raw_data_with_soh_is_read_by_its_length():
    now = utc_timestamp()
    data = "ab\x01cd"
    raw = encode(b"A", comp_ids("key", "KalshiRT"), 1, now, encode_fields([(95, len(data)), (96, data), (108, 30)]))
    framer = Framer()
    framer.feed(raw)
    m = framer.next_frame().message
    assert (m.get(96), m.get(108)) == (b"ab\x01cd", b"30")


@pytest.mark.parametrize("mangle, error", [
    (lambda raw: raw.replace(b"\x019=", b"\x019=1", 1), "BodyLength says"),
    (lambda raw: raw[:-4] + (b"000" if raw[-4:-1] != b"000" else b"001") + b"\x01", "CheckSum"),
    (lambda raw: b"GARBAGE" + raw, "does not start with"),
    (lambda raw: frame(b"35=D\x01x5=1\x01"), "numeric tag"),  # length and checksum right, a tag not a number
])
def test_framer_refuses_lies(mangle, error):
    raw = encode(b"D", comp_ids("key", "KalshiRT"), 3, utc_timestamp(), encode_fields(BODY))
    framer = Framer()
    framer.feed(mangle(raw))
    with pytest.raises(Garbled) as exc:
        framer.next_frame()
    assert error in str(exc.value)
