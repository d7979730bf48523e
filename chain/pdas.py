"""Program-derived addresses, with the seeds documented in programs/outcome_market/src/state/mod.rs.

Every bump is the canonical one (`find_program_address`), as the program requires.
"""
from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

MAX_TICKER_LEN = 32  # a PDA seed is at most 32 bytes


def _find(program_id: Pubkey, *seeds: bytes) -> Pubkey:
    return Pubkey.find_program_address(list(seeds), program_id)[0]


def ticker_seed(ticker: str) -> bytes:
    raw = ticker.encode()
    if not raw or len(raw) > MAX_TICKER_LEN:
        raise ValueError(f"ticker must be 1..{MAX_TICKER_LEN} bytes of UTF-8, got {len(raw)}")
    return raw


def event_authority(program_id: Pubkey) -> Pubkey:
    """Anchor's event authority (`#[event_cpi]`): signs the program's self-CPI events."""
    return _find(program_id, b"__event_authority")


def exchange(program_id: Pubkey) -> Pubkey:
    return _find(program_id, b"exchange")


def custody(program_id: Pubkey) -> Pubkey:
    return _find(program_id, b"custody")


def custody_collateral(program_id: Pubkey) -> Pubkey:
    return _find(program_id, b"custody_collateral")


def market(program_id: Pubkey, ticker: str) -> Pubkey:
    return _find(program_id, b"market", ticker_seed(ticker))


def yes_mint(program_id: Pubkey, market_: Pubkey) -> Pubkey:
    return _find(program_id, b"yes_mint", bytes(market_))


def no_mint(program_id: Pubkey, market_: Pubkey) -> Pubkey:
    return _find(program_id, b"no_mint", bytes(market_))


def vault(program_id: Pubkey, market_: Pubkey) -> Pubkey:
    return _find(program_id, b"vault", bytes(market_))


def custody_yes(program_id: Pubkey, market_: Pubkey) -> Pubkey:
    return _find(program_id, b"custody_yes", bytes(market_))


def custody_no(program_id: Pubkey, market_: Pubkey) -> Pubkey:
    return _find(program_id, b"custody_no", bytes(market_))


def wallet_order(program_id: Pubkey, market_: Pubkey, owner: Pubkey, nonce: int) -> Pubkey:
    return _find(program_id, b"order", bytes(market_), bytes(owner), nonce.to_bytes(8, "little"))


def escrow(program_id: Pubkey, order: Pubkey) -> Pubkey:
    return _find(program_id, b"escrow", bytes(order))


BPF_LOADER_UPGRADEABLE = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")


def program_data(program_id: Pubkey) -> Pubkey:
    """The program's ProgramData account (BPF upgradeable loader): names its upgrade authority,
    which `initialize` requires as signer."""
    return Pubkey.find_program_address([bytes(program_id)], BPF_LOADER_UPGRADEABLE)[0]


def exchange_stream(program_id: Pubkey) -> Pubkey:
    """The exchange-wide bridge stream's name in events (`stream`): the Custody PDA, whose
    replay window sequences it. A market's stream is the market's address."""
    return custody(program_id)


@dataclass(frozen=True)
class MarketAddresses:
    """Every address that belongs to one market."""

    ticker: str
    market: Pubkey
    yes_mint: Pubkey
    no_mint: Pubkey
    vault: Pubkey
    custody_yes: Pubkey
    custody_no: Pubkey

    @classmethod
    def derive(cls, program_id: Pubkey, ticker: str) -> "MarketAddresses":
        m = market(program_id, ticker)
        return cls(
            ticker=ticker,
            market=m,
            yes_mint=yes_mint(program_id, m),
            no_mint=no_mint(program_id, m),
            vault=vault(program_id, m),
            custody_yes=custody_yes(program_id, m),
            custody_no=custody_no(program_id, m),
        )
