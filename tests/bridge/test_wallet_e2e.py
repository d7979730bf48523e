"""End to end on localnet with a real database (SQLite and PostgreSQL): `tandem api` (a real
server), the bridge with its relay (in this process, so the test can stop and restart it),
custodial users on the Kalshi SDK, and wallets that have nothing but solana-py, solders, httpx
and their keypair: they ask the API for a transaction, sign it, send it, and read their
balances from the chain.

Scenarios: a wallet's buy rests in the CLOB and a custodial user sells YES to it (custody
mints the set), the wallet holds the tokens; the wallet sells back (custody merges); wallet vs
wallet; a cancel the operator answers (close_order) and one the owner force-closes with the
bridge stopped; a deposit credited once; a withdrawal that lands. After each: custody's
tokens on chain == the custodial positions in the ledger.
"""
from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from tests.api.conftest import OPERATOR_TOKEN, new_private_key, public_pem, sdk_client, start_server, unique
from tests.databases import BACKENDS, fresh_database

pytestmark = pytest.mark.localnet

C = 1_000_000
GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}


async def eventually(check: Callable[[], Awaitable[object]], timeout: float = 120.0, what: str = "condition") -> object:
    """Poll `check` until it returns something truthy (generous: the test machines run loaded)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = await check()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


# ---------------------------------------------------------------------------------- the wallet
class Wallet:
    """A DeFi wallet: its keypair, solana-py and the API's JSON. No Tandem code."""

    def __init__(self, rpc_url: str, api: str) -> None:
        self.kp = Keypair()
        self.rpc = AsyncClient(rpc_url, commitment=Confirmed)
        self.http = httpx.AsyncClient(base_url=api, timeout=30)

    @property
    def address(self) -> str:
        return str(self.kp.pubkey())

    async def sign_and_send(self, transaction_b64: str) -> str:
        unsigned = VersionedTransaction.from_bytes(base64.b64decode(transaction_b64))
        assert unsigned.message.account_keys[0] == self.kp.pubkey()  # I pay the fee
        signed = VersionedTransaction(unsigned.message, [self.kp])
        signature = (await self.rpc.send_transaction(signed)).value
        await self.rpc.confirm_transaction(signature, Confirmed, sleep_seconds=0.1)
        status = (await self.rpc.get_signature_statuses([signature])).value[0]
        assert status is not None and status.err is None, status
        return str(signature)

    async def place(self, ticker: str, side: str, action: str, count: str, price: str) -> str:
        r = await self.http.post("/v1/wallet/orders", json={"wallet": self.address, "ticker": ticker, "side": side,
                                                             "action": action, "count": count, "price": price})
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {"order", "transaction", "last_valid_block_height"}
        await self.sign_and_send(body["transaction"])
        return body["order"]

    async def order(self, order: str) -> dict:
        r = await self.http.get(f"/v1/wallet/orders/{order}")
        assert r.status_code == 200, r.text
        return r.json()

    async def cancel(self, order: str) -> str:
        r = await self.http.post(f"/v1/wallet/orders/{order}/cancel")
        assert r.status_code == 200, r.text
        return await self.sign_and_send(r.json()["transaction"])

    async def token_balance(self, account: Pubkey) -> int:
        if (await self.rpc.get_account_info(account)).value is None:
            return 0
        return int((await self.rpc.get_token_account_balance(account)).value.amount)

    async def close(self) -> None:
        await self.rpc.close()
        await self.http.aclose()


# ---------------------------------------------------------------------------------- the stack
class Stack:
    def __init__(self, server, db_url: str, rpc_url: str, keys_dir, collateral_mint: Pubkey) -> None:
        self.server, self.db_url, self.rpc_url, self.keys_dir = server, db_url, rpc_url, keys_dir
        self.collateral_mint = collateral_mint
        self.operator = httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
                                          timeout=30)
        self.bridge = None
        self.task: asyncio.Task | None = None

    async def start_bridge(self) -> None:
        from bridge.relay import RelayConfig, api_reverter, relay_task
        from bridge.runner import Bridge, BridgeConfig
        from chain.setup import ExchangeSettings
        from exchange.outbox_reader import OutboxReader
        from tests.conftest import TEST_FORCE_CLOSE_SLOTS

        config = BridgeConfig(db_url=self.db_url, rpc_url=self.rpc_url, keys_dir=self.keys_dir, console=False,
                              poll_seconds=0.05, exchange_settings=ExchangeSettings(force_close_slots=TEST_FORCE_CLOSE_SLOTS))
        api = RelayConfig(self.server.base, OPERATOR_TOKEN, poll_seconds=0.1)
        # wired as `tandem bridge` wires it: reverts reach the API, the process that owns the books
        self.bridge = Bridge(config, reader=OutboxReader.open(self.db_url, reverter=api_reverter(api)))
        relay = relay_task(api)
        self.task = asyncio.create_task(self.bridge.run([relay]))

    async def stop_bridge(self) -> None:
        self.bridge.stop()
        await asyncio.wait_for(self.task, 30)
        self.task = None

    async def market(self) -> str:
        from chain import pdas
        from chain.client import ChainClient

        ticker = unique("W").replace("-", "")[:20]
        r = await self.operator.post("/operator/markets", json={"ticker": ticker, "title": ticker,
                                                                 "close_time": "2099-01-01T00:00:00Z"})
        assert r.status_code == 201, r.text
        async with ChainClient(self.rpc_url, Keypair()) as c:
            await eventually(lambda: c.fetch("Market", pdas.market(c.program_id, ticker)), what=f"market {ticker} on chain")
        return ticker

    async def trader(self, cents: int = 100_000):
        key = new_private_key()
        r = await self.operator.post("/operator/users", json={"name": unique("trader"), "public_key": public_pem(key)})
        assert r.status_code == 201, r.text
        body = r.json()
        if cents:
            assert (await self.operator.post(f"/operator/users/{body['user_id']}/fund", json={"cents": cents})).status_code == 200
        client = sdk_client(self.server, body["api_key_id"], key)
        client.user_id, client.key_id, client.private_key = body["user_id"], body["api_key_id"], key
        return client

    async def wallet(self, collateral: int = 100 * C) -> Wallet:
        """A wallet with SOL and collateral (the localnet faucet, the harness's doing)."""
        from chain.client import LAMPORTS_PER_SOL, ChainClient
        from chain.setup import ChainKeys, fund_collateral

        w = Wallet(self.rpc_url, self.server.base)
        keys = ChainKeys.load(self.keys_dir)
        async with ChainClient(self.rpc_url, keys.admin) as c:
            await c.airdrop(w.kp.pubkey(), 2 * LAMPORTS_PER_SOL)
            if collateral:
                await fund_collateral(c, keys, w.kp.pubkey(), collateral, self.collateral_mint)
        return w

    def addresses(self, ticker: str):
        from chain.idl import load_idl
        from chain.pdas import MarketAddresses

        return MarketAddresses.derive(Pubkey.from_string(load_idl().metadata["address"]), ticker)

    async def applied(self) -> None:
        """Wait until the bridge has applied every outbox record."""
        from exchange.outbox_reader import OutboxReader

        reader = OutboxReader.open(self.db_url)

        async def done():
            return all(reader.applied_seq(s) >= last for s, last in reader.streams().items())

        await eventually(done, timeout=90, what="the bridge to apply the outbox")

    async def custody_matches_ledger(self, ticker: str) -> None:
        """Invariant 2: custody's YES/NO on chain == the custodial users' positions in the ledger."""
        from chain.client import ChainClient
        from exchange.service import ExchangeService
        from tests.bridge.test_wallet_orders import custody_matches_ledger as from_outbox

        await self.applied()
        svc = ExchangeService(self.db_url, migrate=False, restore=False)
        try:
            _custody, ledger = from_outbox(svc, ticker)
        finally:
            svc.close()
        m = self.addresses(ticker)
        async with ChainClient(self.rpc_url, Keypair()) as c:
            on_chain = {"yes": await c.token_balance(m.custody_yes), "no": await c.token_balance(m.custody_no)}
            assert on_chain == ledger, (on_chain, ledger)
            from exchange.outbox_reader import OutboxReader
            from tests.bridge.harness import check_bijection

            await check_bijection(c, OutboxReader.open(self.db_url))  # invariant 3: every record applied once

    async def close(self) -> None:
        if self.task is not None:
            await self.stop_bridge()
        await self.operator.aclose()


@pytest.fixture(scope="module", params=BACKENDS)
async def stack(request, tmp_path_factory):
    """Its own localnet (custody's exchange-wide stream starts at seq 1 with this database)."""
    from chain.setup import ChainKeys
    from tests.bridge.harness import start_localnet

    tmp = tmp_path_factory.mktemp(f"wallet-e2e-{request.param}")
    keys = ChainKeys.load(tmp / "home" / "keys")
    chain = start_localnet(tmp, keys)
    try:
        with fresh_database(request.param, tmp, "wallet") as db_url:
            server = start_server(db_url, tmp, RPC_URL=chain.url)
            s = Stack(server, db_url, chain.url, tmp / "home" / "keys", keys.collateral_mint.pubkey())
            try:
                await s.start_bridge()
                await s.applied()
                yield s
            finally:
                await s.close()
                server.stop()
    finally:
        chain.stop()


async def bid(client, ticker: str, count: str, price: str):
    return await client.create_order_v2(ticker=ticker, side="bid", count=count, price=price, **GTC)


async def ask(client, ticker: str, count: str, price: str):
    return await client.create_order_v2(ticker=ticker, side="ask", count=count, price=price, **GTC)


# ---------------------------------------------------------------------------------- scenarios
async def test_wallet_buys_yes_from_a_custodial_seller_and_sells_back(stack):
    ticker = await stack.market()
    m = stack.addresses(ticker)
    w = await stack.wallet()
    seller = await stack.trader()
    try:
        order = await w.place(ticker, "yes", "buy", "10.00", "0.40")
        await eventually(lambda: _status(w, order, "open"), what="the wallet order in the CLOB")
        book = (await httpx.AsyncClient(base_url=stack.server.host).get(f"/markets/{ticker}/orderbook")).json()
        assert ["0.4000", "10.00"] in book["orderbook_fp"]["yes_dollars"]
        await ask(seller, ticker, "10.00", "0.40")  # the custodial user sells YES (opens NO: custody mints the set)
        status = await eventually(lambda: _status(w, order, "filled"), what="the fill")
        assert status["filled_count"] == "10.00"
        yes_account = _ata(w.kp.pubkey(), m.yes_mint)
        await eventually(lambda: _equals(w.token_balance(yes_account), 10 * C), what="the wallet's YES")
        # the settle_fill's signature is recorded once the bridge has seen it confirmed (just after the wallet can)
        body = await eventually(lambda: _signed_fills(w, order), what="the fill's settle_fill signature")
        fill = body["fills"][0]
        assert fill["count"] == "10.00" and fill["price"] == "0.4000" and fill["signature"]
        positions = (await seller.get_positions(ticker=ticker)).market_positions
        assert positions[0].position_fp == "-10.00"
        await stack.custody_matches_ledger(ticker)
        # And back: the wallet sells 4 YES at 0.55; the custodial user (holding NO) buys YES: a merge.
        sell = await w.place(ticker, "yes", "sell", "4.00", "0.55")
        await eventually(lambda: _status(w, sell, "open"), what="the wallet's sell in the CLOB")
        await bid(seller, ticker, "4.00", "0.55")
        await eventually(lambda: _status(w, sell, "filled"), what="the wallet's sell to fill")
        await eventually(lambda: _equals(w.token_balance(yes_account), 6 * C), what="the wallet's YES after selling")
        assert (await seller.get_positions(ticker=ticker)).market_positions[0].position_fp == "-6.00"
        await stack.custody_matches_ledger(ticker)
    finally:
        await w.close()
        await seller.close()


async def test_wallet_against_wallet(stack):
    ticker = await stack.market()
    m = stack.addresses(ticker)
    maker, taker = await stack.wallet(), await stack.wallet()
    minter = await stack.trader()
    try:
        # The maker first buys YES from custody's side (a custodial NO buyer), then sells them to the taker.
        buy = await maker.place(ticker, "yes", "buy", "3.00", "0.50")
        await eventually(lambda: _status(maker, buy, "open"))
        await ask(minter, ticker, "3.00", "0.50")
        await eventually(lambda: _status(maker, buy, "filled"))  # in the CLOB; on chain once the bridge settled it
        await eventually(lambda: _equals(maker.token_balance(_ata(maker.kp.pubkey(), m.yes_mint)), 3 * C))
        sell = await maker.place(ticker, "yes", "sell", "3.00", "0.60")
        await eventually(lambda: _status(maker, sell, "open"))
        take = await taker.place(ticker, "yes", "buy", "3.00", "0.65")
        await eventually(lambda: _status(taker, take, "filled"), what="wallet vs wallet")
        await eventually(lambda: _status(maker, sell, "filled"))
        await eventually(lambda: _equals(taker.token_balance(_ata(taker.kp.pubkey(), m.yes_mint)), 3 * C))
        assert await maker.token_balance(_ata(maker.kp.pubkey(), m.yes_mint)) == 0
        await stack.custody_matches_ledger(ticker)
    finally:
        await maker.close()
        await taker.close()
        await minter.close()


async def test_cancel_answered_by_the_operator(stack):
    ticker = await stack.market()
    w = await stack.wallet(collateral=10 * C)
    try:
        collateral = _ata(w.kp.pubkey(), stack.collateral_mint)
        before = await w.token_balance(collateral)
        order = await w.place(ticker, "no", "buy", "5.00", "0.30")
        await eventually(lambda: _status(w, order, "open"))
        assert await w.token_balance(collateral) < before  # escrowed
        await w.cancel(order)
        await eventually(lambda: _status(w, order, "closed"), what="close_order")
        assert await w.token_balance(collateral) == before  # the whole escrow back
        await stack.custody_matches_ledger(ticker)
    finally:
        await w.close()


async def test_force_close_with_the_bridge_stopped(stack):
    from chain import instructions as ix
    from chain.client import ChainClient
    from tests.conftest import TEST_FORCE_CLOSE_SLOTS

    ticker = await stack.market()
    w = await stack.wallet(collateral=10 * C)
    try:
        collateral = _ata(w.kp.pubkey(), stack.collateral_mint)
        before = await w.token_balance(collateral)
        order = await w.place(ticker, "yes", "buy", "5.00", "0.20")
        await eventually(lambda: _status(w, order, "open"))
        await stack.stop_bridge()  # the operator stops answering
        await w.cancel(order)
        assert (await w.order(order))["status"] == "cancel_requested"
        start = (await w.rpc.get_slot()).value
        await eventually(lambda: _slot_past(w, start + TEST_FORCE_CLOSE_SLOTS + 1), what="force_close_slots")
        # force_close: the program's instruction, which the API does not serve (built with chain/).
        async with ChainClient(stack.rpc_url, w.kp) as c:
            await c.send_and_confirm([ix.force_close_ix(c, owner=w.kp.pubkey(), order=Pubkey.from_string(order),
                                                        refund_account=collateral)])
        assert await w.token_balance(collateral) == before
        await stack.start_bridge()  # the relay catches up: CLOB cancel, no close_order
        await eventually(lambda: _status(w, order, "closed"), what="the relay to see the force_close")
        book = (await httpx.AsyncClient(base_url=stack.server.host).get(f"/markets/{ticker}/orderbook")).json()
        assert book["orderbook_fp"]["yes_dollars"] == []
        await stack.custody_matches_ledger(ticker)
    finally:
        if stack.task is None:
            await stack.start_bridge()
        await w.close()


async def test_a_fill_the_chain_refuses_after_force_close_is_reverted(stack):
    """The rare case: the CLOB filled the order while the bridge was down, and the owner
    force-closed it meanwhile. The settle_fill can never land: the ledger reverses the trade and
    the order's status lists the fill under `reverted`."""
    from chain import instructions as ix
    from chain.client import ChainClient
    from tests.conftest import TEST_FORCE_CLOSE_SLOTS

    ticker = await stack.market()
    w = await stack.wallet(collateral=10 * C)
    seller = await stack.trader()
    try:
        collateral = _ata(w.kp.pubkey(), stack.collateral_mint)
        before = await w.token_balance(collateral)
        order = await w.place(ticker, "yes", "buy", "2.00", "0.40")
        await eventually(lambda: _status(w, order, "open"))
        await stack.stop_bridge()
        await ask(seller, ticker, "2.00", "0.40")  # filled in the CLOB; its settle_fill waits for the bridge
        assert (await w.order(order))["status"] == "filled"
        await w.cancel(order)
        start = (await w.rpc.get_slot()).value
        await eventually(lambda: _slot_past(w, start + TEST_FORCE_CLOSE_SLOTS + 1), what="force_close_slots")
        async with ChainClient(stack.rpc_url, w.kp) as c:
            await c.send_and_confirm([ix.force_close_ix(c, owner=w.kp.pubkey(), order=Pubkey.from_string(order),
                                                        refund_account=collateral)])
        assert await w.token_balance(collateral) == before  # the owner has the whole escrow back
        # The seller is told on the `fill` channel: the revert runs in the API (the bridge hands
        # it over), the process whose WebSocket the seller listens to.
        from tests.api.test_ws import connect

        seller_ws = await connect(stack.server, seller)
        await seller_ws.send("subscribe", channels=["fill"])
        await seller_ws.recv_type("subscribed")
        await stack.start_bridge()
        status = await eventually(lambda: _reverted(w, order), timeout=90, what="the refused fill reverted")
        notice = await seller_ws.recv_type("fill", timeout=30)
        assert notice["msg"].get("reverted") is True and notice["msg"]["market_ticker"] == ticker, notice
        await seller_ws.ws.close()
        assert status["fills"] == [] and status["reverted"][0]["count"] == "2.00"
        await stack.applied()
        assert (await seller.get_positions(ticker=ticker)).market_positions == []  # the trade is undone
        await stack.custody_matches_ledger(ticker)
    finally:
        if stack.task is None:
            await stack.start_bridge()
        await w.close()
        await seller.close()


async def test_deposit_is_credited_once_and_a_withdrawal_lands(stack):
    from api.auth import sign
    from chain import instructions as ix
    from chain.client import ChainClient

    user = await stack.trader(cents=10_000)
    w = await stack.wallet(collateral=20 * C)
    http = httpx.AsyncClient(base_url=stack.server.base, timeout=30)

    def signed(method: str, path: str) -> dict:
        return {"KALSHI-ACCESS-KEY": user.key_id, **sign(user.private_key, int(time.time() * 1000), method, path)}

    try:
        path = "/v1/custody/deposit_reference"
        reference = (await http.get(path, headers=signed("GET", path))).json()["reference"]
        before = (await user.get_balance()).balance
        collateral = _ata(w.kp.pubkey(), stack.collateral_mint)
        async with ChainClient(stack.rpc_url, w.kp) as c:  # the wallet deposits $7 naming the reference
            await c.send_and_confirm([ix.deposit_collateral_ix(c, depositor=w.kp.pubkey(), amount=7 * C,
                                                               account_ref=bytes.fromhex(reference), source=collateral)])
        await eventually(lambda: _equals(_balance(user), before + 700), what="the deposit credited at finalized")
        # A reference no user has: the collateral is custody's, the ledger holds it in suspense.
        async with ChainClient(stack.rpc_url, w.kp) as c:
            stray = await c.send_and_confirm([ix.deposit_collateral_ix(c, depositor=w.kp.pubkey(), amount=1 * C,
                                                                       account_ref=bytes(16), source=collateral)])
        await eventually(lambda: _in_suspense(stack.db_url, str(stray.signature)), what="the stray deposit in suspense")
        await stack.stop_bridge()
        await stack.start_bridge()  # the relay restarts from its checkpoint: nothing credited twice
        await asyncio.sleep(3)
        assert (await user.get_balance()).balance == before + 700
        # A withdrawal of cash to the wallet lands.
        path = "/v1/custody/withdrawals"
        r = await http.post(path, json={"side": "cash", "count": "5.00", "wallet": w.address}, headers=signed("POST", path))
        assert r.status_code == 201, r.text
        one = f"{path}/{r.json()['withdrawal_id']}"
        landed = await eventually(lambda: _withdrawal(http, one, signed("GET", one), "finalized"), timeout=90)
        assert landed["signature"]
        assert await w.token_balance(collateral) == 20 * C - 7 * C - 1 * C + 5 * C
    finally:
        await http.aclose()
        await user.close()
        await w.close()


# ---------------------------------------------------------------------------------- helpers
async def _status(w: Wallet, order: str, status: str) -> dict | None:
    body = await w.order(order)
    return body if body["status"] == status else None


async def _signed_fills(w: Wallet, order: str) -> dict | None:
    body = await w.order(order)
    return body if body["fills"] and all(f["signature"] for f in body["fills"]) else None


async def _reverted(w: Wallet, order: str) -> dict | None:
    body = await w.order(order)
    return body if body["reverted"] else None


async def _equals(awaitable, value) -> bool:
    return (await awaitable) == value


async def _balance(client) -> int:
    return (await client.get_balance()).balance


async def _in_suspense(db_url: str, signature: str) -> bool:
    from exchange.service import ExchangeService

    svc = ExchangeService(db_url, migrate=False, restore=False)
    try:
        return [(d.signature, d.amount) for d in svc.suspense_deposits()] == [(signature, 1 * C)]
    finally:
        svc.close()


async def _slot_past(w: Wallet, slot: int) -> bool:
    return (await w.rpc.get_slot()).value > slot


async def _withdrawal(http: httpx.AsyncClient, path: str, headers: dict, status: str) -> dict | None:
    body = (await http.get(path, headers=headers)).json()
    return body if body["status"] == status else None


def _ata(owner: Pubkey, mint: Pubkey) -> Pubkey:
    from spl.token.instructions import get_associated_token_address

    return get_associated_token_address(owner, mint)


async def test_tokens_withdrawn_to_a_wallet_and_deposited_back(stack):
    from api.auth import sign
    from chain import instructions as ix
    from chain.client import ChainClient

    ticker = await stack.market()
    m = stack.addresses(ticker)
    w = await stack.wallet()
    user = await stack.trader()
    http = httpx.AsyncClient(base_url=stack.server.base, timeout=30)

    def signed(method: str, path: str) -> dict:
        return {"KALSHI-ACCESS-KEY": user.key_id, **sign(user.private_key, int(time.time() * 1000), method, path)}

    try:
        buy = await w.place(ticker, "yes", "buy", "5.00", "0.30")  # the user gets 5 NO against it (custody mints)
        await eventually(lambda: _status(w, buy, "open"))
        await ask(user, ticker, "5.00", "0.30")
        await stack.applied()
        path = "/v1/custody/withdrawals"
        r = await http.post(path, json={"ticker": ticker, "side": "no", "count": "2.00", "wallet": w.address},
                            headers=signed("POST", path))
        assert r.status_code == 201, r.text
        one = f"{path}/{r.json()['withdrawal_id']}"
        await eventually(lambda: _withdrawal(http, one, signed("GET", one), "finalized"), timeout=90, what="the NO withdrawal")
        no_account = _ata(w.kp.pubkey(), m.no_mint)
        assert await w.token_balance(no_account) == 2 * C
        assert (await user.get_positions(ticker=ticker)).market_positions[0].position_fp == "-3.00"
        await stack.custody_matches_ledger(ticker)
        # One NO back into custody, naming the user's reference: credited once, at finalized.
        path = "/v1/custody/deposit_reference"
        reference = (await http.get(path, headers=signed("GET", path))).json()["reference"]
        async with ChainClient(stack.rpc_url, w.kp) as c:
            await c.send_and_confirm([ix.deposit_tokens_ix(c, depositor=w.kp.pubkey(), ticker=ticker, outcome=ix.Outcome.NO,
                                                           amount=1 * C, account_ref=bytes.fromhex(reference))])

        async def position() -> str:
            return (await user.get_positions(ticker=ticker)).market_positions[0].position_fp

        await eventually(lambda: _equals(position(), "-4.00"), what="the NO deposit credited")
        await stack.custody_matches_ledger(ticker)
    finally:
        await http.aclose()
        await user.close()
        await w.close()
