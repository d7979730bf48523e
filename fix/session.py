"""The FIXT.1.1 session layer: Logon, sequence numbers, Heartbeat/TestRequest,
ResendRequest/SequenceReset, Logout, Reject.

A `Session` is one (SenderCompID = API key id, TargetCompID) pair and outlives its
connections: messages for it (a fill of a resting order while the client is away) are
sequenced and stored, and reach the client through its ResendRequest when it logs on again.
A `Connection` is one TLS connection; it is anonymous until its first message, a Logon,
passes every check.

Everything runs on the event loop's thread (like the REST routes): a message is framed,
checked and handled in arrival order; what it produces is stored, then written once the
store has committed (`Session.flush`).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fix import tags as T
from fix.codec import (Frame, Framer, Garbled, Message, comp_ids, encode, encode_fields, frame, parse_utc_timestamp,
                       split_fields, utc_timestamp)
from fix.store import SeqNums, SessionStore

log = logging.getLogger(__name__)

ADMIN_TYPES = {b"0", b"1", b"2", b"3", b"4", b"5", b"A"}
FIX50SP2 = b"9"  # DefaultApplVerID


@dataclass(frozen=True, slots=True)
class SessionKind:
    target: str
    order_entry: bool
    retransmit: bool  # False: a ResendRequest is answered with a gap fill only


KINDS = {k.target: k for k in (SessionKind("KalshiRT", True, True), SessionKind("KalshiNR", True, False),
                               SessionKind("KalshiMD", False, False))}


class AuthRefused(Exception):
    """The Logon's key or signature does not verify (the text goes into the Logout)."""


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: int
    key_id: str
    can_write: bool


Verifier = Callable[[str, bytes, str], Identity]  # (key id, signed bytes, base64 signature) -> Identity


class Session:
    def __init__(self, gateway, sender: str, kind: SessionKind, store: SessionStore) -> None:
        self.gateway = gateway
        self.sender = sender
        self.kind = kind
        self.target = kind.target
        self.store = store
        self.seq: SeqNums = store.seqnums(sender, kind.target)
        self.conn: Connection | None = None
        self.identity: Identity | None = None
        self.cancel_on_disconnect = False
        self.resend_asked_to = 0  # inbound: the gap already asked for (no second ResendRequest for it)
        self.running: list[asyncio.Task] = []  # order commands in flight (Application.handle_batch)
        self.placing: set[bytes] = set()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._comp = comp_ids(self.target, sender)  # 49=KalshiRT|56=<key id>| of every message we send

    # ------------------------------------------------------------------ sending
    def send(self, msg_type: bytes, body: list[tuple[int, object]] | bytes) -> int:
        """Sequence, store and queue one message (`body`: pairs, or fields already encoded);
        written at the end of this loop turn with everything else queued in it, in one TLS
        write, after the store commits. Sent while disconnected, it waits in the store for a
        ResendRequest."""
        seq = self.seq.next_out
        self.seq.next_out += 1
        raw = encode(msg_type, self._comp, seq, utc_timestamp(),
                     body if isinstance(body, bytes) else encode_fields(body))
        if self.kind.retransmit and msg_type not in ADMIN_TYPES:
            self.store.record_sent(self.sender, self.target, seq, raw)
        self.store.save_seqnums(self.sender, self.target, self.seq)
        if self.conn is not None and self.conn.logged_on:
            self._out.append(raw)
        self.schedule_flush()
        return seq

    def _send_resent(self, raw: bytes) -> None:
        self._out.append(raw)
        self.schedule_flush()

    def schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        self.store.commit()  # before any byte leaves: a sequence number is never handed out twice
        if self._out and self.conn is not None:
            self.conn.write(b"".join(self._out))
        self._out.clear()

    # ------------------------------------------------------------------ session messages
    def reject(self, ref_seq: int, ref_type: bytes | None, reason: int, text: str, ref_tag: int | None = None) -> None:
        body: list[tuple[int, object]] = [(T.RefSeqNum, ref_seq)]
        if ref_tag is not None:
            body.append((T.RefTagID, ref_tag))
        if ref_type:
            body.append((T.RefMsgType, ref_type))
        body += [(T.SessionRejectReason, reason), (T.Text, text)]
        self.send(b"3", body)

    def business_reject(self, ref_seq: int, ref_type: bytes, reason: int, text: str, ref_id: str | None = None) -> None:
        body: list[tuple[int, object]] = [(T.RefSeqNum, ref_seq), (T.RefMsgType, ref_type)]
        if ref_id:
            body.append((T.BusinessRejectRefID, ref_id))
        body += [(T.BusinessRejectReason, reason), (T.Text, text)]
        self.send(b"j", body)

    def resend(self, first: int, last: int) -> None:
        """Answer a ResendRequest: stored application messages again (PossDupFlag=Y,
        OrigSendingTime), everything else as SequenceReset-GapFill runs."""
        top = self.seq.next_out - 1
        last = top if last == 0 or last > top else last
        if first > last:
            return
        stored = dict(self.store.sent(self.sender, self.target, first, last)) if self.kind.retransmit else {}
        gap_start = None
        now = utc_timestamp()
        for seq in range(first, last + 1):
            raw = stored.get(seq)
            if raw is None:
                if gap_start is None:
                    gap_start = seq
                continue
            if gap_start is not None:
                self._gap_fill(gap_start, seq, now)
                gap_start = None
            self._send_resent(_as_possible_duplicate(raw, now))
        if gap_start is not None:
            self._gap_fill(gap_start, last + 1, now)

    def _gap_fill(self, seq: int, new_seq: int, now: bytes) -> None:
        self._send_resent(encode(b"4", self._comp, seq, now, b"%d=Y\x01%d=%s\x01%d=Y\x01%d=%d\x01" % (
            T.PossDupFlag, T.OrigSendingTime, now, T.GapFillFlag, T.NewSeqNo, new_seq)))


def _as_possible_duplicate(raw: bytes, now: bytes) -> bytes:
    """A stored message as resent: same MsgSeqNum, PossDupFlag=Y, OrigSendingTime = its SendingTime."""
    body_start = raw.index(b"\x01", raw.index(b"\x019=") + 1) + 1
    out: list[tuple[int, object]] = []
    for tag, value in split_fields(raw[body_start:raw.rindex(b"\x0110=") + 1]):
        if tag == T.SendingTime:
            out += [(T.SendingTime, now), (T.PossDupFlag, "Y"), (T.OrigSendingTime, value)]
        else:
            out.append((tag, value))
    return frame(encode_fields(out))


class Connection(asyncio.Protocol):
    """One client connection: anonymous until its Logon verifies, then bound to a Session."""

    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self.framer = Framer()
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.logged_on = False
        self.closing = False
        self.heartbeat_s = 30
        self.last_in = self.last_out = time.monotonic()
        self.test_request_sent: float | None = None
        self._timer: asyncio.Task | None = None
        self.app_queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.gateway.connections.add(self)
        self._timer = asyncio.get_running_loop().create_task(self._timers())

    def connection_lost(self, exc) -> None:
        self.gateway.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._worker is not None:
            self.app_queue.put_nowait(None)  # the worker finishes what was received, then stops
        self._release()

    def _release(self) -> None:
        """The session is no longer this connection's (once, at close or loss, whichever comes first:
        a TLS close can wait on the peer's close_notify, and the key must be free for its next Logon)."""
        session = self.session
        if session is not None and session.conn is self:
            session.conn = None
            self.logged_on = False
            self.gateway.logged_off(session)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_in = time.monotonic()
        self.test_request_sent = None
        self.framer.feed(data)
        while not self.closing:
            try:
                frame = self.framer.next_frame()
            except Garbled as exc:
                if not self.logged_on:
                    self.refuse(f"garbled message: {exc}")
                    return
                # FIX: a garbled message is ignored and not counted; the next one shows the gap.
                log.warning("fix %s: garbled message ignored: %s", self.session.sender, exc)
                continue
            if frame is None:
                break
            try:
                self._handle(frame)
            except Exception:  # a bug, not the client's: logged, and the gateway serves on
                log.exception("fix: handling a message failed")
                if self.session is not None:
                    self.session.reject(_int(frame.message.get(T.MsgSeqNum)) or 0, frame.message.get(T.MsgType), 99,
                                        "internal error")
        if self.session is not None:
            self.session.schedule_flush()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.last_out = time.monotonic()
            self.transport.write(data)

    # ------------------------------------------------------------------ refusals and closing
    def refuse(self, text: str, status: int | None = None) -> None:
        """Before Logon: an unsequenced Logout with the reason, then close. Nothing is stored."""
        log.info("fix: logon refused: %s", text)
        body = ([(T.SessionStatus, status)] if status is not None else []) + [(T.Text, text)]
        self.write(encode(b"5", comp_ids("Tandem", "unknown"), 1, utc_timestamp(), encode_fields(body)))
        self.close()

    def logout(self, text: str) -> None:
        """A logged-on session's Logout, then close once it is written."""
        assert self.session is not None
        self.session.send(b"5", [(T.Text, text)])
        self.session.flush()
        self.close()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()
        self._release()

    async def _timers(self) -> None:
        """Heartbeat after HeartBtInt of silence from us; TestRequest after HeartBtInt + 20% of
        silence from the client; disconnect when that goes unanswered too."""
        try:
            while True:
                await asyncio.sleep(1.0)
                now = time.monotonic()
                if not self.logged_on:
                    if now - self.last_in > 30:  # a connection that never logs on
                        self.close()
                        return
                    continue
                if now - self.last_out >= self.heartbeat_s:
                    self.session.send(b"0", [])
                if self.test_request_sent is not None:
                    if now - self.test_request_sent > self.heartbeat_s:
                        self.logout("no answer to TestRequest")
                        return
                elif now - self.last_in > self.heartbeat_s * 1.2:
                    self.test_request_sent = now
                    self.session.send(b"1", [(T.TestReqID, f"T{int(time.time())}")])
        except asyncio.CancelledError:
            pass

    # ------------------------------------------------------------------ inbound
    def _handle(self, frame: Frame) -> None:
        m = frame.message
        msg_type = m.get(T.MsgType)
        if not self.logged_on:
            if msg_type != b"A":
                self.refuse(f"the first message must be a Logon (35=A), not 35={(msg_type or b'').decode(errors='replace')}")
                return
            self._logon(m)
            return
        session = self.session
        seq = _int(m.get(T.MsgSeqNum))
        if seq is None or msg_type is None:
            session.reject(seq or 0, msg_type, 1, "MsgSeqNum (34) and MsgType (35) are required",
                           ref_tag=T.MsgSeqNum if seq is None else T.MsgType)
            return
        if m.get(T.SenderCompID, ) != session.sender.encode() or m.get(T.TargetCompID) != session.target.encode():
            session.reject(seq, msg_type, 9, "CompID problem: SenderCompID/TargetCompID are not this session's")
            self.logout("CompID problem")
            return
        if msg_type == b"4" and m.get(T.GapFillFlag) != b"Y":  # SequenceReset-Reset: seq ignored
            new = _int(m.get(T.NewSeqNo))
            if new is None or new < session.seq.next_in:
                session.reject(seq, msg_type, 5, "NewSeqNo must not lower the expected MsgSeqNum", ref_tag=T.NewSeqNo)
            else:
                session.seq.next_in = new
                session.store.save_seqnums(session.sender, session.target, session.seq)
            return
        expected = session.seq.next_in
        if seq > expected:
            if msg_type == b"2":
                self._resend_request(m)
            elif msg_type == b"5":
                self.logout("logout acknowledged")
                return
            if session.resend_asked_to < seq:
                session.resend_asked_to = seq
                session.send(b"2", [(T.BeginSeqNo, expected), (T.EndSeqNo, 0)])
            return  # processed when it arrives again, in order
        if seq < expected:
            if m.get(T.PossDupFlag) == b"Y":
                return  # already seen
            self.logout(f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        if msg_type == b"4":  # SequenceReset-GapFill
            new = _int(m.get(T.NewSeqNo))
            if new is None or new <= seq:
                session.seq.next_in = seq + 1
                session.reject(seq, msg_type, 5, "NewSeqNo must be above the MsgSeqNum", ref_tag=T.NewSeqNo)
            else:
                session.seq.next_in = new
            session.store.save_seqnums(session.sender, session.target, session.seq)
            return
        session.seq.next_in = seq + 1
        session.store.save_seqnums(session.sender, session.target, session.seq)
        if msg_type == b"0":
            return
        if msg_type == b"1":
            session.send(b"0", [(T.TestReqID, m.get(T.TestReqID) or b"")])
        elif msg_type == b"2":
            self._resend_request(m)
        elif msg_type == b"3":
            log.info("fix %s: client rejected our %s: %s", session.sender, m.get(T.RefSeqNum), m.get(T.Text))
        elif msg_type == b"5":
            self.logout("logout acknowledged")
        elif msg_type == b"A":
            session.reject(seq, msg_type, 11, "already logged on")
        else:
            self._app(frame)

    def _resend_request(self, m: Message) -> None:
        first, last = _int(m.get(T.BeginSeqNo)), _int(m.get(T.EndSeqNo))
        if first is None or last is None or first < 1:
            self.session.reject(_int(m.get(T.MsgSeqNum)) or 0, b"2", 1, "BeginSeqNo (7) and EndSeqNo (16) are required")
            return
        self.session.resend(first, last)

    def _app(self, frame: Frame) -> None:
        """Application messages run in order on this connection's worker (they may wait for a group commit)."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        self.app_queue.put_nowait(frame)

    async def _work(self) -> None:
        """Everything queued by now is handled as one batch: a client that pipelines gets its orders
        into one group commit (Application.handle_batch), in the order sent."""
        while True:
            frame = await self.app_queue.get()
            batch = []
            while frame is not None:
                batch.append(frame.message)
                if self.app_queue.empty():
                    break
                frame = self.app_queue.get_nowait()
            if batch:
                await self.gateway.application.handle_batch(self.session, batch)
            if frame is None:
                return

    # ------------------------------------------------------------------ logon
    def _logon(self, m: Message) -> None:
        gw = self.gateway
        sender = (m.get(T.SenderCompID) or b"").decode(errors="replace")
        target = (m.get(T.TargetCompID) or b"").decode(errors="replace")
        seq = _int(m.get(T.MsgSeqNum))
        kind = KINDS.get(target)
        if kind is None:
            self.refuse(f"unknown TargetCompID {target!r}: use one of {', '.join(sorted(KINDS))}")
            return
        if seq is None:
            self.refuse("MsgSeqNum (34) is required")
            return
        heartbeat = _int(m.get(T.HeartBtInt))
        if heartbeat is None or not 1 <= heartbeat <= 300:
            self.refuse("HeartBtInt (108) must be 1..300 seconds")
            return
        if m.get(T.EncryptMethod) not in (None, b"0"):
            self.refuse("EncryptMethod (98) must be 0 (the connection is TLS)")
            return
        sending_time = m.get(T.SendingTime)
        try:
            sent_at = parse_utc_timestamp(sending_time or b"")
        except ValueError:
            self.refuse("SendingTime (52) is not a UTCTimestamp")
            return
        skew = abs(time.time() - sent_at)
        if skew > gw.auth_window_s:
            self.refuse(f"SendingTime is {skew:.1f} s from the server clock (allowed {gw.auth_window_s:g} s)",
                        status=T.STATUS_INVALID_CREDENTIALS)
            return
        signature = m.get(T.RawData)
        if not signature:
            self.refuse("RawData (96) must carry the signature", status=T.STATUS_INVALID_CREDENTIALS)
            return
        signed = b"\x01".join([sending_time, b"A", m.get(T.MsgSeqNum), sender.encode(), target.encode()])
        try:
            identity = gw.verifier(sender, signed, signature.decode("ascii", errors="replace"))
        except AuthRefused as exc:
            self.refuse(str(exc), status=T.STATUS_INVALID_CREDENTIALS)
            return
        if kind.order_entry and not identity.can_write:
            self.refuse("this API key has no write scope", status=T.STATUS_INVALID_CREDENTIALS)
            return
        if sender in gw.logged_on_keys:
            self.refuse("this API key already has a session logged on (one connection per key)")
            return
        session = gw.session(sender, kind)
        reset = m.get(T.ResetSeqNumFlag) == b"Y"
        if reset:
            session.store.reset(sender, target)
            session.seq = SeqNums()
            if seq != 1:
                self.refuse("ResetSeqNumFlag=Y needs MsgSeqNum=1")
                return
        elif seq < session.seq.next_in:
            self.refuse(f"MsgSeqNum too low, expecting {session.seq.next_in} but received {seq}")
            return
        # Bound: from here on the session is this connection's.
        self.session = session
        self.logged_on = True
        self.heartbeat_s = heartbeat
        session.conn = self
        session.identity = identity
        session.cancel_on_disconnect = m.get(T.CancelOrdersOnDisconnect) == b"Y"
        session.resend_asked_to = 0
        gw.logged_on_keys.add(sender)
        gap = seq > session.seq.next_in
        if not gap:
            session.seq.next_in = seq + 1
        body: list[tuple[int, object]] = [(T.EncryptMethod, 0), (T.HeartBtInt, heartbeat),
                                          (T.DefaultApplVerID, FIX50SP2)]
        if reset:
            body.append((T.ResetSeqNumFlag, "Y"))
        session.send(b"A", body)
        if gap:
            session.resend_asked_to = seq
            session.send(b"2", [(T.BeginSeqNo, session.seq.next_in), (T.EndSeqNo, 0)])
        log.info("fix: %s logged on to %s (user %s)", sender, target, identity.user_id)


def _int(value: bytes | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)
