"""The FIX gateway: a TLS listener in the `tandem api` process, another front door to its
ExchangeService (the same users, keys, limits, fees and refusals as REST; fills made here
show on REST and WebSocket, and the other way round).

`Gateway(service, verifier=..., ...)`, then `await gateway.start(host, port, ssl_context)`.
It is handed what it needs from the API (api never imports fix, fix never imports api):
`verifier` checks a Logon's key and signature (api.auth's Authenticator), `limiter` is the
REST per-key write bucket, `run` puts an order command into the API's group commit,
`builder_of` is the builder bound to a key (credited on its orders, as on REST).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import ssl
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from exchange.schemas import BookDelta, FillEvent, OrderEvent, TradeEvent

from fix.application import Application, MarketData
from fix.session import KINDS, Connection, Session, SessionKind, Verifier
from fix.store import SessionStore

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, service, *, verifier: Verifier, store_path: Path, auth_window_s: float = 30.0,
                 limiter: Callable[[str], None] | None = None,
                 run: Callable[[Callable[[], object]], Awaitable[object]] | None = None,
                 builder_of: Callable[[str], str | None] | None = None) -> None:
        self.service = service
        self.verifier = verifier
        self.auth_window_s = auth_window_s
        self.limiter = limiter or (lambda key_id: None)
        self._run = run
        self.builder_of = builder_of or (lambda key_id: None)  # the builder bound to a key (issue 13)
        self.store = SessionStore(store_path)
        self.boot_id = uuid.uuid4().hex[:8]  # ExecIDs stay unique across restarts
        self.sessions: dict[tuple[str, str], Session] = {}
        self.logged_on_keys: set[str] = set()
        self.connections: set[Connection] = set()
        self.application = Application(self)
        self.market_data = MarketData(service)
        # Application.handle_batch: a connection's batches of orders in turn on SQLite, overlapping elsewhere
        self.wait_per_batch = bool(getattr(getattr(service, "db", None), "sqlite", True))
        self._server: asyncio.base_events.Server | None = None
        self._unsubscribe = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    async def run(self, command: Callable[[], object]):
        """An order command of the service, in the API's group commit when there is one."""
        if self._run is not None:
            return await self._run(command)
        return command()

    def session(self, sender: str, kind: SessionKind) -> Session:
        key = (sender, kind.target)
        session = self.sessions.get(key)
        if session is None:
            session = self.sessions[key] = Session(self, sender, kind, self.store)
        return session

    def session_by_target(self, sender: str, target: str) -> Session | None:
        kind = KINDS.get(target)
        return self.session(sender, kind) if kind is not None else None

    def logged_off(self, session: Session) -> None:
        self.logged_on_keys.discard(session.sender)
        self.market_data.unsubscribe(session)
        if session.cancel_on_disconnect and session.identity is not None and session.kind.order_entry:
            # CancelOrdersOnDisconnect: the session's user's resting orders go; their ERs wait in the store.
            try:
                self.service.cancel_all(session.identity.user_id)
            except Exception:
                log.exception("fix: cancel on disconnect failed")
        session.flush()

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._unsubscribe = self.service.subscribe(self._on_event)
        self._server = await self._loop.create_server(lambda: Connection(self), host, port, ssl=ssl_context,
                                                      reuse_address=True)
        log.info("fix gateway on %s:%s", host, port)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close()
        await asyncio.sleep(0.1)  # their connection_lost runs (CancelOrdersOnDisconnect) before the store closes
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
        for session in self.sessions.values():
            session.flush()
        self.store.close()

    # ------------------------------------------------------------------ events
    def _on_event(self, event) -> None:
        if threading.get_ident() == self._loop_thread:
            self.dispatch(event)
        elif self._loop is not None:
            self._loop.call_soon_threadsafe(self.dispatch, event)

    def dispatch(self, event) -> None:
        try:
            if isinstance(event, BookDelta):
                self.market_data.on_delta(event.ticker, event.seq, event.book_side, event.price, event.delta)
            elif isinstance(event, TradeEvent):
                self.market_data.on_trade(event.trade)
            elif isinstance(event, FillEvent):
                self.application.on_fill(event.fill)
            elif isinstance(event, OrderEvent):
                self.application.on_order(event.order)
        except Exception:  # a broken report must not break trading
            log.exception("fix: event failed")


def ensure_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1, made once under `directory`."""
    cert, key = directory / "fix-cert.pem", directory / "fix-key.pem"
    if cert.exists() and key.exists():
        return cert, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tandem-fix")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=825))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(private, hashes.SHA256()))
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
