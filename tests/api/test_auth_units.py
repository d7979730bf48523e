"""Pure parts of the API: request signing as Kalshi checks it (own RSA keys, no server),
the per-key rate limiter, and the wire conversions."""
from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.errors import InvalidRequest
from exchange.schemas import ApiKeyView, UserView

from api.auth import Authenticator, RateLimiter, sign
from api.errors import ApiError
from api.schemas.convert import count_fp, dollars, parse_count, parse_dollars, rfc3339
from tests.api.conftest import new_private_key, public_pem

NOW = 1_800_000_000_000
PATH = "/trade-api/v2/portfolio/balance"


class Keys:
    """The two service calls the authenticator makes, over a dict."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKeyView] = {}
        self.lookups = 0

    def add(self, key_id: str, private, user_id: int = 7, scopes=("read", "write")) -> None:
        self.keys[key_id] = ApiKeyView(key_id, user_id, "k", public_pem(private), list(scopes), 0)

    def get_api_key(self, key_id: str):
        self.lookups += 1
        return self.keys.get(key_id)

    def get_user(self, user_id: int):
        return UserView(user_id, "u", "custodial", None, 0)


@pytest.fixture(scope="module")
def private():
    return new_private_key()


def auth_with(private, **kw) -> tuple[Authenticator, Keys]:
    keys = Keys()
    keys.add("key-1", private)
    return Authenticator(keys, window_ms=kw.get("window_ms", 30_000), operator_token="op",
                         limiter=RateLimiter(10, 10)), keys


def headers(private, ts=NOW, method="GET", path=PATH, key_id="key-1") -> dict:
    return {"KALSHI-ACCESS-KEY": key_id, **sign(private, ts, method, path)}


def test_a_good_signature_names_the_user_and_the_key_is_cached(private):
    auth, keys = auth_with(private)
    principal = auth.verify(headers(private), "GET", PATH, now_ms=NOW)
    assert (principal.user_id, principal.key_id, principal.is_operator) == (7, "key-1", False)
    auth.verify(headers(private, ts=NOW + 5), "GET", PATH, now_ms=NOW + 10)
    assert keys.lookups == 1


def test_the_query_string_is_not_signed(private):
    auth, _ = auth_with(private)
    signed = headers(private, path=PATH + "?limit=5")  # a client that signed with the query: sign() strips it
    assert auth.verify(signed, "GET", PATH, now_ms=NOW).user_id == 7


@pytest.mark.parametrize("change", ["method", "path", "timestamp", "key"])
def test_anything_changed_after_signing_is_refused(private, change):
    auth, keys = auth_with(private)
    keys.add("key-2", new_private_key())
    h = headers(private)
    method, path = "GET", PATH
    if change == "method":
        method = "DELETE"
    elif change == "path":
        path = "/trade-api/v2/portfolio/positions"
    elif change == "timestamp":
        h["KALSHI-ACCESS-TIMESTAMP"] = str(NOW + 1)
    else:
        h["KALSHI-ACCESS-KEY"] = "key-2"
    with pytest.raises(ApiError) as err:
        auth.verify(h, method, path, now_ms=NOW)
    assert err.value.status == 401 and err.value.message == "signature does not verify"


def test_stale_and_future_timestamps_are_refused(private):
    auth, _ = auth_with(private, window_ms=5_000)
    assert auth.verify(headers(private, ts=NOW - 5_000), "GET", PATH, now_ms=NOW)
    for ts in (NOW - 5_001, NOW + 5_001):
        with pytest.raises(ApiError) as err:
            auth.verify(headers(private, ts=ts), "GET", PATH, now_ms=NOW)
        assert err.value.status == 401 and err.value.details == "stale timestamp"


@pytest.mark.parametrize("mutate", [
    lambda h: h.pop("KALSHI-ACCESS-SIGNATURE"),
    lambda h: h.pop("KALSHI-ACCESS-TIMESTAMP"),
    lambda h: h.update({"KALSHI-ACCESS-TIMESTAMP": "yesterday"}),
    lambda h: h.update({"KALSHI-ACCESS-SIGNATURE": "not base64!"}),
    lambda h: h.update({"KALSHI-ACCESS-SIGNATURE": base64.b64encode(b"x" * 256).decode()}),
    lambda h: h.update({"KALSHI-ACCESS-KEY": "no-such-key"}),
])
def test_malformed_or_unknown_credentials_are_401(private, mutate):
    auth, _ = auth_with(private)
    h = headers(private)
    mutate(h)
    with pytest.raises(ApiError) as err:
        auth.verify(h, "GET", PATH, now_ms=NOW)
    assert err.value.status == 401 and err.value.code == "authentication_error"


def test_another_users_key_cannot_sign_for_this_one(private):
    auth, keys = auth_with(private)
    other = new_private_key()
    keys.add("key-other", other, user_id=8)
    # Signed by `other` but presented under key-1: refused.
    forged = {"KALSHI-ACCESS-KEY": "key-1", **sign(other, NOW, "GET", PATH)}
    with pytest.raises(ApiError):
        auth.verify(forged, "GET", PATH, now_ms=NOW)
    assert auth.verify(headers(other, key_id="key-other"), "GET", PATH, now_ms=NOW).user_id == 8


def test_operator_token(private):
    auth, _ = auth_with(private)
    assert auth.is_operator_token({"authorization": "Bearer op"})
    assert not auth.is_operator_token({"authorization": "Bearer nope"})
    assert not auth.is_operator_token({})


def test_rate_limiter_refuses_past_the_burst_then_refills(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("api.auth.time.monotonic", lambda: clock[0])
    limiter = RateLimiter(read_per_s=5, write_per_s=1)
    for _ in range(10):  # burst = 2 x rate
        limiter.check("k", write=False)
    with pytest.raises(ApiError) as err:
        limiter.check("k", write=False)
    assert err.value.status == 429 and "Retry-After" in err.value.headers
    limiter.check("other-key", write=False)  # per key
    limiter.check("k", write=True)  # reads and writes are separate buckets
    clock[0] += 0.2  # one read token back
    limiter.check("k", write=False)
    with pytest.raises(ApiError):
        limiter.check("k", write=False)


def test_conversions_by_example():
    assert (dollars(560_000), dollars(1_000_000), dollars(0), dollars(-25_000), dollars(123)) == \
        ("0.5600", "1.0000", "0.0000", "-0.0250", "0.000123")
    assert (count_fp(10_000_000), count_fp(10_000), count_fp(-2_500_000)) == ("10.00", "0.01", "-2.50")
    assert (parse_dollars("0.56"), parse_dollars("0.5600"), parse_dollars("1")) == (560_000, 560_000, 1_000_000)
    assert (parse_count("10"), parse_count("0.01"), parse_count("2.50")) == (10_000_000, 10_000, 2_500_000)
    assert rfc3339(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    for bad in ("", "abc", "NaN", "0.0000001"):
        with pytest.raises(InvalidRequest):
            parse_dollars(bad)
    for bad in ("0.001", "1e-3", "x"):
        with pytest.raises(InvalidRequest):
            parse_count(bad)


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_dollars_round_trip(units):
    assert parse_dollars(dollars(units)) == units


@given(st.integers(min_value=-10**8, max_value=10**8))
def test_count_round_trip(hundredths):
    assert parse_count(count_fp(hundredths * 10_000)) == hundredths * 10_000
