"""Kalshi's token model in the rate limiter (api/limits.py, api/auth.RateLimiter), on a fake
clock: endpoint costs, tiers' budgets and bursts, batch billing."""
from __future__ import annotations

import pytest

from api import limits
from api.auth import RateLimiter
from api.errors import ApiError


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("api.auth.time.monotonic", lambda: now[0])
    return now


def test_endpoint_costs():
    assert limits.endpoint_cost("DELETE", "/trade-api/v2/portfolio/events/orders/abc-123") == 2
    assert limits.endpoint_cost("DELETE", "/trade-api/v2/portfolio/orders/batched") == 2
    assert limits.endpoint_cost("GET", "/trade-api/v2/portfolio/orders/abc") == 2
    assert limits.endpoint_cost("GET", "/trade-api/v2/portfolio/orders") == 10
    assert limits.endpoint_cost("POST", "/trade-api/v2/portfolio/events/orders") == 10
    assert limits.endpoint_cost("DELETE", "/trade-api/v2/portfolio/events/orders/a/b") == 10  # no template matches


def test_tiers_set_the_budgets_and_cheap_endpoints_cost_less(clock):
    limiter = RateLimiter(read_per_s=1000, write_per_s=1000)  # the default tier: far above basic
    # Basic writes: 100 tokens/s, a bucket of 200: 20 orders at 10, then refused.
    for _ in range(20):
        limiter.check("u", True, 10, "basic")
    with pytest.raises(ApiError) as err:
        limiter.check("u", True, 10, "basic")
    assert err.value.status == 429 and "basic tier" in err.value.message
    assert err.value.headers["Retry-After"] == "1"
    clock[0] += 0.03  # 3 tokens back: a cancel (cost 2) passes, an order (10) does not
    limiter.check("u", True, limits.CANCEL_COST, "basic")
    with pytest.raises(ApiError):
        limiter.check("u", True, 10, "basic")
    # Reads are another bucket; premier's is bigger.
    for _ in range(200):
        limiter.check("u", False, 10, "premier")
    with pytest.raises(ApiError):
        limiter.check("u", False, 10, "premier")
    # The default tier: the configured requests/s at the default cost.
    for _ in range(2000):
        limiter.check("v", True)
    with pytest.raises(ApiError):
        limiter.check("v", True)


def test_a_batch_larger_than_the_bucket_is_refused_without_waiting(clock):
    limiter = RateLimiter(read_per_s=10, write_per_s=10)  # default: 100 tokens/s, 200 in the bucket
    with pytest.raises(ApiError) as err:
        limiter.check("u", True, 210)
    assert err.value.status == 429 and "more than" in err.value.message and not err.value.headers
    limiter.check("u", True, 200)  # exactly the bucket
    with pytest.raises(ApiError):
        limiter.check("u", True, 1)
