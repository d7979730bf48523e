use anchor_lang::prelude::*;

use super::ReplayWindow;

/// Owner of the omnibus token accounts that back custodial users: one collateral
/// account for the whole exchange and one YES and one NO account per market.
/// PDA `["custody"]`. Its own replay window sequences the exchange-wide bridge stream
/// (`custody_fund`, `custody_withdraw_collateral`, `custody_sweep`), and its address names
/// that stream in events (`stream`); market streams live in each Market.
#[account]
#[derive(InitSpace, Debug)]
pub struct Custody {
    pub exchange: Pubkey,
    /// PDA `["custody_collateral"]`, token account of the collateral mint.
    pub collateral_account: Pubkey,
    /// Replay protection of the exchange-wide bridge stream.
    pub window: ReplayWindow,
    /// Fees wallet fills paid into custody's collateral (`settle_fill`) not yet swept:
    /// the most `custody_sweep` may take. Everything else in custody backs custodial cash.
    pub fees_accrued: u64,
    pub bump: u8,
}
