"""The service's clock: every part of the service reads time through `now_ms()` here, so a test
moves time for all of them at once (monkeypatch `exchange.service.clock.wall_ms`)."""
from __future__ import annotations

from exchange.models._base import now_ms as wall_ms


def now_ms() -> int:
    """Milliseconds since the epoch (the ledger's timestamps)."""
    return wall_ms()
