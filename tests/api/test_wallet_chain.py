"""The wallet endpoints against localnet (no bridge: the test hands the chain's events to the
relay routes itself): the API's transaction is an unsigned v0 message paid by the wallet that
the wallet signs and sends with solana-py alone; a wallet without SOL or without the escrow is
refused with a clear 400; an order's status follows the chain and the ledger."""
from __future__ import annotations

import base64
from types import SimpleNamespace

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from tests.api.conftest import OPERATOR_TOKEN, start_server, unique
from tests.api.test_errors_and_isolation import assert_kalshi_error
from tests.databases import fresh_database

pytestmark = pytest.mark.localnet
C = 1_000_000


@pytest.fixture(scope="module")
def chain_server(localnet, tmp_path_factory):
    home = tmp_path_factory.mktemp("wallet-chain")
    with fresh_database("sqlite", home, "wallet") as url:
        server = start_server(url, home, RPC_URL=localnet.url)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
async def env(chain_server, chain_setup, localnet):
    """A market listed by the exchange and created on chain (by the admin: no bridge here)."""
    from chain import instructions as ix
    from chain.client import ChainClient

    ticker = unique("WC").replace("-", "")
    async with httpx.AsyncClient(base_url=chain_server.base, timeout=30) as http, \
            httpx.AsyncClient(base_url=chain_server.base, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
                              timeout=30) as operator, \
            ChainClient(localnet.url, chain_setup.keys.admin) as admin:
        r = await operator.post("/operator/markets", json={"ticker": ticker, "title": ticker, "close_time": "2099-01-01T00:00:00Z"})
        assert r.status_code == 201, r.text
        await ix.create_market(admin, chain_setup.keys.admin, ticker=ticker, close_time=await admin.chain_time() + 3600,
                               collateral_mint=chain_setup.collateral_mint)
        rpc = AsyncClient(localnet.url, commitment=Confirmed)  # the wallet's own client
        try:
            yield SimpleNamespace(http=http, operator=operator, admin=admin, ticker=ticker, setup=chain_setup, rpc=rpc)
        finally:
            await rpc.close()


async def funded_wallet(env, sol: bool = True, collateral: int = 0) -> Keypair:
    from chain.client import LAMPORTS_PER_SOL
    from chain.setup import fund_collateral

    kp = Keypair()
    if sol:
        await env.admin.airdrop(kp.pubkey(), LAMPORTS_PER_SOL)
    if collateral:
        await fund_collateral(env.admin, env.setup.keys, kp.pubkey(), collateral, env.setup.collateral_mint)
    return kp


def body(wallet: Keypair, ticker: str, **over) -> dict:
    return {"wallet": str(wallet.pubkey()), "ticker": ticker, "side": "yes", "action": "buy", "count": "5.00",
            "price": "0.40", **over}


async def sign_and_send(rpc: AsyncClient, kp: Keypair, transaction: str) -> None:
    unsigned = VersionedTransaction.from_bytes(base64.b64decode(transaction))
    assert isinstance(unsigned.message, MessageV0)
    assert unsigned.message.account_keys[0] == kp.pubkey()  # the wallet pays
    signature = (await rpc.send_transaction(VersionedTransaction(unsigned.message, [kp]))).value
    await rpc.confirm_transaction(signature, Confirmed, sleep_seconds=0.1)
    assert (await rpc.get_signature_statuses([signature])).value[0].err is None


async def test_a_wallet_without_sol_or_escrow_is_refused(env):
    broke = await funded_wallet(env, sol=False)
    assert_kalshi_error(await env.http.post("/v1/wallet/orders", json=body(broke, env.ticker)), 400, "insufficient_sol")
    no_collateral = await funded_wallet(env)
    assert_kalshi_error(await env.http.post("/v1/wallet/orders", json=body(no_collateral, env.ticker)), 400,
                        "insufficient_balance")
    no_tokens = await funded_wallet(env, collateral=10 * C)
    r = await env.http.post("/v1/wallet/orders", json=body(no_tokens, env.ticker, action="sell"))
    assert_kalshi_error(r, 400, "insufficient_balance")
    # A market the exchange lists but the chain does not have yet.
    other = unique("WC").replace("-", "")
    assert (await env.operator.post("/operator/markets", json={"ticker": other, "close_time": "2099-01-01T00:00:00Z"})).status_code == 201
    assert_kalshi_error(await env.http.post("/v1/wallet/orders", json=body(no_tokens, other)), 400, "market_not_on_chain")


async def test_place_sign_send_and_follow_the_status(env):
    from chain.pdas import MarketAddresses
    from spl.token.instructions import get_associated_token_address

    kp = await funded_wallet(env, collateral=10 * C)
    r = await env.http.post("/v1/wallet/orders", json=body(kp, env.ticker))
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"order", "transaction", "last_valid_block_height"}
    await sign_and_send(env.rpc, kp, created["transaction"])
    order = created["order"]
    m = MarketAddresses.derive(env.admin.program_id, env.ticker)
    # The YES account (what fills pay) was created by the same transaction.
    assert (await env.rpc.get_account_info(get_associated_token_address(kp.pubkey(), m.yes_mint))).value is not None
    status = (await env.http.get(f"/v1/wallet/orders/{order}")).json()
    assert status == {"order": order, "status": "pending", "count": "5.00", "filled_count": "0.00", "fills": [], "reverted": []}
    account = await env.admin.fetch("WalletOrder", Pubkey.from_string(order))
    placed = {"order": order, "ticker": env.ticker, "owner": str(kp.pubkey()), "side": "yes", "action": "buy",
              "limit_price": account.limit_price, "size": account.size, "max_fee": account.max_fee,
              "escrowed": account.escrowed, "order_id": getattr(account, "order_id", 0)}
    assert (await env.operator.post("/v1/wallet/relay/placed", json=placed)).status_code == 200
    assert (await env.http.get(f"/v1/wallet/orders/{order}")).json()["status"] == "open"
    r = await env.http.post(f"/v1/wallet/orders/{order}/cancel")
    assert r.status_code == 200 and set(r.json()) == {"transaction"}, r.text
    await sign_and_send(env.rpc, kp, r.json()["transaction"])
    assert (await env.http.get(f"/v1/wallet/orders/{order}")).json()["status"] == "cancel_requested"
    assert_kalshi_error(await env.http.post(f"/v1/wallet/orders/{order}/cancel"), 400, "cancel_already_requested")
    ref = {"order": order, "order_id": placed["order_id"]}
    assert (await env.operator.post("/v1/wallet/relay/cancel_requested", json=ref)).json()["status"] == "canceled"
    # Cancelled in the CLOB, close_order not landed (no bridge here): still cancel_requested.
    assert (await env.http.get(f"/v1/wallet/orders/{order}")).json()["status"] == "cancel_requested"
    unknown = str(Keypair().pubkey())
    assert_kalshi_error(await env.http.get(f"/v1/wallet/orders/{unknown}"), 404, "order_not_found")
    assert_kalshi_error(await env.http.post(f"/v1/wallet/orders/{unknown}/cancel"), 404, "order_not_found")

