"""`tandem demo`: scripted traffic for the demo market of a running `tandem up`.

Everything goes through the public doors, as real users would: custodial traders through the
Kalshi SDK (their users and keys made with the operator API), a DeFi wallet that signs the
transactions the wallet endpoints return, a deposit into custody and a withdrawal out of it.
The bridge mirrors it onto the chain and the indexer's dashboard shows both books moving.

One round: a mint match (YES buyer vs NO buyer), a transfer (a YES seller to a YES buyer), a
merge (a YES seller vs a NO seller), the wallet buying YES from a custodial seller; the first
round also makes a deposit (wallet -> custody, credited to a custodial user) and a withdrawal
(custodial YES -> the wallet). State (users, keys, the wallet's keypair) is kept under
TANDEM_HOME/demo, so `demo` can be run again against the same venue.
"""
from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rich.console import Console
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from tandem.settings import Settings

C = 1_000_000  # base units per contract and per dollar
GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
TRADERS = ("alice", "bob", "carol")


@dataclass
class Trader:
    name: str
    user_id: int
    key_id: str
    private_key: rsa.RSAPrivateKey
    client: object  # kalshi_python_async.KalshiClient

    def headers(self, method: str, path: str) -> dict[str, str]:
        """Kalshi's request signature, for the custody endpoints the SDK has no methods for."""
        from api.auth import sign

        return {"KALSHI-ACCESS-KEY": self.key_id, **sign(self.private_key, int(time.time() * 1000), method, path)}


class DemoWallet:
    """A DeFi wallet: a keypair, solana-py, and the API's JSON; nothing else of Tandem's."""

    def __init__(self, keypair: Keypair, rpc_url: str, api: str) -> None:
        self.kp = keypair
        self.rpc = AsyncClient(rpc_url, commitment=Confirmed)
        self.http = httpx.AsyncClient(base_url=api, timeout=30)

    @property
    def address(self) -> str:
        return str(self.kp.pubkey())

    async def sign_and_send(self, transaction_b64: str) -> str:
        unsigned = VersionedTransaction.from_bytes(base64.b64decode(transaction_b64))
        signed = VersionedTransaction(unsigned.message, [self.kp])
        signature = (await self.rpc.send_transaction(signed)).value
        await self.rpc.confirm_transaction(signature, Confirmed, sleep_seconds=0.2)
        return str(signature)

    async def place(self, ticker: str, side: str, action: str, count: str, price: str) -> str:
        r = await self.http.post("/v1/wallet/orders", json={"wallet": self.address, "ticker": ticker, "side": side,
                                                             "action": action, "count": count, "price": price})
        r.raise_for_status()
        body = r.json()
        await self.sign_and_send(body["transaction"])
        return body["order"]

    async def close(self) -> None:
        await self.rpc.close()
        await self.http.aclose()


class Demo:
    def __init__(self, settings: Settings, console: Console, ticker: str) -> None:
        self.settings, self.console, self.ticker = settings, console, ticker
        self.api = f"http://{settings.api_host}:{settings.api_port}"
        self.rpc_url = f"http://127.0.0.1:{settings.localnet_port}" if "127.0.0.1" in settings.rpc_url else settings.rpc_url
        self.home = settings.tandem_home / "demo"
        self.home.mkdir(parents=True, exist_ok=True)
        self.traders: dict[str, Trader] = {}
        self.wallet: DemoWallet | None = None
        self.operator: httpx.AsyncClient | None = None

    # -- set-up -------------------------------------------------------------------------------
    def _operator_token(self) -> str:
        if self.settings.operator_token:
            return self.settings.operator_token
        path = self.settings.tandem_home / "operator.token"
        return path.read_text().strip()

    async def setup(self) -> None:
        self.operator = httpx.AsyncClient(base_url=self.api, timeout=30,
                                          headers={"Authorization": f"Bearer {self._operator_token()}"})
        state_file = self.home / "traders.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        for name in TRADERS:
            key_file = self.home / f"{name}.pem"
            if name not in state:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                r = await self.operator.post("/operator/users", json={"name": f"demo-{name}", "public_key": public})
                r.raise_for_status()
                body = r.json()
                key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
                key_file.chmod(0o600)
                state[name] = {"user_id": body["user_id"], "key_id": body["api_key_id"]}
                state_file.write_text(json.dumps(state))
                # $1,000 of custodial cash each; the bridge backs it with collateral in custody.
                (await self.operator.post(f"/operator/users/{body['user_id']}/fund", json={"cents": 100_000})).raise_for_status()
                self.console.print(f"demo: custodial trader {name} (user {body['user_id']}) funded $1,000")
            key = serialization.load_pem_private_key(key_file.read_bytes(), None)
            self.traders[name] = Trader(name, state[name]["user_id"], state[name]["key_id"], key, self._sdk(state[name]["key_id"], key_file))
        self.wallet = DemoWallet(self._wallet_keypair(), self.rpc_url, self.api)
        await self._fund_wallet()

    def _sdk(self, key_id: str, key_file: Path):
        from kalshi_python_async import Configuration, KalshiClient

        config = Configuration(host=f"{self.api}/trade-api/v2")
        config.api_key_id = key_id
        config.private_key_pem = key_file.read_text()
        return KalshiClient(config)

    def _wallet_keypair(self) -> Keypair:
        path = self.home / "wallet.json"
        if path.exists():
            return Keypair.from_bytes(bytes(json.loads(path.read_text())))
        kp = Keypair()
        path.write_text(json.dumps(list(bytes(kp))))
        path.chmod(0o600)
        return kp

    async def _fund_wallet(self) -> None:
        """Localnet faucet: SOL for fees and collateral minted by the localnet's mint authority."""
        from chain.client import ChainClient
        from chain.setup import ChainKeys, fund_collateral
        from chain.tokens import ata

        keys = ChainKeys.load(self.settings.keys_dir)
        balance = (await self.wallet.rpc.get_balance(self.wallet.kp.pubkey())).value
        if balance < C * 1000:  # 0.001 SOL: top up to 2 SOL
            sig = (await self.wallet.rpc.request_airdrop(self.wallet.kp.pubkey(), 2_000_000_000)).value
            await self.wallet.rpc.confirm_transaction(sig, Confirmed, sleep_seconds=0.2)
        async with ChainClient(self.rpc_url, keys.admin) as c:
            mint = await _collateral_mint(c)
            source = ata(self.wallet.kp.pubkey(), mint)
            if await c.token_balance(source) < 50 * C:
                await fund_collateral(c, keys, self.wallet.kp.pubkey(), 500 * C, mint)
                self.console.print(f"demo: wallet {self.wallet.address} got $500 of collateral")

    # -- traffic --------------------------------------------------------------------------------
    async def _bid(self, who: str, count: int, price: str) -> None:
        await self.traders[who].client.create_order_v2(ticker=self.ticker, side="bid", count=f"{count}.00", price=price, **GTC)

    async def _ask(self, who: str, count: int, price: str) -> None:
        await self.traders[who].client.create_order_v2(ticker=self.ticker, side="ask", count=f"{count}.00", price=price, **GTC)

    async def _cancel_all(self) -> None:
        for trader in self.traders.values():
            orders = await trader.client.get_orders(ticker=self.ticker, status="resting")
            for order in orders.orders or []:
                await trader.client.cancel_order(order_id=order.order_id)

    async def top_up(self) -> None:
        """Keep the traders and the wallet able to trade however long the demo runs."""
        for trader in self.traders.values():
            balance = (await self.operator.get(f"/operator/users/{trader.user_id}/balance")).json()
            if balance.get("balance", 0) < 100 * 100:  # cents
                (await self.operator.post(f"/operator/users/{trader.user_id}/fund", json={"cents": 100_000})).raise_for_status()
        await self._fund_wallet()

    async def round(self, n: int) -> None:
        if n % 20 == 0:
            await self.top_up()
        p = random.randint(35, 65)
        yes, no_side_yes = f"0.{p:02d}", f"0.{p:02d}"
        # mint: alice buys YES at p, bob buys NO at 1-p (an ask at p in the YES book)
        await self._bid("alice", 5, yes)
        await self._ask("bob", 5, no_side_yes)
        # transfer: alice sells 2 YES to carol
        await self._ask("alice", 2, f"0.{p + 1:02d}")
        await self._bid("carol", 2, f"0.{p + 1:02d}")
        # merge: alice sells her last YES while bob buys YES back (a NO seller): a set retired
        await self._ask("alice", 1, f"0.{p:02d}")
        await self._bid("bob", 1, f"0.{p:02d}")
        # the wallet buys 3 YES at p+2; carol (now long YES) and a fresh mint from bob's NO bid fill it
        order = await self.wallet.place(self.ticker, "yes", "buy", "3.00", f"0.{p + 2:02d}")
        await asyncio.sleep(1.5)  # the relay places it once the chain has it at confirmed
        await self._ask("carol", 2, f"0.{p + 2:02d}")
        await self._ask("bob", 1, f"0.{p + 2:02d}")
        self.console.print(f"demo: round {n}: mint, transfer, merge at ${yes}; wallet order {order[:8]}… buys 3 YES")
        if n == 1:
            await self.deposit_and_withdrawal()
        await self._cancel_all()

    async def deposit_and_withdrawal(self) -> None:
        from chain.client import ChainClient
        from chain.instructions import deposit_collateral_ix
        from chain.tokens import ata

        alice = self.traders["alice"]
        path = "/v1/custody/deposit_reference"
        r = await self.operator.get(path, headers=alice.headers("GET", path))
        r.raise_for_status()
        reference = bytes.fromhex(r.json()["reference"])
        async with ChainClient(self.rpc_url, self.wallet.kp) as c:
            ix = deposit_collateral_ix(c, depositor=self.wallet.kp.pubkey(), amount=25 * C, account_ref=reference,
                                       source=ata(self.wallet.kp.pubkey(), await _collateral_mint(c)))
            await c.send_and_confirm([ix], [self.wallet.kp])
        self.console.print("demo: the wallet deposited $25 into custody for alice (credited once finalized)")
        path = "/v1/custody/withdrawals"
        r = await self.operator.post(path, headers=alice.headers("POST", path),
                                     json={"ticker": self.ticker, "side": "yes", "count": "1.00", "wallet": self.wallet.address})
        if r.status_code == 201:
            self.console.print(f"demo: alice withdraws 1 YES to the wallet ({r.json()['withdrawal_id']})")
        else:
            self.console.print(f"demo: withdrawal refused: {r.text}")

    async def close(self) -> None:
        for trader in self.traders.values():
            await trader.client.close()
        if self.wallet:
            await self.wallet.close()
        if self.operator:
            await self.operator.aclose()


async def _collateral_mint(c) -> Pubkey:
    from chain import pdas

    exchange = await c.fetch("Exchange", pdas.exchange(c.program_id))
    if exchange is None:
        raise RuntimeError("the exchange is not initialized on chain (is `tandem up` running?)")
    return exchange.collateral_mint


async def wait_for_market(api: str, ticker: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=api, timeout=5) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"/trade-api/v2/markets/{ticker}")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1)
    raise RuntimeError(f"market {ticker} not served by {api}")


async def run(settings: Settings, console: Console, *, ticker: str, rounds: int, loop: bool, pause_s: float) -> int:
    demo = Demo(settings, console, ticker)
    await wait_for_market(demo.api, ticker)
    try:
        await demo.setup()
        n = 0
        while loop or n < rounds:
            n += 1
            try:
                await demo.round(n)
            except Exception as exc:  # the demo keeps going; what failed is said, not hidden
                console.print(f"[yellow]demo: round {n} failed: {type(exc).__name__}: {exc}[/]")
            await asyncio.sleep(pause_s)
    finally:
        await demo.close()
    return 0
