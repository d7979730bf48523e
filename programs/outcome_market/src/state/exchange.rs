use anchor_lang::prelude::*;

/// The venue's settings and authorities. PDA `["exchange"]`, one per program.
#[account]
#[derive(InitSpace, Debug)]
pub struct Exchange {
    /// Creates markets, halts/resumes/closes them, pauses, changes settings and authorities.
    pub admin: Pubkey,
    /// The only key that moves custody (sequenced bridge instructions).
    pub bridge_authority: Pubkey,
    /// Determines and finalizes market results.
    pub resolver_authority: Pubkey,
    /// Proposed authorities; take effect when the pending admin signs `accept_authorities`.
    /// `Pubkey::default()` for `pending_admin` means no proposal.
    pub pending_admin: Pubkey,
    pub pending_bridge_authority: Pubkey,
    pub pending_resolver_authority: Pubkey,
    /// The collateral SPL mint (6 decimals).
    pub collateral_mint: Pubkey,
    /// Collateral token account that receives `custody_sweep`.
    pub treasury: Pubkey,
    /// The Custody PDA.
    pub custody: Pubkey,
    /// Emergency stop: see the pause table in the README (program section); exits
    /// (merge_set, redeem, request_cancel, force_close, close_order) always run.
    pub paused: bool,
    /// Most fee a fill may charge a wallet, in basis points of C × P × (1 − P) (700 = Kalshi's 0.07).
    pub fee_rate_bps: u16,
    /// Slots after `request_cancel` after which the owner may `force_close` an order
    /// (1..=MAX_FORCE_CLOSE_SLOTS); copied into each order when it is placed.
    pub force_close_slots: u64,
    /// Seconds after the (last) `determine` before `finalize` is allowed
    /// (0..=MAX_DISPUTE_WINDOW_SECS); `determine` fixes the market's `finalizable_at` with it.
    pub dispute_window_secs: i64,
    /// Markets created so far.
    pub market_count: u64,
    pub bump: u8,
}

impl Exchange {
    pub fn has_pending_authorities(&self) -> bool {
        self.pending_admin != Pubkey::default()
    }
}
