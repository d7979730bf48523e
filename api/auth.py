"""Kalshi request signing, as the exchange checks it.

A signed request carries KALSHI-ACCESS-KEY (the key id), KALSHI-ACCESS-TIMESTAMP (Unix
milliseconds) and KALSHI-ACCESS-SIGNATURE: base64 of RSA-PSS (SHA-256, MGF1-SHA-256) over
`timestamp + METHOD + path`, the path without its query string. A timestamp further than
`api_auth_window_ms` from the server clock is refused (a captured request cannot be
replayed later), as are unknown keys and bad signatures — all 401 in Kalshi's error shape.

Operators authenticate with `Authorization: Bearer <operator token>`, or with a signed
request by a user whose kind is "operator". Per-key token buckets give 429s.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Request

from api import limits
from api.errors import ApiError

KEY_HEADER = "KALSHI-ACCESS-KEY"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})

_PSS_SIGN = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
# Verification accepts any salt length: clients differ (DIGEST_LENGTH is Kalshi's example).
_PSS_VERIFY = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


def sign(private_key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path: str) -> dict[str, str]:
    """The three headers a client sends (what the SDK's KalshiAuth computes); `key_id` is added by the caller."""
    message = f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()
    signature = private_key.sign(message, _PSS_SIGN, hashes.SHA256())
    return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: str(timestamp_ms)}


@dataclass(slots=True)
class Principal:
    """Who a request acts for."""

    user_id: int
    key_id: str
    scopes: tuple[str, ...]
    is_operator: bool = False
    builder_code: str | None = None  # bound to the key: credited on its orders that name none
    tier: str | None = None  # the user's API usage tier (None: the venue's default)


@dataclass(slots=True)
class _Key:
    user_id: int
    public_key: rsa.RSAPublicKey
    scopes: tuple[str, ...]
    is_operator: bool
    builder_code: str | None = None
    tier: str | None = None


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Kalshi's token buckets (api/limits.py): one per (account, read|write), refilled at the
    account's tier budget; a request takes its endpoint's cost in tokens or is refused with 429.
    `read_per_s` / `write_per_s` are the default tier, in requests per second at the default cost."""

    read_per_s: float
    write_per_s: float
    buckets: dict[tuple[str, bool], _Bucket] = field(default_factory=dict)

    def check(self, key: str, write: bool, cost: int = limits.DEFAULT_COST, tier: str | None = None) -> None:
        budget = limits.budget(tier, self.read_per_s, self.write_per_s)
        rate = budget.refill(write)
        if rate <= 0 or cost <= 0:
            return
        now = time.monotonic()
        capacity = budget.capacity(write)
        bucket = self.buckets.get((key, write))
        if bucket is None:
            bucket = self.buckets[(key, write)] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < cost:
            if cost > capacity:  # a batch bigger than the bucket can ever hold
                raise ApiError(429, f"this request costs {cost} tokens, more than the {capacity:g} the "
                                    f"{'write' if write else 'read'} bucket holds", code="too_many_requests")
            retry = (cost - bucket.tokens) / rate
            raise ApiError(429, f"rate limit of {rate:g} {'write' if write else 'read'} tokens/s ({budget.tier} tier) "
                                f"exceeded; this request costs {cost}", code="too_many_requests",
                           headers={"Retry-After": str(max(1, round(retry + 0.5)))})
        bucket.tokens -= cost


class Authenticator:
    """Verifies signed requests against the keys stored by the exchange (cached once loaded)."""

    def __init__(self, service, *, window_ms: int, operator_token: str | None, limiter: RateLimiter,
                 builder_of: Callable[[str], str | None] | None = None,
                 tier_of: Callable[[int], str | None] | None = None) -> None:
        """`builder_of(key_id)`: the builder bound to a key; `tier_of(user_id)`: the user's API usage
        tier (api/app.py hands in exchange/api_access.py's)."""
        self.service = service
        self.window_ms = window_ms
        self.operator_token = operator_token
        self.limiter = limiter
        self.builder_of = builder_of or (lambda _key_id: None)
        self.tier_of = tier_of or (lambda _user_id: None)
        self._keys: dict[str, _Key] = {}

    def forget(self, key_id: str) -> None:
        """Drop a cached key (after it was deleted)."""
        self._keys.pop(key_id, None)

    def forget_user(self, user_id: int) -> None:
        """Drop the cached keys of a user (after its tier changed)."""
        for key_id in [k for k, v in self._keys.items() if v.user_id == user_id]:
            self._keys.pop(key_id, None)

    def key_builder(self, key_id: str) -> str | None:
        """The builder bound to a key, from the cached key (a rebinding forgets it, so the next
        order sees the new one): for doors that don't sign each request, like FIX."""
        key = self._key(key_id)
        return key.builder_code if key is not None else None

    def _key(self, key_id: str) -> _Key | None:
        key = self._keys.get(key_id)
        if key is not None:
            return key
        view = self.service.get_api_key(key_id)
        if view is None:
            return None
        public_key = load_pem_public_key(view.public_key_pem.encode())
        if not isinstance(public_key, rsa.RSAPublicKey):
            return None
        user = self.service.get_user(view.user_id)
        key = _Key(view.user_id, public_key, tuple(view.scopes), user.kind == "operator",
                   self.builder_of(key_id), self.tier_of(view.user_id))
        self._keys[key_id] = key
        return key

    def verify(self, headers, method: str, path: str, *, now_ms: int | None = None) -> Principal:
        """The principal of a signed request, or ApiError(401)."""
        key_id = headers.get(KEY_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        if not key_id or not signature or not timestamp:
            raise ApiError(401, f"missing {KEY_HEADER}, {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header",
                           code="authentication_error")
        try:
            ts = int(timestamp)
        except ValueError:
            raise ApiError(401, f"{TIMESTAMP_HEADER} must be Unix milliseconds", code="authentication_error") from None
        now = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(now - ts) > self.window_ms:
            raise ApiError(401, f"{TIMESTAMP_HEADER} is {abs(now - ts)} ms from the server clock "
                                f"(allowed {self.window_ms} ms)", code="authentication_error", details="stale timestamp")
        return self.verify_message(key_id, f"{timestamp}{method.upper()}{path}".encode(), signature,
                                   hint="sign timestamp + METHOD + path (no query) with RSA-PSS SHA-256")

    def verify_message(self, key_id: str, message: bytes, signature: str, *, hint: str = "") -> Principal:
        """The principal whose API key signed `message` (base64 RSA-PSS SHA-256), or ApiError(401).
        REST's headers and the FIX gateway's Logon (fix/session.py, handed this by `tandem api`) both end here."""
        key = self._key(key_id)
        if key is None:
            raise ApiError(401, "unknown API key", code="authentication_error")
        try:
            raw = base64.b64decode(signature, validate=True)
            key.public_key.verify(raw, message, _PSS_VERIFY, hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            raise ApiError(401, "signature does not verify", code="authentication_error", details=hint) from None
        return Principal(key.user_id, key_id, key.scopes, key.is_operator, key.builder_code, key.tier)

    def is_operator_token(self, headers) -> bool:
        auth = headers.get("authorization") or ""
        if not self.operator_token or not auth.lower().startswith("bearer "):
            return False
        return hmac.compare_digest(auth[7:].strip().encode(), self.operator_token.encode())


def request_path(request: Request) -> str:
    """The path as the client sent (and signed) it, without the query string."""
    raw = request.scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return request.url.path


def authorize(auth: Authenticator, headers, method: str, path: str) -> Principal:
    """The signed-in user of a Kalshi-prefixed request: signature, write scope, rate limit."""
    principal = auth.verify(headers, method, path)
    write = method in WRITE_METHODS
    if write and "write" not in principal.scopes and not any(s.startswith("write") for s in principal.scopes):
        raise ApiError(403, "this API key has no write scope", code="forbidden")
    auth.limiter.check(_bucket(principal), write, limits.endpoint_cost(method, path), principal.tier)
    return principal


def _bucket(principal: Principal) -> str:
    return f"user:{principal.user_id}"  # Kalshi's budgets are the account's, across its keys


def charge_items(auth: Authenticator, principal: Principal, method: str, path: str, items: int) -> None:
    """Batch endpoints bill every item: `authorize` took one item's cost; this takes the rest."""
    if items > 1:
        auth.limiter.check(_bucket(principal), method in WRITE_METHODS,
                           limits.endpoint_cost(method, path) * (items - 1), principal.tier)


async def current_user(request: Request) -> Principal:
    """FastAPI dependency: the signed-in user of a Kalshi-prefixed route, rate limited per key."""
    return authorize(request.app.state.auth, request.headers, request.method, request_path(request))


async def operator(request: Request) -> Principal | None:
    """FastAPI dependency of /operator routes: the operator token, or a signed operator user."""
    auth: Authenticator = request.app.state.auth
    if auth.is_operator_token(request.headers):
        return None
    if request.headers.get(KEY_HEADER):
        principal = auth.verify(request.headers, request.method, request_path(request))
        if principal.is_operator:
            return principal
        raise ApiError(403, "operator role required", code="forbidden")
    raise ApiError(401, "operator endpoints need Authorization: Bearer <operator token>", code="authentication_error")
