//! One event per state change. Each carries the accounts it touched and the amounts that
//! moved, plus the market's totals after the change, so an indexer can rebuild every
//! balance (vaults, custody, escrows, wallet token movements) from events alone.
//!
//! Events are emitted as self-CPIs (see [`emit_cpi_event`]): readers find them in the
//! transaction's inner instructions, never in its (truncated) log.
//!
//! Every bridge-sequenced record emits exactly one event with `stream` and `seq` (one
//! instruction, or one fill of a `settle_fills`):
//! `stream` is the address of the account whose replay window sequenced it (the market
//! for a market stream, the Custody PDA for the exchange-wide stream), so the applied
//! seqs of every stream can be read from events alone. `OrderClosed` by `force_close` is
//! not sequenced: its `seq` is 0.
use anchor_lang::prelude::*;

use crate::state::{MarketStatus, OrderSide, Outcome};

/// Emits an event as Anchor's `emit_cpi!` does: a CPI to this program itself, signed by the
/// event authority PDA (`[b"__event_authority"]`, the `event_authority` account that
/// `#[event_cpi]` adds to every instruction), whose data is `EVENT_IX_TAG_LE`, the event's
/// discriminator and its borsh fields. Readers take events from the transaction's inner
/// instructions, which, unlike logs (cut at 10 kB per transaction), are never truncated.
/// A function rather than `emit_cpi!` so helpers can emit without the whole `Context`.
pub fn emit_cpi_event<'info, E: anchor_lang::Event>(event_authority: &AccountInfo<'info>, bump: u8, event: &E) -> Result<()> {
    let mut data = anchor_lang::event::EVENT_IX_TAG_LE.to_vec();
    data.extend_from_slice(&event.data());
    let ix = anchor_lang::solana_program::instruction::Instruction::new_with_bytes(
        crate::ID,
        &data,
        vec![anchor_lang::solana_program::instruction::AccountMeta::new_readonly(*event_authority.key, true)],
    );
    anchor_lang::solana_program::program::invoke_signed(&ix, &[event_authority.clone()], &[&[EVENT_AUTHORITY_SEED, &[bump]]])
        .map_err(anchor_lang::error::Error::from)
}

/// Seeds of the event authority PDA (Anchor's, fixed by `#[event_cpi]`).
pub const EVENT_AUTHORITY_SEED: &[u8] = b"__event_authority";

/// `emit_cpi!` for this program: `emit_event!(ctx, Event { .. })` (see [`emit_cpi_event`]);
/// returns from the handler with the error if the CPI fails.
#[macro_export]
macro_rules! emit_event {
    ($ctx:expr, $event:expr) => {{
        let event = $event;
        $crate::events::emit_cpi_event(&$ctx.accounts.event_authority, $ctx.bumps.event_authority, &event)?;
    }};
}

#[event]
pub struct ExchangeInitialized {
    pub exchange: Pubkey,
    pub admin: Pubkey,
    pub bridge_authority: Pubkey,
    pub resolver_authority: Pubkey,
    pub collateral_mint: Pubkey,
    pub treasury: Pubkey,
    pub custody: Pubkey,
    pub custody_collateral: Pubkey,
    pub fee_rate_bps: u16,
    pub force_close_slots: u64,
    pub dispute_window_secs: i64,
}

#[event]
pub struct SettingsUpdated {
    pub treasury: Pubkey,
    pub fee_rate_bps: u16,
    pub force_close_slots: u64,
    pub dispute_window_secs: i64,
}

#[event]
pub struct AuthoritiesProposed {
    pub admin: Pubkey,
    pub pending_admin: Pubkey,
    pub pending_bridge_authority: Pubkey,
    pub pending_resolver_authority: Pubkey,
}

#[event]
pub struct AuthoritiesAccepted {
    pub admin: Pubkey,
    pub bridge_authority: Pubkey,
    pub resolver_authority: Pubkey,
}

#[event]
pub struct PauseChanged {
    pub paused: bool,
    pub by: Pubkey,
}

#[event]
pub struct MarketCreated {
    pub market: Pubkey,
    pub ticker: String,
    pub close_time: i64,
    pub tick_size: u64,
    pub yes_mint: Pubkey,
    pub no_mint: Pubkey,
    pub vault: Pubkey,
    pub custody_yes: Pubkey,
    pub custody_no: Pubkey,
}

#[event]
pub struct MarketStatusChanged {
    pub market: Pubkey,
    pub from: MarketStatus,
    pub to: MarketStatus,
    pub by: Pubkey,
    pub unix_time: i64,
}

#[event]
pub struct MarketDetermined {
    pub market: Pubkey,
    pub yes_payout: u64,
    /// True when this corrects an earlier determination within the dispute window.
    pub correction: bool,
    pub determined_at: i64,
    /// Earliest unix time `finalize` is allowed.
    pub finalizable_at: i64,
}

#[event]
pub struct MarketFinalized {
    pub market: Pubkey,
    pub yes_payout: u64,
    pub sets_outstanding: u64,
    pub vault_balance: u64,
    pub finalized_at: i64,
}

/// `mint_set`: `amount` collateral from `collateral_source` into the vault, `amount` YES
/// to `yes_account` and NO to `no_account`.
#[event]
pub struct SetMinted {
    pub market: Pubkey,
    pub user: Pubkey,
    pub amount: u64,
    pub collateral_source: Pubkey,
    pub yes_account: Pubkey,
    pub no_account: Pubkey,
    pub sets_outstanding: u64,
}

/// `merge_set`: `amount` YES and NO burned from the two accounts, `amount` collateral
/// from the vault to `collateral_destination`.
#[event]
pub struct SetMerged {
    pub market: Pubkey,
    pub user: Pubkey,
    pub amount: u64,
    pub yes_account: Pubkey,
    pub no_account: Pubkey,
    pub collateral_destination: Pubkey,
    pub sets_outstanding: u64,
}

#[event]
pub struct Redeemed {
    pub market: Pubkey,
    pub user: Pubkey,
    pub yes_burned: u64,
    pub no_burned: u64,
    pub payout: u64,
    pub yes_account: Pubkey,
    pub no_account: Pubkey,
    pub collateral_destination: Pubkey,
    pub vault_balance: u64,
}

#[event]
pub struct CustodySetMinted {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub market: Pubkey,
    pub seq: u64,
    pub amount: u64,
    pub sets_outstanding: u64,
    pub custody_collateral_balance: u64,
}

#[event]
pub struct CustodySetMerged {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub market: Pubkey,
    pub seq: u64,
    pub amount: u64,
    pub sets_outstanding: u64,
    pub custody_collateral_balance: u64,
}

#[event]
pub struct CustodyRedeemed {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub market: Pubkey,
    pub seq: u64,
    pub yes_burned: u64,
    pub no_burned: u64,
    pub payout: u64,
    pub custody_collateral_balance: u64,
}

/// A custodial position moved out to a wallet's token account.
#[event]
pub struct CustodyWithdrawn {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub market: Pubkey,
    pub seq: u64,
    pub outcome: Outcome,
    pub amount: u64,
    pub destination: Pubkey,
    pub destination_owner: Pubkey,
}

#[event]
pub struct CustodyCollateralWithdrawn {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub seq: u64,
    pub amount: u64,
    pub destination: Pubkey,
    pub destination_owner: Pubkey,
    pub custody_collateral_balance: u64,
}

#[event]
pub struct CustodySwept {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub seq: u64,
    pub amount: u64,
    pub treasury: Pubkey,
    pub custody_collateral_balance: u64,
    /// Fees left to sweep after this one.
    pub fees_accrued: u64,
}

/// Operator cash moved into custody (`custody_fund`, exchange-wide stream) from `source`.
#[event]
pub struct CustodyFunded {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub seq: u64,
    pub amount: u64,
    pub source: Pubkey,
    pub custody_collateral_balance: u64,
}

/// A wallet deposit into custody; the ledger credits `account_ref` once it is final.
/// `market` and `outcome` are set for YES/NO deposits (`market` is the default key for collateral).
#[event]
pub struct Deposited {
    pub depositor: Pubkey,
    pub market: Pubkey,
    pub is_collateral: bool,
    pub outcome: Outcome,
    pub amount: u64,
    pub source: Pubkey,
    pub destination: Pubkey,
    pub account_ref: [u8; 16],
}

#[event]
pub struct OrderPlaced {
    pub order: Pubkey,
    /// The program-assigned identity of this order (per market, never reused); the order's
    /// address can come back after it closed, its id cannot.
    pub order_id: u64,
    pub market: Pubkey,
    pub owner: Pubkey,
    pub nonce: u64,
    pub side: OrderSide,
    pub limit_price: u64,
    pub size: u64,
    pub max_fee: u64,
    pub escrow: Pubkey,
    pub escrowed: u64,
    pub source: Pubkey,
    pub slot: u64,
    /// Slots after a cancel request before the owner may force-close (fixed for this order).
    pub force_close_slots: u64,
}

#[event]
pub struct CancelRequested {
    pub order: Pubkey,
    pub order_id: u64,
    pub market: Pubkey,
    pub owner: Pubkey,
    pub slot: u64,
    /// First slot at which the owner may `force_close`.
    pub force_close_slot: u64,
}

/// One fill between a wallet order and custody. For buys the escrow paid `cost + fee`
/// to custody's collateral account and custody's outcome account paid `size` to
/// `wallet_account`; for sells the escrow paid `size` outcome tokens to custody and
/// custody's collateral account paid `cost − fee` to `wallet_account`.
#[event]
pub struct FillSettled {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub market: Pubkey,
    pub seq: u64,
    pub order: Pubkey,
    pub order_id: u64,
    pub owner: Pubkey,
    pub side: OrderSide,
    pub size: u64,
    pub price: u64,
    pub cost: u64,
    pub fee: u64,
    pub wallet_account: Pubkey,
    pub filled: u64,
    pub escrowed: u64,
    pub fees_paid: u64,
    /// Custody's fees not yet swept, this fill's included.
    pub fees_accrued: u64,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, PartialEq, Eq, Debug)]
pub enum CloseReason {
    /// `close_order` by the bridge after the CLOB cancelled or completed the order.
    Bridge,
    /// `force_close` by the owner after the operator ignored the cancel request.
    Forced,
}

/// The order and its escrow are gone: `refunded` went back to `refund_account`.
#[event]
pub struct OrderClosed {
    /// Address of the account whose replay window sequenced this (the market, or Custody for the exchange stream).
    pub stream: Pubkey,
    pub market: Pubkey,
    pub order: Pubkey,
    pub order_id: u64,
    pub owner: Pubkey,
    pub reason: CloseReason,
    /// Bridge sequence number (0 for `force_close`).
    pub seq: u64,
    pub filled: u64,
    pub refunded: u64,
    pub refund_account: Pubkey,
}
