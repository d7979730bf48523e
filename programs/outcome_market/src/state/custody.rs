use anchor_lang::prelude::*;

use super::ReplayWindow;

/// Owner of the omnibus token accounts that back custodial users: one collateral
/// account for the whole exchange and one YES and one NO account per market.
/// PDA `["custody"]`. Its own replay window sequences the exchange-wide bridge stream
/// (`custody_withdraw_collateral`, `custody_sweep`); market streams live in each Market.
#[account]
#[derive(InitSpace, Debug)]
pub struct Custody {
    pub exchange: Pubkey,
    /// PDA `["custody_collateral"]`, token account of the collateral mint.
    pub collateral_account: Pubkey,
    /// Replay protection of the exchange-wide bridge stream.
    pub window: ReplayWindow,
    pub bump: u8,
}
