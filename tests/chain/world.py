"""Test helpers over the session chain: funded users, fresh markets, balance reads."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import instructions as ix
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.errors import ChainError
from chain.pdas import MarketAddresses
from chain.setup import ChainSetup, fund_collateral
from chain.tokens import ONE, ata, create_ata_ix


@dataclass
class User:
    kp: Keypair
    collateral: Pubkey  # its collateral token account

    @property
    def pubkey(self) -> Pubkey:
        return self.kp.pubkey()


class World:
    def __init__(self, client: ChainClient, setup: ChainSetup) -> None:
        self.c = client
        self.setup = setup
        self.keys = setup.keys
        self.mint = setup.collateral_mint

    async def user(self, collateral: int = 100 * ONE) -> User:
        kp = Keypair()
        await self.c.airdrop(kp.pubkey(), 2 * LAMPORTS_PER_SOL)  # rent for the orders it places
        account = await fund_collateral(self.c, self.keys, kp.pubkey(), collateral, self.mint) if collateral else ata(kp.pubkey(), self.mint)
        return User(kp, account)

    async def market(self, close_in: int = 3600, tick_size: int = 10_000) -> str:
        ticker = "T-" + uuid.uuid4().hex[:12].upper()
        await ix.create_market(
            self.c, self.keys.admin, ticker=ticker, close_time=await self.c.chain_time() + close_in, collateral_mint=self.mint, tick_size=tick_size
        )
        return ticker

    def addresses(self, ticker: str) -> MarketAddresses:
        return MarketAddresses.derive(self.c.program_id, ticker)

    async def outcome_accounts(self, user: User, ticker: str) -> tuple[Pubkey, Pubkey]:
        """The user's YES and NO token accounts for `ticker` (created if missing)."""
        m = self.addresses(ticker)
        await self.c.send_and_confirm(
            [create_ata_ix(self.c.payer.pubkey(), user.pubkey, m.yes_mint), create_ata_ix(self.c.payer.pubkey(), user.pubkey, m.no_mint)]
        )
        return ata(user.pubkey, m.yes_mint), ata(user.pubkey, m.no_mint)

    async def bal(self, account: Pubkey) -> int:
        return await self.c.token_balance(account)

    async def market_account(self, ticker: str):
        return await self.c.fetch("Market", self.addresses(ticker).market)


async def expect_error(name: str, coro) -> ChainError:
    """Await `coro`, which must fail with the program's error `name`."""
    try:
        await coro
    except ChainError as exc:
        assert exc.name == name, f"expected {name}, got {exc.name} ({exc}); logs: {exc.logs[-5:]}"
        return exc
    raise AssertionError(f"expected {name}, but the transaction succeeded")
