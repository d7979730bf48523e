"""Composition of the FIX gateway into `tandem api`: fix/ and api/ are siblings that never
import each other, so the API's key check, rate limiter and group commit reach the gateway
from here (the one layer that sees both)."""
from __future__ import annotations

import logging
from pathlib import Path

from api.errors import ApiError
from fix.gateway import Gateway, ensure_certificate, server_ssl_context
from fix.session import AuthRefused, Identity

log = logging.getLogger(__name__)


def companion(host: str, port: int, home: Path, auth_window_ms: int, cert: Path | None = None,
              key: Path | None = None):
    """A create_app companion that serves FIX on host:port over TLS beside the API."""

    async def start(state):
        auth = state.auth

        def verify(key_id: str, message: bytes, signature: str) -> Identity:
            try:
                principal = auth.verify_message(key_id, message, signature,
                                                hint="sign SendingTime|MsgType|MsgSeqNum|SenderCompID|TargetCompID "
                                                     "(SOH-joined) with RSA-PSS SHA-256")
            except ApiError as exc:
                raise AuthRefused(exc.message) from None
            can_write = any(s == "write" or s.startswith("write") for s in principal.scopes)
            return Identity(principal.user_id, key_id, can_write)

        def limit(key_id: str) -> None:
            auth.limiter.check(key_id, True)  # the REST write bucket: one budget per key, whichever door

        cert_path, key_path = (cert, key) if cert and key else ensure_certificate(home / "fix")
        gateway = Gateway(state.service, verifier=verify, limiter=limit, run=state.group_commit.run,
                          store_path=home / "fix" / "sessions.db", auth_window_s=auth_window_ms / 1000,
                          builder_of=auth.key_builder)
        await gateway.start(host, port, server_ssl_context(cert_path, key_path))
        state.fix_gateway = gateway
        print(f"FIX gateway on {host}:{port} (TLS, certificate {cert_path})", flush=True)
        return gateway.stop

    return start
