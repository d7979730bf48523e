//! Custody: the bridge's sequenced instructions that move the omnibus accounts, and
//! wallet deposits into them.
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use super::{burn, mint_to, now, transfer};
use crate::constants::*;
use crate::error::OutcomeError;
use crate::events::*;
use crate::math;
use crate::state::*;

/// Custody's side of a market's sets (mint, merge, redeem), on the market's bridge stream.
#[event_cpi]
#[derive(Accounts)]
pub struct CustodySets<'info> {
    pub bridge_authority: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = bridge_authority @ OutcomeError::NotBridgeAuthority)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
    #[account(seeds = [CUSTODY_SEED], bump = custody.bump)]
    pub custody: Box<Account<'info, Custody>>,
    #[account(mut, address = custody.collateral_account @ OutcomeError::WrongMarket)]
    pub custody_collateral: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.vault @ OutcomeError::WrongMarket)]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.yes_mint @ OutcomeError::WrongMarket)]
    pub yes_mint: Box<Account<'info, Mint>>,
    #[account(mut, address = market.no_mint @ OutcomeError::WrongMarket)]
    pub no_mint: Box<Account<'info, Mint>>,
    #[account(mut, address = market.custody_yes @ OutcomeError::WrongMarket)]
    pub custody_yes: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.custody_no @ OutcomeError::WrongMarket)]
    pub custody_no: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// New sets for custody: like `mint_set`, only while the market trades (open, before its close time).
/// One custody set record: its sequence number on the market's stream and the sets it mints
/// or merges.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetArgs {
    pub seq: u64,
    pub amount: u64,
}

/// `custody_mint_set` (one record) and `custody_mint_sets` (several): each record is checked
/// against what the records before it took, consumes its own seq and emits its own
/// `CustodySetMinted`; the tokens move once for the sum (three token CPIs a batch).
pub fn handle_custody_mint_sets(ctx: Context<CustodySets>, records: &[SetArgs]) -> Result<()> {
    require!(!records.is_empty(), OutcomeError::EmptyBatch);
    require!(!ctx.accounts.exchange.paused, OutcomeError::ExchangePaused);
    ctx.accounts.market.require_trading(now()?)?;
    let mut total = 0u64;
    let mut events = Vec::with_capacity(records.len());
    for &SetArgs { seq, amount } in records {
        require!(amount > 0, OutcomeError::ZeroAmount);
        ctx.accounts.market.window.accept(seq)?;
        total = total.checked_add(amount).ok_or(OutcomeError::MathOverflow)?;
        let a = &ctx.accounts;
        require!(a.custody_collateral.amount >= total, OutcomeError::InsufficientBalance);
        let sets = a.market.sets_outstanding.checked_add(amount).ok_or(OutcomeError::MathOverflow)?;
        let market = a.market.key();
        let custody_collateral_balance = a.custody_collateral.amount - total;
        ctx.accounts.market.sets_outstanding = sets;
        events.push(CustodySetMinted { stream: market, market, seq, amount, sets_outstanding: sets, custody_collateral_balance });
    }

    let a = &ctx.accounts;
    let custody_bump = [a.custody.bump];
    let custody_seeds: &[&[u8]] = &[CUSTODY_SEED, &custody_bump];
    transfer(&a.token_program, &a.custody_collateral, &a.vault, &a.custody.to_account_info(), total, &[custody_seeds])?;
    let bump = [a.market.bump];
    let seeds: &[&[u8]] = &[MARKET_SEED, a.market.ticker.as_bytes(), &bump];
    let market_info = a.market.to_account_info();
    mint_to(&a.token_program, &a.yes_mint, &a.custody_yes, &market_info, total, &[seeds])?;
    mint_to(&a.token_program, &a.no_mint, &a.custody_no, &market_info, total, &[seeds])?;
    for event in events {
        crate::emit_event!(ctx, event);
    }
    Ok(())
}

/// `custody_merge_set` and `custody_merge_sets`: as [`handle_custody_mint_sets`], retiring sets.
pub fn handle_custody_merge_sets(ctx: Context<CustodySets>, records: &[SetArgs]) -> Result<()> {
    require!(!records.is_empty(), OutcomeError::EmptyBatch);
    require!(!ctx.accounts.exchange.paused, OutcomeError::ExchangePaused);
    require!(ctx.accounts.market.allows_merge(), OutcomeError::MarketFinalized);
    let mut total = 0u64;
    let mut events = Vec::with_capacity(records.len());
    for &SetArgs { seq, amount } in records {
        require!(amount > 0, OutcomeError::ZeroAmount);
        ctx.accounts.market.window.accept(seq)?;
        total = total.checked_add(amount).ok_or(OutcomeError::MathOverflow)?;
        let a = &ctx.accounts;
        require!(a.custody_yes.amount >= total && a.custody_no.amount >= total, OutcomeError::InsufficientBalance);
        let sets = a.market.sets_outstanding.checked_sub(amount).ok_or(OutcomeError::MathOverflow)?;
        let market = a.market.key();
        let custody_collateral_balance = a.custody_collateral.amount.checked_add(total).ok_or(OutcomeError::MathOverflow)?;
        ctx.accounts.market.sets_outstanding = sets;
        events.push(CustodySetMerged { stream: market, market, seq, amount, sets_outstanding: sets, custody_collateral_balance });
    }

    let a = &ctx.accounts;
    let custody_bump = [a.custody.bump];
    let custody_seeds: &[&[u8]] = &[CUSTODY_SEED, &custody_bump];
    let custody_info = a.custody.to_account_info();
    burn(&a.token_program, &a.yes_mint, &a.custody_yes, &custody_info, total, &[custody_seeds])?;
    burn(&a.token_program, &a.no_mint, &a.custody_no, &custody_info, total, &[custody_seeds])?;
    let bump = [a.market.bump];
    let seeds: &[&[u8]] = &[MARKET_SEED, a.market.ticker.as_bytes(), &bump];
    transfer(&a.token_program, &a.vault, &a.custody_collateral, &a.market.to_account_info(), total, &[seeds])?;
    for event in events {
        crate::emit_event!(ctx, event);
    }
    Ok(())
}

/// Redeems custody's YES/NO after finalization into custody's collateral (allowed while paused).
pub fn handle_custody_redeem(ctx: Context<CustodySets>, seq: u64, yes_amount: u64, no_amount: u64) -> Result<()> {
    require!(ctx.accounts.market.status == MarketStatus::Finalized, OutcomeError::MarketNotFinalized);
    require!(yes_amount > 0 || no_amount > 0, OutcomeError::ZeroAmount);
    ctx.accounts.market.window.accept(seq)?;
    let a = &ctx.accounts;
    require!(a.custody_yes.amount >= yes_amount && a.custody_no.amount >= no_amount, OutcomeError::InsufficientBalance);
    let payout = math::redemption(yes_amount, no_amount, a.market.yes_payout).ok_or(OutcomeError::MathOverflow)?;

    let custody_bump = [a.custody.bump];
    let custody_seeds: &[&[u8]] = &[CUSTODY_SEED, &custody_bump];
    let custody_info = a.custody.to_account_info();
    burn(&a.token_program, &a.yes_mint, &a.custody_yes, &custody_info, yes_amount, &[custody_seeds])?;
    burn(&a.token_program, &a.no_mint, &a.custody_no, &custody_info, no_amount, &[custody_seeds])?;
    let bump = [a.market.bump];
    let seeds: &[&[u8]] = &[MARKET_SEED, a.market.ticker.as_bytes(), &bump];
    transfer(&a.token_program, &a.vault, &a.custody_collateral, &a.market.to_account_info(), payout, &[seeds])?;

    crate::emit_event!(ctx, CustodyRedeemed {
        stream: a.market.key(),
        market: a.market.key(),
        seq,
        yes_burned: yes_amount,
        no_burned: no_amount,
        payout,
        custody_collateral_balance: a.custody_collateral.amount.checked_add(payout).ok_or(OutcomeError::MathOverflow)?,
    });
    Ok(())
}

/// Moves a custodial YES/NO position out to a wallet's token account (market stream).
#[event_cpi]
#[derive(Accounts)]
#[instruction(seq: u64, outcome: Outcome)]
pub struct CustodyWithdraw<'info> {
    pub bridge_authority: Signer<'info>,
    #[account(
        seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = bridge_authority @ OutcomeError::NotBridgeAuthority,
        constraint = !exchange.paused @ OutcomeError::ExchangePaused,
    )]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
    #[account(seeds = [CUSTODY_SEED], bump = custody.bump)]
    pub custody: Box<Account<'info, Custody>>,
    #[account(mut, address = market.custody_account(outcome) @ OutcomeError::WrongMarket)]
    pub source: Box<Account<'info, TokenAccount>>,
    #[account(
        mut, token::mint = market.mint(outcome),
        constraint = destination.key() != source.key() @ OutcomeError::DuplicateAccount,
    )]
    pub destination: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

pub fn handle_custody_withdraw(ctx: Context<CustodyWithdraw>, seq: u64, outcome: Outcome, amount: u64) -> Result<()> {
    require!(amount > 0, OutcomeError::ZeroAmount);
    ctx.accounts.market.window.accept(seq)?;
    let a = &ctx.accounts;
    require!(a.source.amount >= amount, OutcomeError::InsufficientBalance);
    let custody_bump = [a.custody.bump];
    let custody_seeds: &[&[u8]] = &[CUSTODY_SEED, &custody_bump];
    transfer(&a.token_program, &a.source, &a.destination, &a.custody.to_account_info(), amount, &[custody_seeds])?;
    crate::emit_event!(ctx, CustodyWithdrawn {
        stream: a.market.key(),
        market: a.market.key(),
        seq,
        outcome,
        amount,
        destination: a.destination.key(),
        destination_owner: a.destination.owner,
    });
    Ok(())
}

/// Collateral out of custody (exchange-wide stream): to a wallet, or surplus to the treasury.
#[event_cpi]
#[derive(Accounts)]
pub struct CustodyCollateralOut<'info> {
    pub bridge_authority: Signer<'info>,
    #[account(
        seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = bridge_authority @ OutcomeError::NotBridgeAuthority,
        constraint = !exchange.paused @ OutcomeError::ExchangePaused,
    )]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [CUSTODY_SEED], bump = custody.bump)]
    pub custody: Box<Account<'info, Custody>>,
    #[account(mut, address = custody.collateral_account @ OutcomeError::WrongMarket)]
    pub custody_collateral: Box<Account<'info, TokenAccount>>,
    /// The wallet's collateral account (`custody_withdraw_collateral`) or the treasury (`custody_sweep`).
    #[account(
        mut, token::mint = exchange.collateral_mint,
        constraint = destination.key() != custody_collateral.key() @ OutcomeError::DuplicateAccount,
    )]
    pub destination: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

fn pay_out_collateral(ctx: &mut Context<CustodyCollateralOut>, seq: u64, amount: u64) -> Result<u64> {
    require!(amount > 0, OutcomeError::ZeroAmount);
    ctx.accounts.custody.window.accept(seq)?;
    let a = &ctx.accounts;
    require!(a.custody_collateral.amount >= amount, OutcomeError::InsufficientBalance);
    let custody_bump = [a.custody.bump];
    let custody_seeds: &[&[u8]] = &[CUSTODY_SEED, &custody_bump];
    transfer(&a.token_program, &a.custody_collateral, &a.destination, &a.custody.to_account_info(), amount, &[custody_seeds])?;
    Ok(a.custody_collateral.amount - amount)
}

pub fn handle_custody_withdraw_collateral(mut ctx: Context<CustodyCollateralOut>, seq: u64, amount: u64) -> Result<()> {
    let balance = pay_out_collateral(&mut ctx, seq, amount)?;
    crate::emit_event!(ctx, CustodyCollateralWithdrawn {
        stream: ctx.accounts.custody.key(),
        seq,
        amount,
        destination: ctx.accounts.destination.key(),
        destination_owner: ctx.accounts.destination.owner,
        custody_collateral_balance: balance,
    });
    Ok(())
}

/// Fees out of custody to the treasury: at most what wallet fills paid in (`fees_accrued`);
/// the rest of custody's collateral backs custodial cash and cannot be swept.
pub fn handle_custody_sweep(mut ctx: Context<CustodyCollateralOut>, seq: u64, amount: u64) -> Result<()> {
    require_keys_eq!(ctx.accounts.destination.key(), ctx.accounts.exchange.treasury, OutcomeError::NotTreasury);
    require!(amount <= ctx.accounts.custody.fees_accrued, OutcomeError::SweepExceedsFees);
    let fees_accrued = ctx.accounts.custody.fees_accrued - amount;
    let balance = pay_out_collateral(&mut ctx, seq, amount)?;
    ctx.accounts.custody.fees_accrued = fees_accrued;
    crate::emit_event!(ctx, CustodySwept {
        stream: ctx.accounts.custody.key(),
        seq,
        amount,
        treasury: ctx.accounts.destination.key(),
        custody_collateral_balance: balance,
        fees_accrued,
    });
    Ok(())
}

/// Operator cash into custody (the outbox's `custody_fund`, exchange-wide stream): collateral
/// from a token account the bridge authority controls (the operator's float) into custody's
/// collateral account. Allowed while paused: it only adds backing.
#[event_cpi]
#[derive(Accounts)]
pub struct CustodyFund<'info> {
    pub bridge_authority: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = bridge_authority @ OutcomeError::NotBridgeAuthority)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [CUSTODY_SEED], bump = custody.bump)]
    pub custody: Box<Account<'info, Custody>>,
    #[account(mut, token::mint = exchange.collateral_mint, token::authority = bridge_authority)]
    pub source: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = custody.collateral_account @ OutcomeError::WrongMarket)]
    pub custody_collateral: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

pub fn handle_custody_fund(ctx: Context<CustodyFund>, seq: u64, amount: u64) -> Result<()> {
    require!(amount > 0, OutcomeError::ZeroAmount);
    ctx.accounts.custody.window.accept(seq)?;
    let a = &ctx.accounts;
    require!(a.source.amount >= amount, OutcomeError::InsufficientBalance);
    transfer(&a.token_program, &a.source, &a.custody_collateral, &a.bridge_authority.to_account_info(), amount, &[])?;
    crate::emit_event!(ctx, CustodyFunded {
        stream: a.custody.key(),
        seq,
        amount,
        source: a.source.key(),
        custody_collateral_balance: a.custody_collateral.amount.checked_add(amount).ok_or(OutcomeError::MathOverflow)?,
    });
    Ok(())
}

/// A wallet's collateral into custody, credited by the ledger to `account_ref`.
#[event_cpi]
#[derive(Accounts)]
pub struct DepositCollateral<'info> {
    pub depositor: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump, constraint = !exchange.paused @ OutcomeError::ExchangePaused)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(seeds = [CUSTODY_SEED], bump = custody.bump)]
    pub custody: Box<Account<'info, Custody>>,
    #[account(mut, token::mint = exchange.collateral_mint, token::authority = depositor)]
    pub source: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = custody.collateral_account @ OutcomeError::WrongMarket)]
    pub custody_collateral: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

pub fn handle_deposit_collateral(ctx: Context<DepositCollateral>, amount: u64, account_ref: [u8; 16]) -> Result<()> {
    require!(amount > 0, OutcomeError::ZeroAmount);
    let a = &ctx.accounts;
    require!(a.source.amount >= amount, OutcomeError::InsufficientBalance);
    transfer(&a.token_program, &a.source, &a.custody_collateral, &a.depositor.to_account_info(), amount, &[])?;
    crate::emit_event!(ctx, Deposited {
        depositor: a.depositor.key(),
        market: Pubkey::default(),
        is_collateral: true,
        outcome: Outcome::Yes,
        amount,
        source: a.source.key(),
        destination: a.custody_collateral.key(),
        account_ref,
    });
    Ok(())
}

/// A wallet's YES or NO tokens into custody, credited by the ledger to `account_ref`.
#[event_cpi]
#[derive(Accounts)]
#[instruction(outcome: Outcome)]
pub struct DepositTokens<'info> {
    pub depositor: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump, constraint = !exchange.paused @ OutcomeError::ExchangePaused)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
    #[account(mut, token::mint = market.mint(outcome), token::authority = depositor)]
    pub source: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.custody_account(outcome) @ OutcomeError::WrongMarket)]
    pub destination: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

pub fn handle_deposit_tokens(ctx: Context<DepositTokens>, outcome: Outcome, amount: u64, account_ref: [u8; 16]) -> Result<()> {
    require!(amount > 0, OutcomeError::ZeroAmount);
    let a = &ctx.accounts;
    require!(a.source.amount >= amount, OutcomeError::InsufficientBalance);
    transfer(&a.token_program, &a.source, &a.destination, &a.depositor.to_account_info(), amount, &[])?;
    crate::emit_event!(ctx, Deposited {
        depositor: a.depositor.key(),
        market: a.market.key(),
        is_collateral: false,
        outcome,
        amount,
        source: a.source.key(),
        destination: a.destination.key(),
        account_ref,
    });
    Ok(())
}
