"""Kalshi's token model of API limits: every request costs tokens (10 unless its endpoint is
listed cheaper), reads and writes draw on separate buckets, and a user's API usage tier sets
how many tokens per second each bucket refills (docs.kalshi.com, Rate limits).

Tiers are Kalshi's published budgets. A user the operator gave no tier has the venue's default
tier: the configured TANDEM_API_RATE_READ / _WRITE requests per second at the default cost.
Buckets hold two seconds of budget (Kalshi's write bucket; Tandem gives reads the same burst).
Batch endpoints bill every item, as on Kalshi.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_COST = 10
BURST_SECONDS = 2
DEFAULT_TIER = "default"

# tier -> (read tokens/s, write tokens/s)
TIERS: dict[str, tuple[int, int]] = {
    "basic": (200, 100), "advanced": (300, 300), "premier": (1000, 1000), "paragon": (2000, 2000),
    "prime": (4000, 4000),
}

# Endpoints that cost less than DEFAULT_COST (paths under /trade-api/v2, as the SDK names them).
# Kalshi lists cancellations and single-order reads as cheaper; a cancel counts 0.2 of a write.
CANCEL_COST = 2
ENDPOINT_COSTS: dict[tuple[str, str], int] = {
    ("DELETE", "/portfolio/orders/{order_id}"): CANCEL_COST,
    ("DELETE", "/portfolio/events/orders/{order_id}"): CANCEL_COST,
    ("DELETE", "/portfolio/orders/batched"): CANCEL_COST,  # per order in the batch
    ("DELETE", "/portfolio/events/orders/batched"): CANCEL_COST,  # per order in the batch
    ("GET", "/portfolio/orders/{order_id}"): 2,
}

PREFIX = "/trade-api/v2"
_MATCHERS = [(method, re.compile("^" + re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(PREFIX + path)) + "$"), cost)
             for (method, path), cost in ENDPOINT_COSTS.items()]


def endpoint_cost(method: str, path: str) -> int:
    """Tokens one request to `path` (as signed, no query) costs."""
    for m, pattern, cost in _MATCHERS:
        if m == method and pattern.match(path):
            return cost
    return DEFAULT_COST


@dataclass(frozen=True)
class Budget:
    """A tier's buckets: tokens per second refilled; capacity BURST_SECONDS of that."""

    tier: str
    read_per_s: float  # tokens
    write_per_s: float

    def refill(self, write: bool) -> float:
        return self.write_per_s if write else self.read_per_s

    def capacity(self, write: bool) -> float:
        return max(DEFAULT_COST, BURST_SECONDS * self.refill(write))


def budget(tier: str | None, default_read_per_s: float, default_write_per_s: float) -> Budget:
    """A tier's budget; None (or an unknown name) is the venue's default, in requests/s at the default cost."""
    if tier in TIERS:
        read, write = TIERS[tier]
        return Budget(tier, read, write)
    return Budget(DEFAULT_TIER, default_read_per_s * DEFAULT_COST, default_write_per_s * DEFAULT_COST)
