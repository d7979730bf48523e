//! outcome_market: Tandem's on-chain core (see ../shared/DESIGN.md): collateral vaults,
//! YES/NO outcome mints, custody of the custodial book, wallet order escrow, resolution
//! and redemption. PDA seeds are listed in `state/mod.rs`.
//!
//! This file only dispatches; handlers live in `instructions/`, accounts in `state/`.
use anchor_lang::prelude::*;

pub mod constants;
pub mod error;
pub mod events;
pub mod instructions;
pub mod math;
pub mod state;

pub use constants::*;
pub use instructions::*;
pub use state::*;

declare_id!("GbKiJPjzhfbkvdEU48mCz38ykst9L4SgFvcgsTRN7DUb");

#[program]
pub mod outcome_market {
    use super::*;

    // --- exchange (admin)

    pub fn initialize(ctx: Context<Initialize>, args: InitializeArgs) -> Result<()> {
        instructions::exchange::handle_initialize(ctx, args)
    }

    pub fn update_settings(ctx: Context<UpdateSettings>, args: SettingsArgs) -> Result<()> {
        instructions::exchange::handle_update_settings(ctx, args)
    }

    /// Step one of the two-step authority change (admin).
    pub fn set_authorities(
        ctx: Context<AdminOnly>,
        new_admin: Pubkey,
        new_bridge_authority: Pubkey,
        new_resolver_authority: Pubkey,
    ) -> Result<()> {
        instructions::exchange::handle_set_authorities(ctx, new_admin, new_bridge_authority, new_resolver_authority)
    }

    /// Step two: signed by the proposed admin.
    pub fn accept_authorities(ctx: Context<AcceptAuthorities>) -> Result<()> {
        instructions::exchange::handle_accept_authorities(ctx)
    }

    pub fn pause(ctx: Context<AdminOnly>) -> Result<()> {
        instructions::exchange::handle_pause(ctx)
    }

    pub fn unpause(ctx: Context<AdminOnly>) -> Result<()> {
        instructions::exchange::handle_unpause(ctx)
    }

    // --- markets (admin, resolver)

    pub fn create_market(ctx: Context<CreateMarket>, ticker: String, close_time: i64, tick_size: u64) -> Result<()> {
        instructions::market::handle_create_market(ctx, ticker, close_time, tick_size)
    }

    pub fn halt(ctx: Context<MarketAdmin>) -> Result<()> {
        instructions::market::handle_halt(ctx)
    }

    pub fn resume(ctx: Context<MarketAdmin>) -> Result<()> {
        instructions::market::handle_resume(ctx)
    }

    pub fn close_market(ctx: Context<CloseMarket>) -> Result<()> {
        instructions::market::handle_close_market(ctx)
    }

    pub fn determine(ctx: Context<Determine>, yes_payout: u64) -> Result<()> {
        instructions::market::handle_determine(ctx, yes_payout)
    }

    pub fn finalize(ctx: Context<Finalize>) -> Result<()> {
        instructions::market::handle_finalize(ctx)
    }

    // --- sets (anyone)

    pub fn mint_set(ctx: Context<SetOperation>, amount: u64) -> Result<()> {
        instructions::sets::handle_mint_set(ctx, amount)
    }

    pub fn merge_set(ctx: Context<SetOperation>, amount: u64) -> Result<()> {
        instructions::sets::handle_merge_set(ctx, amount)
    }

    pub fn redeem(ctx: Context<Redeem>, yes_amount: u64, no_amount: u64) -> Result<()> {
        instructions::sets::handle_redeem(ctx, yes_amount, no_amount)
    }

    // --- custody (bridge authority, sequenced) and deposits (anyone)

    pub fn custody_mint_set(ctx: Context<CustodySets>, seq: u64, amount: u64) -> Result<()> {
        instructions::custody::handle_custody_mint_sets(ctx, &[SetArgs { seq, amount }])
    }

    pub fn custody_merge_set(ctx: Context<CustodySets>, seq: u64, amount: u64) -> Result<()> {
        instructions::custody::handle_custody_merge_sets(ctx, &[SetArgs { seq, amount }])
    }

    /// Several custody mints of one market, each sequenced and checked exactly as
    /// `custody_mint_set` checks one; all or nothing.
    pub fn custody_mint_sets(ctx: Context<CustodySets>, records: Vec<SetArgs>) -> Result<()> {
        instructions::custody::handle_custody_mint_sets(ctx, &records)
    }

    /// Several custody merges of one market, as `custody_mint_sets`.
    pub fn custody_merge_sets(ctx: Context<CustodySets>, records: Vec<SetArgs>) -> Result<()> {
        instructions::custody::handle_custody_merge_sets(ctx, &records)
    }

    pub fn custody_redeem(ctx: Context<CustodySets>, seq: u64, yes_amount: u64, no_amount: u64) -> Result<()> {
        instructions::custody::handle_custody_redeem(ctx, seq, yes_amount, no_amount)
    }

    pub fn custody_withdraw(ctx: Context<CustodyWithdraw>, seq: u64, outcome: Outcome, amount: u64) -> Result<()> {
        instructions::custody::handle_custody_withdraw(ctx, seq, outcome, amount)
    }

    pub fn custody_withdraw_collateral(ctx: Context<CustodyCollateralOut>, seq: u64, amount: u64) -> Result<()> {
        instructions::custody::handle_custody_withdraw_collateral(ctx, seq, amount)
    }

    pub fn custody_sweep(ctx: Context<CustodyCollateralOut>, seq: u64, amount: u64) -> Result<()> {
        instructions::custody::handle_custody_sweep(ctx, seq, amount)
    }

    /// Operator cash into custody (exchange-wide stream).
    pub fn custody_fund(ctx: Context<CustodyFund>, seq: u64, amount: u64) -> Result<()> {
        instructions::custody::handle_custody_fund(ctx, seq, amount)
    }

    pub fn deposit_collateral(ctx: Context<DepositCollateral>, amount: u64, account_ref: [u8; 16]) -> Result<()> {
        instructions::custody::handle_deposit_collateral(ctx, amount, account_ref)
    }

    pub fn deposit_tokens(ctx: Context<DepositTokens>, outcome: Outcome, amount: u64, account_ref: [u8; 16]) -> Result<()> {
        instructions::custody::handle_deposit_tokens(ctx, outcome, amount, account_ref)
    }

    // --- wallet orders

    pub fn place_order(
        ctx: Context<PlaceOrder>,
        nonce: u64,
        side: OrderSide,
        limit_price: u64,
        size: u64,
        max_fee: u64,
    ) -> Result<()> {
        instructions::orders::handle_place_order(ctx, nonce, side, limit_price, size, max_fee)
    }

    pub fn request_cancel(ctx: Context<RequestCancel>) -> Result<()> {
        instructions::orders::handle_request_cancel(ctx)
    }

    pub fn force_close(ctx: Context<ForceClose>) -> Result<()> {
        instructions::orders::handle_force_close(ctx)
    }

    /// Bridge authority, sequenced; `order_id` must be the order's (see `WalletOrder`).
    pub fn settle_fill(ctx: Context<SettleFill>, seq: u64, order_id: u64, size: u64, price: u64, fee: u64) -> Result<()> {
        instructions::orders::handle_settle_fills(ctx, order_id, &[FillArgs { seq, size, price, fee }])
    }

    /// Bridge authority: several fills of one order (`order_id`), each sequenced and checked
    /// exactly as `settle_fill` checks one; all or nothing.
    pub fn settle_fills(ctx: Context<SettleFill>, order_id: u64, fills: Vec<FillArgs>) -> Result<()> {
        instructions::orders::handle_settle_fills(ctx, order_id, &fills)
    }

    /// Bridge authority, sequenced; `order_id` must be the order's.
    pub fn close_order(ctx: Context<CloseOrder>, seq: u64, order_id: u64) -> Result<()> {
        instructions::orders::handle_close_order(ctx, seq, order_id)
    }
}
