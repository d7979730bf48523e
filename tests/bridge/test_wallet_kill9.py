"""kill -9 of `tandem bridge` (the relay inside it) while wallets place orders and deposit: after
a restart every wallet order is in the CLOB exactly once and every deposit is credited exactly
once (the relay's checkpoints are saved after a batch is applied; both consumers are
idempotent); the ledger stays double-entry, custody == the custodial positions, and ledger seqs
and the program's sequenced events are a bijection. SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from tests.api.conftest import OPERATOR_TOKEN, start_server
from tests.bridge.test_wallet_e2e import Stack, eventually
from tests.databases import BACKENDS, fresh_database

pytestmark = pytest.mark.localnet

C = 1_000_000
ROUNDS = 12


@pytest.mark.parametrize("backend", BACKENDS)
async def test_relay_killed_repeatedly_loses_nothing_and_repeats_nothing(backend, tmp_path):
    from api.auth import sign
    from chain import instructions as ix
    from chain.client import ChainClient
    from chain.setup import ChainKeys
    from exchange.service import ExchangeService
    from tests.bridge.harness import BridgeProcess, bridge_env, check_bijection, start_localnet
    from tests.exchange.checks import check_ledger

    home = tmp_path / "home"
    keys = ChainKeys.load(home / "keys")
    chain = start_localnet(tmp_path, keys)
    rng = random.Random(9)
    try:
        with fresh_database(backend, tmp_path, "kill9") as db_url:
            server = start_server(db_url, tmp_path, RPC_URL=chain.url)
            port = server.base.rsplit(":", 1)[1]
            env = bridge_env(home, db_url, chain.url, TANDEM_API_HOST="127.0.0.1", TANDEM_API_PORT=port)
            env["TANDEM_OPERATOR_TOKEN"] = OPERATOR_TOKEN  # the relay hands wallet orders to this API
            bridge = BridgeProcess(env, tmp_path / "bridge.log").start()
            stack = Stack(server, db_url, chain.url, home / "keys", keys.collateral_mint.pubkey())
            http = httpx.AsyncClient(base_url=server.base, timeout=30)
            try:
                ticker = await stack.market()
                user = await stack.trader(cents=10_000)
                wallet = await stack.wallet(collateral=100 * C)
                path = "/v1/custody/deposit_reference"
                headers = {"KALSHI-ACCESS-KEY": user.key_id, **sign(user.private_key, int(time.time() * 1000), "GET", path)}
                reference = bytes.fromhex((await http.get(path, headers=headers)).json()["reference"])
                before = (await user.get_balance()).balance
                source = _ata(wallet.kp.pubkey(), stack.collateral_mint)
                orders = []
                kills = 0
                async with ChainClient(chain.url, wallet.kp) as c:
                    for i in range(ROUNDS):
                        # the bridge up (its start is ~2 s of imports), then events for the relay, then
                        # SIGKILL somewhere in its hand-over / credit / checkpoint
                        await asyncio.sleep(rng.uniform(1.5, 3.5))
                        orders.append(await wallet.place(ticker, "yes", "buy", "1.00", f"0.{30 + i % 10}"))
                        await c.send_and_confirm([ix.deposit_collateral_ix(c, depositor=wallet.kp.pubkey(), amount=C,
                                                                           account_ref=reference, source=source)])
                        await asyncio.sleep(rng.uniform(0.0, 0.4))
                        bridge.kill9()
                        kills += 1
                        bridge.start()
                assert kills == ROUNDS
                for order in orders:
                    await eventually(lambda: _open(wallet, order), timeout=120, what=f"{order} in the CLOB")

                async def credited() -> bool:
                    return (await user.get_balance()).balance == before + ROUNDS * 100

                await eventually(credited, timeout=120, what="every deposit credited")
                await asyncio.sleep(2)  # nothing more arrives
                assert (await user.get_balance()).balance == before + ROUNDS * 100
                book = (await http.get(f"/trade-api/v2/markets/{ticker}/orderbook")).json()["orderbook_fp"]["yes_dollars"]
                assert sum(float(count) for _price, count in book) == ROUNDS  # each wallet order once
                await stack.applied()
                svc = ExchangeService(db_url, migrate=False, restore=False)
                try:
                    check_ledger(svc)
                    assert len(svc.suspense_deposits()) == 0
                finally:
                    svc.close()
                await stack.custody_matches_ledger(ticker)
                from exchange.outbox_reader import OutboxReader

                async with ChainClient(chain.url, keys.admin) as c:
                    await check_bijection(c, OutboxReader.open(db_url))
                await wallet.close()
                await user.close()
            finally:
                bridge.stop()
                await http.aclose()
                await stack.operator.aclose()
                server.stop()
    finally:
        chain.stop()


async def _open(wallet, order: str) -> bool:
    return (await wallet.order(order))["status"] == "open"


def _ata(owner, mint):
    from spl.token.instructions import get_associated_token_address

    return get_associated_token_address(owner, mint)
