"""A minimal FIX initiator for the benchmark and the attack tests: it signs a Logon as
Kalshi asks and speaks raw frames (fix.codec), nothing more (the functional tests use QuickFIX/J).
Blocking sockets; TLS without certificate checks (the gateway's own self-signed one)."""
from __future__ import annotations

import base64
import socket
import ssl
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fix import tags as T
from fix.codec import Framer, Message, comp_ids, encode, encode_fields, utc_timestamp


def logon_signature(private_key: rsa.RSAPrivateKey, sending_time: bytes, seq: int, sender: str, target: str) -> str:
    message = b"\x01".join([sending_time, b"A", str(seq).encode(), sender.encode(), target.encode()])
    signature = private_key.sign(message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                      salt_length=padding.PSS.DIGEST_LENGTH), hashes.SHA256())
    return base64.b64encode(signature).decode()


class RawClient:
    def __init__(self, host: str, port: int, sender: str, target: str = "KalshiRT", timeout: float = 10.0) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname=host)
        self.sender, self.target = sender, target
        self._comp = comp_ids(sender, target)
        self.seq = 1
        self.framer = Framer()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def encode(self, msg_type: str, body: list[tuple[int, object]], *, seq: int | None = None,
               sending_time: bytes | None = None) -> bytes:
        raw = encode(msg_type.encode(), self._comp, self.seq if seq is None else seq, sending_time or utc_timestamp(),
                     encode_fields(body))
        if seq is None:
            self.seq += 1
        return raw

    def send(self, msg_type: str, body: list[tuple[int, object]] | None = None, **kw) -> None:
        self.sock.sendall(self.encode(msg_type, body or [], **kw))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def logon(self, private_key: rsa.RSAPrivateKey | None, *, reset: bool = True, skew_s: float = 0.0,
              signature: str | None = None, extra: list[tuple[int, object]] | None = None) -> None:
        sending_time = utc_timestamp(time.time() + skew_s)
        if signature is None:
            signature = logon_signature(private_key, sending_time, self.seq, self.sender, self.target)
        body: list[tuple[int, object]] = [(T.EncryptMethod, 0), (T.HeartBtInt, 30)]
        if reset:
            body.append((T.ResetSeqNumFlag, "Y"))
        body += [(T.DefaultApplVerID, 9), (T.RawDataLength, len(signature)), (T.RawData, signature)]
        self.send("A", body + (extra or []), sending_time=sending_time)

    def receive(self, timeout: float = 10.0) -> Message | None:
        """The next message, or None when the gateway closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.framer.next_frame()
            if frame is not None:
                return frame.message
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no FIX message")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return None
            if not data:
                return None
            self.framer.feed(data)

    def expect(self, msg_type: str, timeout: float = 10.0, skip: tuple[str, ...] = ("0",)) -> Message:
        while True:
            m = self.receive(timeout)
            if m is None:
                raise ConnectionError(f"closed while waiting for 35={msg_type}")
            got = m.get(T.MsgType).decode()
            if got == msg_type:
                return m
            if got not in skip:
                raise AssertionError(f"expected 35={msg_type}, got {m}")
