"""DESIGN.md invariant 1, checked from RPC reads only (the indexer and the tests use it).

Per market: YES supply == NO supply == sets outstanding, and the vault holds
sets × 1.000000 collateral (one base unit per set base unit) until finalization;
after it, at least what the remaining YES and NO can still redeem.
"""
from __future__ import annotations

from dataclasses import dataclass

from solana.rpc.commitment import Commitment
from spl.token._layouts import ACCOUNT_LAYOUT, MINT_LAYOUT

from chain.client import ChainClient
from chain.pdas import MarketAddresses

ONE = 1_000_000


def redeemable(yes: int, no: int, yes_payout: int) -> int:
    """What `yes` and `no` base units redeem for in total (the program's own rounding: down)."""
    return (yes * yes_payout + no * (ONE - yes_payout)) // ONE


@dataclass(frozen=True)
class MarketSupply:
    ticker: str
    status: str
    sets_outstanding: int
    yes_supply: int
    no_supply: int
    vault: int
    yes_payout: int

    def violations(self) -> list[str]:
        out = []
        if self.status != "Finalized":
            if not (self.yes_supply == self.no_supply == self.sets_outstanding):
                out.append(
                    f"{self.ticker}: YES supply {self.yes_supply}, NO supply {self.no_supply}, sets {self.sets_outstanding} differ"
                )
            if self.vault != self.sets_outstanding:
                out.append(f"{self.ticker}: vault {self.vault} != sets outstanding {self.sets_outstanding}")
        else:
            owed = redeemable(self.yes_supply, self.no_supply, self.yes_payout)
            if self.vault < owed:
                out.append(f"{self.ticker}: vault {self.vault} < {owed} still redeemable")
        return out


async def market_supply(c: ChainClient, ticker: str, commitment: Commitment | None = None) -> MarketSupply:
    """The market, both mints and the vault, read in ONE getMultipleAccounts call: one slot,
    so a transaction landing between reads can never show a false violation."""
    m = MarketAddresses.derive(c.program_id, ticker)
    accounts = (await c.rpc.get_multiple_accounts([m.market, m.yes_mint, m.no_mint, m.vault], commitment=commitment or c.commitment)).value
    if any(a is None for a in accounts):
        raise LookupError(f"market {ticker} does not exist (or is incomplete)")
    market = c.decode_account("Market", bytes(accounts[0].data))
    return MarketSupply(
        ticker=ticker,
        status=type(market.status).__name__,
        sets_outstanding=market.sets_outstanding,
        yes_supply=MINT_LAYOUT.parse(bytes(accounts[1].data)).supply,
        no_supply=MINT_LAYOUT.parse(bytes(accounts[2].data)).supply,
        vault=ACCOUNT_LAYOUT.parse(bytes(accounts[3].data)).amount,
        yes_payout=market.yes_payout,
    )


async def check_market(c: ChainClient, ticker: str, commitment: Commitment | None = None) -> list[str]:
    """Violations of invariant 1 for `ticker` (empty when it holds)."""
    return (await market_supply(c, ticker, commitment)).violations()
