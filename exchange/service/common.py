"""Names every part of the service shares: market and order statuses, user kinds, new ids."""
from __future__ import annotations

import uuid

OPEN, HALTED, CLOSED, DETERMINED, FINALIZED = "open", "halted", "closed", "determined", "finalized"
RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"
WALLET = "wallet"  # users.kind of a Solana wallet trading through the bridge


def new_id() -> str:
    """A fresh id (orders, trades, fills, journals, outbox groups, withdrawals, API keys)."""
    return str(uuid.uuid4())
