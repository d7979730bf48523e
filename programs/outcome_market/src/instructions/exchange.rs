//! Exchange set-up, settings, two-step authority changes, pause.
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::error::OutcomeError;
use crate::events::*;
use crate::state::*;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct InitializeArgs {
    pub bridge_authority: Pubkey,
    pub resolver_authority: Pubkey,
    pub fee_rate_bps: u16,
    pub force_close_slots: u64,
    pub dispute_window_secs: i64,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct SettingsArgs {
    pub fee_rate_bps: u16,
    pub force_close_slots: u64,
    pub dispute_window_secs: i64,
}

fn validate_settings(fee_rate_bps: u16, force_close_slots: u64, dispute_window_secs: i64) -> Result<()> {
    require!(fee_rate_bps <= MAX_FEE_RATE_BPS, OutcomeError::InvalidFeeRate);
    require!((1..=MAX_FORCE_CLOSE_SLOTS).contains(&force_close_slots), OutcomeError::InvalidForceCloseSlots);
    require!((0..=MAX_DISPUTE_WINDOW_SECS).contains(&dispute_window_secs), OutcomeError::InvalidDisputeWindow);
    Ok(())
}

/// Creates the Exchange, the Custody and custody's collateral account. The signer becomes
/// admin, and must be the program's upgrade authority: whoever deployed the program, not
/// whoever calls first.
#[event_cpi]
#[derive(Accounts)]
pub struct Initialize<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    /// The program's ProgramData (BPF upgradeable loader, PDA `[program id]` of the loader):
    /// its upgrade authority must sign. On the native localnet, localnet writes this account
    /// at genesis with the authority it is started with (`--upgrade-authority`).
    #[account(
        seeds = [crate::ID.as_ref()], bump, seeds::program = anchor_lang::solana_program::bpf_loader_upgradeable::ID,
        constraint = program_data.upgrade_authority_address == Some(admin.key()) @ OutcomeError::NotUpgradeAuthority,
    )]
    pub program_data: Box<Account<'info, ProgramData>>,
    #[account(init, payer = admin, space = 8 + Exchange::INIT_SPACE, seeds = [EXCHANGE_SEED], bump)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(init, payer = admin, space = 8 + Custody::INIT_SPACE, seeds = [CUSTODY_SEED], bump)]
    pub custody: Box<Account<'info, Custody>>,
    #[account(constraint = collateral_mint.decimals == DECIMALS @ OutcomeError::InvalidCollateralDecimals)]
    pub collateral_mint: Box<Account<'info, Mint>>,
    #[account(
        init, payer = admin, seeds = [CUSTODY_COLLATERAL_SEED], bump,
        token::mint = collateral_mint, token::authority = custody,
    )]
    pub custody_collateral: Box<Account<'info, TokenAccount>>,
    #[account(token::mint = collateral_mint)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

pub fn handle_initialize(ctx: Context<Initialize>, args: InitializeArgs) -> Result<()> {
    validate_settings(args.fee_rate_bps, args.force_close_slots, args.dispute_window_secs)?;
    require!(args.bridge_authority != Pubkey::default(), OutcomeError::InvalidAuthority);
    require!(args.resolver_authority != Pubkey::default(), OutcomeError::InvalidAuthority);
    let exchange = &mut ctx.accounts.exchange;
    exchange.admin = ctx.accounts.admin.key();
    exchange.bridge_authority = args.bridge_authority;
    exchange.resolver_authority = args.resolver_authority;
    exchange.pending_admin = Pubkey::default();
    exchange.pending_bridge_authority = Pubkey::default();
    exchange.pending_resolver_authority = Pubkey::default();
    exchange.collateral_mint = ctx.accounts.collateral_mint.key();
    exchange.treasury = ctx.accounts.treasury.key();
    exchange.custody = ctx.accounts.custody.key();
    exchange.paused = false;
    exchange.fee_rate_bps = args.fee_rate_bps;
    exchange.force_close_slots = args.force_close_slots;
    exchange.dispute_window_secs = args.dispute_window_secs;
    exchange.market_count = 0;
    exchange.bump = ctx.bumps.exchange;

    let custody = &mut ctx.accounts.custody;
    custody.exchange = exchange.key();
    custody.collateral_account = ctx.accounts.custody_collateral.key();
    custody.window = ReplayWindow::default();
    custody.fees_accrued = 0;
    custody.bump = ctx.bumps.custody;

    crate::emit_event!(ctx, ExchangeInitialized {
        exchange: exchange.key(),
        admin: exchange.admin,
        bridge_authority: exchange.bridge_authority,
        resolver_authority: exchange.resolver_authority,
        collateral_mint: exchange.collateral_mint,
        treasury: exchange.treasury,
        custody: custody.key(),
        custody_collateral: custody.collateral_account,
        fee_rate_bps: exchange.fee_rate_bps,
        force_close_slots: exchange.force_close_slots,
        dispute_window_secs: exchange.dispute_window_secs,
    });
    Ok(())
}

/// Admin-only changes of the exchange (settings, pause).
#[event_cpi]
#[derive(Accounts)]
pub struct AdminOnly<'info> {
    pub admin: Signer<'info>,
    #[account(mut, seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = admin @ OutcomeError::NotAdmin)]
    pub exchange: Box<Account<'info, Exchange>>,
}

#[event_cpi]
#[derive(Accounts)]
pub struct UpdateSettings<'info> {
    pub admin: Signer<'info>,
    #[account(mut, seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = admin @ OutcomeError::NotAdmin)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(token::mint = exchange.collateral_mint)]
    pub treasury: Box<Account<'info, TokenAccount>>,
}

pub fn handle_update_settings(ctx: Context<UpdateSettings>, args: SettingsArgs) -> Result<()> {
    validate_settings(args.fee_rate_bps, args.force_close_slots, args.dispute_window_secs)?;
    let exchange = &mut ctx.accounts.exchange;
    exchange.treasury = ctx.accounts.treasury.key();
    exchange.fee_rate_bps = args.fee_rate_bps;
    exchange.force_close_slots = args.force_close_slots;
    exchange.dispute_window_secs = args.dispute_window_secs;
    crate::emit_event!(ctx, SettingsUpdated {
        treasury: exchange.treasury,
        fee_rate_bps: exchange.fee_rate_bps,
        force_close_slots: exchange.force_close_slots,
        dispute_window_secs: exchange.dispute_window_secs,
    });
    Ok(())
}

/// Step one of an authority change: the admin proposes all three authorities (repeat the
/// current key to keep one). Nothing changes until the proposed admin accepts.
pub fn handle_set_authorities(
    ctx: Context<AdminOnly>,
    new_admin: Pubkey,
    new_bridge_authority: Pubkey,
    new_resolver_authority: Pubkey,
) -> Result<()> {
    for key in [new_admin, new_bridge_authority, new_resolver_authority] {
        require!(key != Pubkey::default(), OutcomeError::InvalidAuthority);
    }
    let exchange = &mut ctx.accounts.exchange;
    exchange.pending_admin = new_admin;
    exchange.pending_bridge_authority = new_bridge_authority;
    exchange.pending_resolver_authority = new_resolver_authority;
    crate::emit_event!(ctx, AuthoritiesProposed {
        admin: exchange.admin,
        pending_admin: new_admin,
        pending_bridge_authority: new_bridge_authority,
        pending_resolver_authority: new_resolver_authority,
    });
    Ok(())
}

/// Step two: the proposed admin signs, proving the key is controlled; all three change at once.
#[event_cpi]
#[derive(Accounts)]
pub struct AcceptAuthorities<'info> {
    #[account(constraint = exchange.has_pending_authorities() @ OutcomeError::NoPendingAuthorities)]
    pub pending_admin: Signer<'info>,
    #[account(
        mut, seeds = [EXCHANGE_SEED], bump = exchange.bump,
        has_one = pending_admin @ OutcomeError::NotPendingAdmin,
    )]
    pub exchange: Box<Account<'info, Exchange>>,
}

pub fn handle_accept_authorities(ctx: Context<AcceptAuthorities>) -> Result<()> {
    let exchange = &mut ctx.accounts.exchange;
    exchange.admin = exchange.pending_admin;
    exchange.bridge_authority = exchange.pending_bridge_authority;
    exchange.resolver_authority = exchange.pending_resolver_authority;
    exchange.pending_admin = Pubkey::default();
    exchange.pending_bridge_authority = Pubkey::default();
    exchange.pending_resolver_authority = Pubkey::default();
    crate::emit_event!(ctx, AuthoritiesAccepted {
        admin: exchange.admin,
        bridge_authority: exchange.bridge_authority,
        resolver_authority: exchange.resolver_authority,
    });
    Ok(())
}

pub fn handle_pause(ctx: Context<AdminOnly>) -> Result<()> {
    let exchange = &mut ctx.accounts.exchange;
    require!(!exchange.paused, OutcomeError::ExchangePaused);
    exchange.paused = true;
    crate::emit_event!(ctx, PauseChanged { paused: true, by: ctx.accounts.admin.key() });
    Ok(())
}

pub fn handle_unpause(ctx: Context<AdminOnly>) -> Result<()> {
    let exchange = &mut ctx.accounts.exchange;
    require!(exchange.paused, OutcomeError::ExchangeNotPaused);
    exchange.paused = false;
    crate::emit_event!(ctx, PauseChanged { paused: false, by: ctx.accounts.admin.key() });
    Ok(())
}
