//! Market lifecycle: create, halt, resume, close, determine, finalize.
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use super::now;
use crate::constants::*;
use crate::error::OutcomeError;
use crate::events::*;
use crate::math;
use crate::state::*;

fn is_valid_ticker(ticker: &str) -> bool {
    !ticker.is_empty()
        && ticker.len() <= MAX_TICKER_LEN
        && ticker.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.')
}

#[event_cpi]
#[derive(Accounts)]
#[instruction(ticker: String)]
pub struct CreateMarket<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(
        mut, seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = admin @ OutcomeError::NotAdmin,
        constraint = !exchange.paused @ OutcomeError::ExchangePaused,
    )]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        init, payer = admin, space = 8 + Market::INIT_SPACE,
        seeds = [MARKET_SEED, ticker.as_bytes()], bump,
    )]
    pub market: Box<Account<'info, Market>>,
    #[account(address = exchange.collateral_mint @ OutcomeError::WrongMint)]
    pub collateral_mint: Box<Account<'info, Mint>>,
    #[account(
        init, payer = admin, seeds = [YES_MINT_SEED, market.key().as_ref()], bump,
        mint::decimals = DECIMALS, mint::authority = market,
    )]
    pub yes_mint: Box<Account<'info, Mint>>,
    #[account(
        init, payer = admin, seeds = [NO_MINT_SEED, market.key().as_ref()], bump,
        mint::decimals = DECIMALS, mint::authority = market,
    )]
    pub no_mint: Box<Account<'info, Mint>>,
    #[account(
        init, payer = admin, seeds = [VAULT_SEED, market.key().as_ref()], bump,
        token::mint = collateral_mint, token::authority = market,
    )]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(seeds = [CUSTODY_SEED], bump = custody.bump)]
    pub custody: Box<Account<'info, Custody>>,
    #[account(
        init, payer = admin, seeds = [CUSTODY_YES_SEED, market.key().as_ref()], bump,
        token::mint = yes_mint, token::authority = custody,
    )]
    pub custody_yes: Box<Account<'info, TokenAccount>>,
    #[account(
        init, payer = admin, seeds = [CUSTODY_NO_SEED, market.key().as_ref()], bump,
        token::mint = no_mint, token::authority = custody,
    )]
    pub custody_no: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

pub fn handle_create_market(ctx: Context<CreateMarket>, ticker: String, close_time: i64, tick_size: u64) -> Result<()> {
    require!(is_valid_ticker(&ticker), OutcomeError::InvalidTicker);
    require!(math::is_valid_tick(tick_size), OutcomeError::InvalidTickSize);
    let now = now()?;
    require!(close_time > now, OutcomeError::InvalidCloseTime);

    let exchange = &mut ctx.accounts.exchange;
    exchange.market_count = exchange.market_count.checked_add(1).ok_or(OutcomeError::MathOverflow)?;

    let market = &mut ctx.accounts.market;
    market.exchange = exchange.key();
    market.ticker = ticker.clone();
    market.status = MarketStatus::Open;
    market.close_time = close_time;
    market.tick_size = tick_size;
    market.yes_mint = ctx.accounts.yes_mint.key();
    market.no_mint = ctx.accounts.no_mint.key();
    market.vault = ctx.accounts.vault.key();
    market.custody_yes = ctx.accounts.custody_yes.key();
    market.custody_no = ctx.accounts.custody_no.key();
    market.sets_outstanding = 0;
    market.yes_payout = 0;
    market.determined_at = 0;
    market.finalizable_at = 0;
    market.finalized_at = 0;
    market.window = ReplayWindow::default();
    market.orders_placed = 0;
    market.created_at = now;
    market.bump = ctx.bumps.market;

    crate::emit_event!(ctx, MarketCreated {
        market: market.key(),
        ticker,
        close_time,
        tick_size,
        yes_mint: market.yes_mint,
        no_mint: market.no_mint,
        vault: market.vault,
        custody_yes: market.custody_yes,
        custody_no: market.custody_no,
    });
    Ok(())
}

/// Admin changes of a market's trading status (halt, resume, close).
#[event_cpi]
#[derive(Accounts)]
pub struct MarketAdmin<'info> {
    pub admin: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = admin @ OutcomeError::NotAdmin)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
}

/// The change, and its event for the caller to emit.
fn change_status(market: &mut Market, key: Pubkey, to: MarketStatus, by: Pubkey) -> Result<MarketStatusChanged> {
    let from = market.status;
    market.status = to;
    Ok(MarketStatusChanged { market: key, from, to, by, unix_time: now()? })
}

pub fn handle_halt(ctx: Context<MarketAdmin>) -> Result<()> {
    require!(ctx.accounts.market.status == MarketStatus::Open, OutcomeError::MarketNotOpen);
    let key = ctx.accounts.market.key();
    let event = change_status(&mut ctx.accounts.market, key, MarketStatus::Halted, ctx.accounts.admin.key())?;
    crate::emit_event!(ctx, event);
    Ok(())
}

pub fn handle_resume(ctx: Context<MarketAdmin>) -> Result<()> {
    require!(ctx.accounts.market.status == MarketStatus::Halted, OutcomeError::MarketNotHalted);
    let key = ctx.accounts.market.key();
    let event = change_status(&mut ctx.accounts.market, key, MarketStatus::Open, ctx.accounts.admin.key())?;
    crate::emit_event!(ctx, event);
    Ok(())
}

/// Closes trading: the admin at any time, anyone once the close time has passed.
#[event_cpi]
#[derive(Accounts)]
pub struct CloseMarket<'info> {
    #[account(
        constraint = closer.key() == exchange.admin || now()? >= market.close_time @ OutcomeError::CloseTimeNotReached,
    )]
    pub closer: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump,
        constraint = matches!(market.status, MarketStatus::Open | MarketStatus::Halted) @ OutcomeError::MarketNotClosable,
    )]
    pub market: Box<Account<'info, Market>>,
}

pub fn handle_close_market(ctx: Context<CloseMarket>) -> Result<()> {
    let key = ctx.accounts.market.key();
    let event = change_status(&mut ctx.accounts.market, key, MarketStatus::Closed, ctx.accounts.closer.key())?;
    crate::emit_event!(ctx, event);
    Ok(())
}

#[event_cpi]
#[derive(Accounts)]
pub struct Determine<'info> {
    pub resolver: Signer<'info>,
    #[account(
        seeds = [EXCHANGE_SEED], bump = exchange.bump,
        constraint = exchange.resolver_authority == resolver.key() @ OutcomeError::NotResolver,
    )]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump,
        constraint = matches!(market.status, MarketStatus::Closed | MarketStatus::Determined) @ OutcomeError::MarketNotDeterminable,
    )]
    pub market: Box<Account<'info, Market>>,
}

/// Sets (or, during the dispute window, corrects) the result. Each call restarts the
/// window, with the length in force now, and fixes the market's `finalizable_at`.
pub fn handle_determine(ctx: Context<Determine>, yes_payout: u64) -> Result<()> {
    require!(yes_payout <= ONE_CONTRACT, OutcomeError::InvalidPayout);
    let now = now()?;
    let finalizable_at = now.checked_add(ctx.accounts.exchange.dispute_window_secs).ok_or(OutcomeError::MathOverflow)?;
    let market = &mut ctx.accounts.market;
    let correction = market.status == MarketStatus::Determined;
    if !correction {
        crate::emit_event!(ctx, MarketStatusChanged {
            market: market.key(),
            from: market.status,
            to: MarketStatus::Determined,
            by: ctx.accounts.resolver.key(),
            unix_time: now,
        });
    }
    market.status = MarketStatus::Determined;
    market.yes_payout = yes_payout;
    market.determined_at = now;
    market.finalizable_at = finalizable_at;
    crate::emit_event!(ctx, MarketDetermined { market: market.key(), yes_payout, correction, determined_at: now, finalizable_at });
    Ok(())
}

#[event_cpi]
#[derive(Accounts)]
pub struct Finalize<'info> {
    pub resolver: Signer<'info>,
    #[account(
        seeds = [EXCHANGE_SEED], bump = exchange.bump,
        constraint = exchange.resolver_authority == resolver.key() @ OutcomeError::NotResolver,
    )]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump,
        constraint = market.status == MarketStatus::Determined @ OutcomeError::MarketNotDetermined,
    )]
    pub market: Box<Account<'info, Market>>,
    #[account(address = market.vault @ OutcomeError::WrongMarket)]
    pub vault: Box<Account<'info, TokenAccount>>,
}

pub fn handle_finalize(ctx: Context<Finalize>) -> Result<()> {
    let now = now()?;
    let market = &mut ctx.accounts.market;
    require!(now >= market.finalizable_at, OutcomeError::DisputeWindowOpen);
    crate::emit_event!(ctx, MarketStatusChanged {
        market: market.key(),
        from: market.status,
        to: MarketStatus::Finalized,
        by: ctx.accounts.resolver.key(),
        unix_time: now,
    });
    market.status = MarketStatus::Finalized;
    market.finalized_at = now;
    crate::emit_event!(ctx, MarketFinalized {
        market: market.key(),
        yes_payout: market.yes_payout,
        sets_outstanding: market.sets_outstanding,
        vault_balance: ctx.accounts.vault.amount,
        finalized_at: now,
    });
    Ok(())
}
