//! Anyone's sets: mint (collateral in, 1 YES + 1 NO out), merge (back), redeem after finalization.
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use super::{burn, mint_to, now, transfer};
use crate::constants::*;
use crate::error::OutcomeError;
use crate::events::*;
use crate::math;
use crate::state::*;

/// Accounts shared by `mint_set` and `merge_set`.
#[event_cpi]
#[derive(Accounts)]
pub struct SetOperation<'info> {
    pub user: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
    /// The user's collateral account: source for mint, destination for merge.
    #[account(mut, token::mint = exchange.collateral_mint, token::authority = user)]
    pub user_collateral: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.vault @ OutcomeError::WrongMarket)]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.yes_mint @ OutcomeError::WrongMarket)]
    pub yes_mint: Box<Account<'info, Mint>>,
    #[account(mut, address = market.no_mint @ OutcomeError::WrongMarket)]
    pub no_mint: Box<Account<'info, Mint>>,
    /// YES destination for mint (any holder), source for merge (must be the user's).
    #[account(mut, token::mint = yes_mint)]
    pub user_yes: Box<Account<'info, TokenAccount>>,
    #[account(mut, token::mint = no_mint)]
    pub user_no: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// New sets: refused while paused (new exposure).
pub fn handle_mint_set(ctx: Context<SetOperation>, amount: u64) -> Result<()> {
    let a = &ctx.accounts;
    require!(!a.exchange.paused, OutcomeError::ExchangePaused);
    require!(amount > 0, OutcomeError::ZeroAmount);
    a.market.require_trading(now()?)?;
    require!(a.user_collateral.amount >= amount, OutcomeError::InsufficientBalance);
    let sets = a.market.sets_outstanding.checked_add(amount).ok_or(OutcomeError::MathOverflow)?;

    transfer(&a.token_program, &a.user_collateral, &a.vault, &a.user.to_account_info(), amount, &[])?;
    let bump = [a.market.bump];
    let seeds: &[&[u8]] = &[MARKET_SEED, a.market.ticker.as_bytes(), &bump];
    let market_info = a.market.to_account_info();
    mint_to(&a.token_program, &a.yes_mint, &a.user_yes, &market_info, amount, &[seeds])?;
    mint_to(&a.token_program, &a.no_mint, &a.user_no, &market_info, amount, &[seeds])?;

    let market = &mut ctx.accounts.market;
    market.sets_outstanding = sets;
    crate::emit_event!(ctx, SetMinted {
        market: market.key(),
        user: ctx.accounts.user.key(),
        amount,
        collateral_source: ctx.accounts.user_collateral.key(),
        yes_account: ctx.accounts.user_yes.key(),
        no_account: ctx.accounts.user_no.key(),
        sets_outstanding: sets,
    });
    Ok(())
}

/// A 1:1 exit (YES + NO back to collateral): allowed while paused, like every exit.
pub fn handle_merge_set(ctx: Context<SetOperation>, amount: u64) -> Result<()> {
    require!(amount > 0, OutcomeError::ZeroAmount);
    let a = &ctx.accounts;
    require!(a.market.allows_merge(), OutcomeError::MarketFinalized);
    // Burning needs the owner's signature anyway; checking first gives a named error.
    require!(a.user_yes.owner == a.user.key() && a.user_no.owner == a.user.key(), OutcomeError::NotTokenOwner);
    require!(a.user_yes.amount >= amount && a.user_no.amount >= amount, OutcomeError::InsufficientBalance);
    let sets = a.market.sets_outstanding.checked_sub(amount).ok_or(OutcomeError::MathOverflow)?;

    let user = a.user.to_account_info();
    burn(&a.token_program, &a.yes_mint, &a.user_yes, &user, amount, &[])?;
    burn(&a.token_program, &a.no_mint, &a.user_no, &user, amount, &[])?;
    let bump = [a.market.bump];
    let seeds: &[&[u8]] = &[MARKET_SEED, a.market.ticker.as_bytes(), &bump];
    transfer(&a.token_program, &a.vault, &a.user_collateral, &a.market.to_account_info(), amount, &[seeds])?;

    let market = &mut ctx.accounts.market;
    market.sets_outstanding = sets;
    crate::emit_event!(ctx, SetMerged {
        market: market.key(),
        user: ctx.accounts.user.key(),
        amount,
        yes_account: ctx.accounts.user_yes.key(),
        no_account: ctx.accounts.user_no.key(),
        collateral_destination: ctx.accounts.user_collateral.key(),
        sets_outstanding: sets,
    });
    Ok(())
}

/// Redeem YES and/or NO after finalization. Allowed while the exchange is paused.
#[event_cpi]
#[derive(Accounts)]
pub struct Redeem<'info> {
    pub user: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump,
        constraint = market.status == MarketStatus::Finalized @ OutcomeError::MarketNotFinalized,
    )]
    pub market: Box<Account<'info, Market>>,
    #[account(mut, address = market.vault @ OutcomeError::WrongMarket)]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.yes_mint @ OutcomeError::WrongMarket)]
    pub yes_mint: Box<Account<'info, Mint>>,
    #[account(mut, address = market.no_mint @ OutcomeError::WrongMarket)]
    pub no_mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = yes_mint, token::authority = user)]
    pub user_yes: Box<Account<'info, TokenAccount>>,
    #[account(mut, token::mint = no_mint, token::authority = user)]
    pub user_no: Box<Account<'info, TokenAccount>>,
    #[account(mut, token::mint = exchange.collateral_mint)]
    pub user_collateral: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

pub fn handle_redeem(ctx: Context<Redeem>, yes_amount: u64, no_amount: u64) -> Result<()> {
    require!(yes_amount > 0 || no_amount > 0, OutcomeError::ZeroAmount);
    let a = &ctx.accounts;
    require!(a.user_yes.amount >= yes_amount && a.user_no.amount >= no_amount, OutcomeError::InsufficientBalance);
    let payout = math::redemption(yes_amount, no_amount, a.market.yes_payout).ok_or(OutcomeError::MathOverflow)?;

    let user = a.user.to_account_info();
    burn(&a.token_program, &a.yes_mint, &a.user_yes, &user, yes_amount, &[])?;
    burn(&a.token_program, &a.no_mint, &a.user_no, &user, no_amount, &[])?;
    let bump = [a.market.bump];
    let seeds: &[&[u8]] = &[MARKET_SEED, a.market.ticker.as_bytes(), &bump];
    transfer(&a.token_program, &a.vault, &a.user_collateral, &a.market.to_account_info(), payout, &[seeds])?;

    crate::emit_event!(ctx, Redeemed {
        market: a.market.key(),
        user: a.user.key(),
        yes_burned: yes_amount,
        no_burned: no_amount,
        payout,
        yes_account: a.user_yes.key(),
        no_account: a.user_no.key(),
        collateral_destination: a.user_collateral.key(),
        vault_balance: a.vault.amount.saturating_sub(payout),
    });
    Ok(())
}
