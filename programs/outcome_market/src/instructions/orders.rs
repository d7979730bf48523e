//! Wallet orders: escrowed on placement, filled against custody by the bridge
//! (`settle_fill`), refunded by the bridge (`close_order`) or, if the operator ignores a
//! cancel request for `force_close_slots` (the delay in force when the order was placed),
//! by the owner (`force_close`). The bridge names the order it means by its `order_id`.
//!
//! Invariant 5 (a wallet never loses more than its signed order allows) holds by
//! construction: everything a fill takes comes out of the escrow, which holds exactly
//! size × limit + max_fee collateral (buys) or size tokens (sells); every fill is checked
//! against the limit price, the unfilled size and the fee budget before it moves anything.
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use super::{close_token_account, now, transfer};
use crate::constants::*;
use crate::error::OutcomeError;
use crate::events::*;
use crate::math;
use crate::state::*;

#[event_cpi]
#[derive(Accounts)]
#[instruction(nonce: u64, side: OrderSide)]
pub struct PlaceOrder<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump, constraint = !exchange.paused @ OutcomeError::ExchangePaused)]
    pub exchange: Box<Account<'info, Exchange>>,
    /// Writable: it counts orders to assign `order_id`.
    #[account(mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
    #[account(
        init, payer = owner, space = 8 + WalletOrder::INIT_SPACE,
        seeds = [ORDER_SEED, market.key().as_ref(), owner.key().as_ref(), &nonce.to_le_bytes()], bump,
    )]
    pub order: Box<Account<'info, WalletOrder>>,
    #[account(address = escrow_mint_for(side, exchange.collateral_mint, &market) @ OutcomeError::WrongMint)]
    pub escrow_mint: Box<Account<'info, Mint>>,
    #[account(
        init, payer = owner, seeds = [ESCROW_SEED, order.key().as_ref()], bump,
        token::mint = escrow_mint, token::authority = order,
    )]
    pub escrow: Box<Account<'info, TokenAccount>>,
    #[account(mut, token::mint = escrow_mint, token::authority = owner)]
    pub source: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

pub fn handle_place_order(
    ctx: Context<PlaceOrder>,
    nonce: u64,
    side: OrderSide,
    limit_price: u64,
    size: u64,
    max_fee: u64,
) -> Result<()> {
    let a = &ctx.accounts;
    a.market.require_trading(now()?)?;
    require!(math::is_valid_price(limit_price, a.market.tick_size), OutcomeError::InvalidPrice);
    require!(math::is_valid_size(size), OutcomeError::InvalidSize);
    let escrowed = if side.is_buy() {
        math::buy_escrow(size, limit_price, max_fee).ok_or(OutcomeError::MathOverflow)?
    } else {
        // The order's full notional must be representable, or no fill could ever be priced.
        math::notional(size, limit_price).ok_or(OutcomeError::MathOverflow)?;
        size
    };
    require!(a.source.amount >= escrowed, OutcomeError::InsufficientBalance);
    transfer(&a.token_program, &a.source, &a.escrow, &a.owner.to_account_info(), escrowed, &[])?;

    let slot = Clock::get()?.slot;
    let market = &mut ctx.accounts.market;
    let order_id = market.orders_placed.checked_add(1).ok_or(OutcomeError::MathOverflow)?;
    market.orders_placed = order_id;
    let force_close_slots = ctx.accounts.exchange.force_close_slots;
    let order = &mut ctx.accounts.order;
    order.market = ctx.accounts.market.key();
    order.owner = ctx.accounts.owner.key();
    order.nonce = nonce;
    order.order_id = order_id;
    order.side = side;
    order.limit_price = limit_price;
    order.size = size;
    order.filled = 0;
    order.max_fee = max_fee;
    order.fees_paid = 0;
    order.fee_cap_basis = 0;
    order.escrow = ctx.accounts.escrow.key();
    order.escrowed = escrowed;
    order.status = OrderStatus::Open;
    order.placed_slot = slot;
    order.cancel_requested_slot = 0;
    order.force_close_slots = force_close_slots;
    order.bump = ctx.bumps.order;
    crate::emit_event!(ctx, OrderPlaced {
        order: order.key(),
        order_id,
        market: order.market,
        owner: order.owner,
        nonce,
        side,
        limit_price,
        size,
        max_fee,
        escrow: order.escrow,
        escrowed,
        source: ctx.accounts.source.key(),
        slot,
        force_close_slots,
    });
    Ok(())
}

/// The owner asks the operator to cancel; allowed while paused or halted.
#[event_cpi]
#[derive(Accounts)]
pub struct RequestCancel<'info> {
    pub owner: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        mut, has_one = owner @ OutcomeError::NotTokenOwner,
        seeds = [ORDER_SEED, order.market.as_ref(), order.owner.as_ref(), &order.nonce.to_le_bytes()], bump = order.bump,
        constraint = order.status == OrderStatus::Open @ OutcomeError::CancelAlreadyRequested,
    )]
    pub order: Box<Account<'info, WalletOrder>>,
}

pub fn handle_request_cancel(ctx: Context<RequestCancel>) -> Result<()> {
    let slot = Clock::get()?.slot;
    let order = &mut ctx.accounts.order;
    order.status = OrderStatus::CancelRequested;
    order.cancel_requested_slot = slot;
    crate::emit_event!(ctx, CancelRequested {
        order: order.key(),
        order_id: order.order_id,
        market: order.market,
        owner: order.owner,
        slot,
        force_close_slot: slot.checked_add(order.force_close_slots).ok_or(OutcomeError::MathOverflow)?,
    });
    Ok(())
}

/// Refund the escrow, close it and the order (rent to the owner).
fn refund_and_close<'info>(
    token_program: &Program<'info, Token>,
    order: &Account<'info, WalletOrder>,
    escrow: &Account<'info, TokenAccount>,
    refund_account: &Account<'info, TokenAccount>,
    owner: &AccountInfo<'info>,
) -> Result<u64> {
    let nonce = order.nonce.to_le_bytes();
    let bump = [order.bump];
    let seeds: &[&[u8]] = &[ORDER_SEED, order.market.as_ref(), order.owner.as_ref(), &nonce, &bump];
    let order_info = order.to_account_info();
    let refunded = escrow.amount;
    transfer(token_program, escrow, refund_account, &order_info, refunded, &[seeds])?;
    close_token_account(token_program, escrow, owner, &order_info, &[seeds])?;
    Ok(refunded)
}

/// The owner reclaims an order whose cancel request the operator ignored for the order's
/// own `force_close_slots` (fixed when it was placed). Allowed while paused or halted. Takes the Clock sysvar as an
/// account so the slot it trusts is the runtime's (a substituted account is refused).
#[event_cpi]
#[derive(Accounts)]
pub struct ForceClose<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        mut, close = owner, has_one = owner @ OutcomeError::NotTokenOwner, has_one = escrow @ OutcomeError::WrongEscrow,
        seeds = [ORDER_SEED, order.market.as_ref(), order.owner.as_ref(), &order.nonce.to_le_bytes()], bump = order.bump,
        constraint = order.status == OrderStatus::CancelRequested @ OutcomeError::CancelNotRequested,
        constraint = clock.slot >= order.cancel_requested_slot.saturating_add(order.force_close_slots) @ OutcomeError::ForceCloseTooEarly,
    )]
    pub order: Box<Account<'info, WalletOrder>>,
    #[account(mut)]
    pub escrow: Box<Account<'info, TokenAccount>>,
    #[account(
        mut,
        constraint = refund_account.mint == escrow.mint @ OutcomeError::WrongMint,
        constraint = refund_account.owner == owner.key() @ OutcomeError::NotTokenOwner,
    )]
    pub refund_account: Box<Account<'info, TokenAccount>>,
    pub clock: Sysvar<'info, Clock>,
    pub token_program: Program<'info, Token>,
}

pub fn handle_force_close(ctx: Context<ForceClose>) -> Result<()> {
    let a = &ctx.accounts;
    let refunded = refund_and_close(&a.token_program, &a.order, &a.escrow, &a.refund_account, &a.owner.to_account_info())?;
    crate::emit_event!(ctx, OrderClosed {
        stream: a.order.market,
        market: a.order.market,
        order: a.order.key(),
        order_id: a.order.order_id,
        owner: a.order.owner,
        reason: CloseReason::Forced,
        seq: 0,
        filled: a.order.filled,
        refunded,
        refund_account: a.refund_account.key(),
    });
    Ok(())
}

/// A fill between a wallet order and custody, at a price no worse than the order's limit,
/// while the market trades (open, before its close time). `settle_fill` (one fill) and
/// `settle_fills` (several fills of the same order) share these accounts and one handler.
#[event_cpi]
#[derive(Accounts)]
pub struct SettleFill<'info> {
    pub bridge_authority: Signer<'info>,
    #[account(
        seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = bridge_authority @ OutcomeError::NotBridgeAuthority,
        constraint = !exchange.paused @ OutcomeError::ExchangePaused,
    )]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
    /// Writable: it accrues the fee (`fees_accrued`).
    #[account(mut, seeds = [CUSTODY_SEED], bump = custody.bump)]
    pub custody: Box<Account<'info, Custody>>,
    /// The order named by `order_id` (checked in the handler: the id is an argument of both
    /// instructions, at different positions).
    #[account(
        mut, has_one = market @ OutcomeError::WrongMarket, has_one = escrow @ OutcomeError::WrongEscrow,
        seeds = [ORDER_SEED, order.market.as_ref(), order.owner.as_ref(), &order.nonce.to_le_bytes()], bump = order.bump,
    )]
    pub order: Box<Account<'info, WalletOrder>>,
    #[account(mut)]
    pub escrow: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = custody.collateral_account @ OutcomeError::WrongMarket)]
    pub custody_collateral: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.custody_account(order.side.outcome()) @ OutcomeError::WrongMarket)]
    pub custody_outcome: Box<Account<'info, TokenAccount>>,
    /// The owner's account that receives what the order asked for.
    #[account(
        mut,
        constraint = wallet_account.mint == receive_mint_for(order.side, exchange.collateral_mint, &market) @ OutcomeError::WrongMint,
        constraint = wallet_account.owner == order.owner @ OutcomeError::NotTokenOwner,
        constraint = wallet_account.key() != escrow.key() @ OutcomeError::DuplicateAccount,
    )]
    pub wallet_account: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// One fill of a wallet order: its sequence number on the market's stream, the size, the
/// price (in the order's side's terms) and the fee the wallet pays.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillArgs {
    pub seq: u64,
    pub size: u64,
    pub price: u64,
    pub fee: u64,
}

/// Settles `fills` of one order, in order, all or nothing. Each fill is checked against the
/// order as the fills before it left it, consumes its own seq and emits its own
/// `FillSettled`; the tokens move once for the whole batch (the sums), so a batch costs two
/// token CPIs plus one event CPI per fill.
pub fn handle_settle_fills(ctx: Context<SettleFill>, order_id: u64, fills: &[FillArgs]) -> Result<()> {
    require!(!fills.is_empty(), OutcomeError::EmptyBatch);
    require!(ctx.accounts.order.order_id == order_id, OutcomeError::OrderIdMismatch);
    ctx.accounts.market.require_trading(now()?)?;
    let is_buy = ctx.accounts.order.side.is_buy();
    // what the escrow pays custody, and custody the wallet, for all fills so far
    let (mut escrow_out_total, mut custody_out_total) = (0u64, 0u64);
    let mut events = Vec::with_capacity(fills.len());
    for &FillArgs { seq, size, price, fee } in fills {
        let (order, market, exchange) = (&ctx.accounts.order, &ctx.accounts.market, &ctx.accounts.exchange);
        require!(math::is_valid_size(size), OutcomeError::InvalidSize);
        require!(size <= order.remaining(), OutcomeError::FillExceedsSize);
        require!(math::is_valid_price(price, market.tick_size), OutcomeError::InvalidPrice);
        let within_limit = if is_buy { price <= order.limit_price } else { price >= order.limit_price };
        require!(within_limit, OutcomeError::PriceWorseThanLimit);
        let cost = math::notional(size, price).ok_or(OutcomeError::MathOverflow)?;
        // The order's fees so far plus this one may not exceed the cap of all its fills together
        // (rounded up to the cent once), however the fills were split.
        let fee_cap_basis = math::fee_cap_basis(size, price, exchange.fee_rate_bps)
            .and_then(|b| b.checked_add(order.fee_cap_basis))
            .ok_or(OutcomeError::MathOverflow)?;
        let fees_paid = order.fees_paid.checked_add(fee).ok_or(OutcomeError::MathOverflow)?;
        require!(fees_paid <= math::fee_cap_of_basis(fee_cap_basis).ok_or(OutcomeError::MathOverflow)?, OutcomeError::FeeAboveCap);
        require!(fees_paid <= order.max_fee, OutcomeError::FeeAboveBudget);
        let fees_accrued = ctx.accounts.custody.fees_accrued.checked_add(fee).ok_or(OutcomeError::MathOverflow)?;
        ctx.accounts.market.window.accept(seq)?;

        let a = &ctx.accounts;
        // escrow_out leaves the escrow for custody, custody_out leaves custody for the wallet
        let (escrow_out, custody_out) = if is_buy {
            // Escrow pays cost + fee to custody; custody pays the outcome tokens to the wallet.
            let paid = cost.checked_add(fee).ok_or(OutcomeError::MathOverflow)?;
            (paid, size)
        } else {
            // Escrow pays the tokens to custody; custody pays cost − fee to the wallet.
            let proceeds = cost.checked_sub(fee).ok_or(OutcomeError::FeeExceedsProceeds)?;
            (size, proceeds)
        };
        escrow_out_total = escrow_out_total.checked_add(escrow_out).ok_or(OutcomeError::MathOverflow)?;
        custody_out_total = custody_out_total.checked_add(custody_out).ok_or(OutcomeError::MathOverflow)?;
        // the order's escrow (and the token account itself) cover every fill so far
        require!(escrow_out <= a.order.escrowed && escrow_out_total <= a.escrow.amount, OutcomeError::EscrowInsufficient);
        let custody_source = if is_buy { &a.custody_outcome } else { &a.custody_collateral };
        require!(custody_source.amount >= custody_out_total, OutcomeError::InsufficientBalance);

        ctx.accounts.custody.fees_accrued = fees_accrued;
        let order = &mut ctx.accounts.order;
        order.filled += size; // size <= remaining, checked above
        order.fees_paid = fees_paid;
        order.fee_cap_basis = fee_cap_basis;
        order.escrowed -= escrow_out; // escrow_out <= escrowed, checked above
        events.push(FillSettled {
            stream: order.market,
            market: order.market,
            seq,
            order: order.key(),
            order_id,
            owner: order.owner,
            side: order.side,
            size,
            price,
            cost,
            fee,
            wallet_account: ctx.accounts.wallet_account.key(),
            filled: order.filled,
            escrowed: order.escrowed,
            fees_paid,
            fees_accrued,
        });
    }

    let a = &ctx.accounts;
    let nonce = a.order.nonce.to_le_bytes();
    let order_bump = [a.order.bump];
    let order_seeds: &[&[u8]] = &[ORDER_SEED, a.order.market.as_ref(), a.order.owner.as_ref(), &nonce, &order_bump];
    let custody_bump = [a.custody.bump];
    let custody_seeds: &[&[u8]] = &[CUSTODY_SEED, &custody_bump];
    let (order_info, custody_info) = (a.order.to_account_info(), a.custody.to_account_info());
    let (escrow_to, custody_from) = if is_buy { (&a.custody_collateral, &a.custody_outcome) } else { (&a.custody_outcome, &a.custody_collateral) };
    transfer(&a.token_program, &a.escrow, escrow_to, &order_info, escrow_out_total, &[order_seeds])?;
    transfer(&a.token_program, custody_from, &a.wallet_account, &custody_info, custody_out_total, &[custody_seeds])?;
    for event in events {
        crate::emit_event!(ctx, event);
    }
    Ok(())
}

/// The bridge refunds the unfilled rest after the CLOB cancelled (or completed) the
/// order, and closes it. Allowed while paused or halted: it only returns the wallet's funds.
#[event_cpi]
#[derive(Accounts)]
#[instruction(seq: u64, order_id: u64)]
pub struct CloseOrder<'info> {
    pub bridge_authority: Signer<'info>,
    #[account(seeds = [EXCHANGE_SEED], bump = exchange.bump, has_one = bridge_authority @ OutcomeError::NotBridgeAuthority)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut, seeds = [MARKET_SEED, market.ticker.as_bytes()], bump = market.bump)]
    pub market: Box<Account<'info, Market>>,
    #[account(
        mut, close = owner,
        has_one = market @ OutcomeError::WrongMarket, has_one = owner @ OutcomeError::NotTokenOwner,
        has_one = escrow @ OutcomeError::WrongEscrow,
        seeds = [ORDER_SEED, order.market.as_ref(), order.owner.as_ref(), &order.nonce.to_le_bytes()], bump = order.bump,
        constraint = order.order_id == order_id @ OutcomeError::OrderIdMismatch,
    )]
    pub order: Box<Account<'info, WalletOrder>>,
    /// CHECK: the order's owner (checked by `has_one`); receives the rent of the order and escrow.
    #[account(mut)]
    pub owner: UncheckedAccount<'info>,
    #[account(mut)]
    pub escrow: Box<Account<'info, TokenAccount>>,
    #[account(
        mut,
        constraint = refund_account.mint == escrow.mint @ OutcomeError::WrongMint,
        constraint = refund_account.owner == order.owner @ OutcomeError::NotTokenOwner,
    )]
    pub refund_account: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

pub fn handle_close_order(ctx: Context<CloseOrder>, seq: u64, order_id: u64) -> Result<()> {
    ctx.accounts.market.window.accept(seq)?;
    let a = &ctx.accounts;
    let refunded = refund_and_close(&a.token_program, &a.order, &a.escrow, &a.refund_account, &a.owner.to_account_info())?;
    crate::emit_event!(ctx, OrderClosed {
        stream: a.market.key(),
        market: a.order.market,
        order: a.order.key(),
        order_id,
        owner: a.order.owner,
        reason: CloseReason::Bridge,
        seq,
        filled: a.order.filled,
        refunded,
        refund_account: a.refund_account.key(),
    });
    Ok(())
}
