"""Operator actions behind the CLI (`tandem user/key/fund/market`), on an ExchangeService
that does not restore engines (the trading server picks up what these write). On the CLI
side of the layering: it reads the settings and writes key files; exchange/ does neither."""
from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exchange import errors
from exchange.service import ExchangeService
from exchange.units import parse_iso8601_ms


def service() -> ExchangeService:
    from tandem.settings import get_settings

    return ExchangeService(get_settings().db_url, restore=False)


def user_id(svc: ExchangeService, name: str) -> int:
    user = svc.get_user_by_name(name)
    if user is None:
        raise errors.NotFound(f"no user named {name}", code="user_not_found")
    return user.id


def create_key(svc: ExchangeService, name: str, out: Path) -> str:
    """Generate an RSA key pair, store the public half, write the private PEM (0600); the key id."""
    uid = user_id(svc, name)
    if out.exists():
        raise errors.Conflict(f"{out} already exists; not overwriting a private key")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = svc.create_api_key(uid, public_pem.decode(), name=out.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    out.chmod(0o600)
    return key_id


def parse_close(value: str) -> int:
    """ISO 8601 (naive means UTC) -> epoch milliseconds."""
    return parse_iso8601_ms(value, "close time")
