"""Fixtures of the bridge tests: each test its own localnet and database (see harness.py)."""
from __future__ import annotations

import pytest

from chain.setup import ChainKeys
from exchange.service import ExchangeService
from tests.databases import BACKENDS, fresh_database

from .harness import World, start_localnet


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def world(backend, tmp_path):
    home = tmp_path / "home"
    keys = ChainKeys.load(home / "keys")
    chain = start_localnet(tmp_path, keys)
    try:
        with fresh_database(backend, tmp_path, "bridge") as url:
            svc = ExchangeService(url)
            w = World(tmp_path, home, url, chain, keys, svc)
            for name in ("a", "b", "c"):
                w.user(name)
            try:
                yield w
            finally:
                svc.close()
                svc.db.dispose()
    finally:
        chain.stop()
