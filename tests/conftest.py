"""Session-wide fixtures shared by every test folder.

`localnet`: one localnet process (the program inside a real Solana runtime, over
JSON-RPC) per pytest session, on a free port, stopped at the end. The binary is
TANDEM_LOCALNET_BIN if set (`make test` builds it first), else it is built with
`cargo build -p localnet`. Tests create their own keypairs, mints and markets, so
they share the chain without sharing state.
"""
from __future__ import annotations

import os

import pytest

from chain.localnet import Localnet, binary_path, build

# Fast slots keep confirmation waits short; finality still trails confirmed as on a cluster.
TEST_SLOT_MS = int(os.environ.get("TANDEM_TEST_SLOT_MS", "50"))


@pytest.fixture(scope="session")
def localnet(tmp_path_factory, chain_keys):
    binary = binary_path() if os.environ.get("TANDEM_LOCALNET_BIN") else build(quiet=True)
    # The session admin is the program's upgrade authority: only it may initialize the exchange.
    chain = Localnet(slot_ms=TEST_SLOT_MS, binary=binary, log_path=tmp_path_factory.mktemp("localnet") / "localnet.log",
                     upgrade_authority=chain_keys.admin.pubkey())
    chain.start()
    try:
        yield chain
    finally:
        chain.stop()


@pytest.fixture(scope="session")
def rpc_url(localnet) -> str:
    return localnet.url


@pytest.fixture(scope="session")
def tandem_home(tmp_path_factory):
    """TANDEM_HOME of the session chain's operator (its keys/ hold admin, bridge, resolver, collateral mint)."""
    return tmp_path_factory.mktemp("tandem-home")


@pytest.fixture(scope="session")
def chain_keys(tandem_home):
    from chain.setup import ChainKeys

    return ChainKeys.load(tandem_home / "keys")


# Short timeouts so force_close and finalize are testable in seconds.
TEST_FORCE_CLOSE_SLOTS = 5


@pytest.fixture(scope="session")
async def chain_setup(localnet, chain_keys):
    """The session chain brought up as `tandem chain init` does: collateral mint, exchange (no demo market).

    Tests create their own markets (unique tickers) and users; a test that changes
    exchange-wide state (pause, authorities) restores it before it ends.
    """
    from chain.client import ChainClient
    from chain.setup import ExchangeSettings, init_chain

    settings = ExchangeSettings(force_close_slots=TEST_FORCE_CLOSE_SLOTS, dispute_window_secs=0)
    async with ChainClient(localnet.url, chain_keys.admin) as client:
        return await init_chain(client, chain_keys, demo_ticker=None, settings=settings)
