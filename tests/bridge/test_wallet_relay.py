"""The relay's durable checkpoints (bridge tables, migration b0002) on SQLite and PostgreSQL:
migrated by the bridge's own Alembic history, saved and read back, one row per follower."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from bridge import store as S
from bridge.relay import SIDES, RelayConfig
from bridge.relay_store import RelayStore
from chain.follower import Checkpoint
from exchange.db import normalize_url
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def relay_store(request, tmp_path):
    with fresh_database(request.param, tmp_path, "relay") as url:
        S.migrate(normalize_url(url))
        engine = create_engine(normalize_url(url))
        yield RelayStore(engine)
        engine.dispose()


def test_checkpoints_are_per_follower_and_survive_a_new_store(relay_store):
    assert relay_store.checkpoint("confirmed") == (None, 0)
    relay_store.save("confirmed", Checkpoint(10, "sig-a"), 2)
    relay_store.save("finalized", Checkpoint(7, "sig-b"), 1)
    relay_store.save("confirmed", Checkpoint(12, "sig-c"), 5)
    again = RelayStore(relay_store.engine)
    assert again.checkpoint("confirmed") == (Checkpoint(12, "sig-c"), 5)
    assert again.checkpoint("finalized") == (Checkpoint(7, "sig-b"), 1)


def test_order_sides_and_config():
    assert SIDES == {"BuyYes": ("yes", "buy"), "BuyNo": ("no", "buy"), "SellYes": ("yes", "sell"), "SellNo": ("no", "sell")}
    config = RelayConfig("http://127.0.0.1:1", lambda: "token-from-file")
    assert config.token() == "token-from-file"
