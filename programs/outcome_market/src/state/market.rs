use anchor_lang::prelude::*;

use super::ReplayWindow;
use crate::constants::MAX_TICKER_LEN;
use crate::error::OutcomeError;

/// Lifecycle: `Open` → (`Halted` ⇄ `Open`) → `Closed` → `Determined` → `Finalized`.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, PartialEq, Eq, InitSpace, Debug)]
pub enum MarketStatus {
    Open,
    Halted,
    Closed,
    Determined,
    Finalized,
}

/// The two outcome tokens.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, PartialEq, Eq, InitSpace, Debug)]
pub enum Outcome {
    Yes,
    No,
}

/// One binary market. PDA `["market", ticker]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Market {
    pub exchange: Pubkey,
    #[max_len(MAX_TICKER_LEN)]
    pub ticker: String,
    pub status: MarketStatus,
    /// Unix time after which no new sets or wallet orders are accepted.
    pub close_time: i64,
    /// Price tick in collateral base units per contract (10_000 = one cent; finest 100).
    pub tick_size: u64,
    pub yes_mint: Pubkey,
    pub no_mint: Pubkey,
    /// Collateral backing every set: holds `sets_outstanding` base units until finalization.
    pub vault: Pubkey,
    pub custody_yes: Pubkey,
    pub custody_no: Pubkey,
    /// YES supply == NO supply == sets outstanding until finalization (invariant 1).
    pub sets_outstanding: u64,
    /// Collateral base units one YES contract pays (0..=1_000_000); NO pays the rest.
    pub yes_payout: u64,
    /// Unix time of the last `determine` (0 before).
    pub determined_at: i64,
    /// Earliest unix time `finalize` is allowed: the last `determine` plus the dispute
    /// window in force then (later settings do not move it).
    pub finalizable_at: i64,
    /// Unix time of `finalize` (0 before).
    pub finalized_at: i64,
    /// Replay protection of this market's bridge stream.
    pub window: ReplayWindow,
    /// Wallet orders placed so far; the next one gets `order_id = orders_placed + 1`.
    pub orders_placed: u64,
    pub created_at: i64,
    pub bump: u8,
}

impl Market {
    /// The custody token account holding this outcome.
    pub fn custody_account(&self, outcome: Outcome) -> Pubkey {
        match outcome {
            Outcome::Yes => self.custody_yes,
            Outcome::No => self.custody_no,
        }
    }

    pub fn mint(&self, outcome: Outcome) -> Pubkey {
        match outcome {
            Outcome::Yes => self.yes_mint,
            Outcome::No => self.no_mint,
        }
    }

    /// New sets and wallet orders need an open market before its close time.
    pub fn require_trading(&self, now: i64) -> Result<()> {
        require!(self.status == MarketStatus::Open, OutcomeError::MarketNotOpen);
        require!(now < self.close_time, OutcomeError::MarketPastCloseTime);
        Ok(())
    }

    /// Sets can be merged until the result is final (afterwards holders redeem).
    pub fn allows_merge(&self) -> bool {
        self.status != MarketStatus::Finalized
    }
}
