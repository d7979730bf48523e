//! Units and limits shared by the program and its clients (see DESIGN.md, "Units").
//! The numeric ones are exported in the IDL (`#[constant]`).
use anchor_lang::prelude::*;

/// Base units in one contract; also the most collateral one contract can pay out.
#[constant]
pub const ONE_CONTRACT: u64 = 1_000_000;
/// Smallest order size step: 0.01 contract (Kalshi's `*_fp` counts).
#[constant]
pub const LOT: u64 = 10_000;
/// Finest price tick: $0.0001 per contract. Every market tick is a multiple of it.
#[constant]
pub const MIN_TICK: u64 = 100;
/// Default market tick: one cent per contract.
#[constant]
pub const DEFAULT_TICK: u64 = 10_000;
/// Decimals of the collateral and of both outcome mints.
#[constant]
pub const DECIMALS: u8 = 6;
/// Longest ticker: a PDA seed is at most 32 bytes.
pub const MAX_TICKER_LEN: usize = 32;
/// Largest fee rate, in basis points of C × P × (1 − P).
#[constant]
pub const MAX_FEE_RATE_BPS: u16 = 10_000;
/// Longest force-close delay the admin may set: about a day of 400 ms slots. Each order
/// keeps the delay in force when it was placed, so no later setting can lock its escrow.
#[constant]
pub const MAX_FORCE_CLOSE_SLOTS: u64 = 216_000;
/// Longest dispute window the admin may set (7 days). `determine` fixes the market's
/// finalizable time with the window in force then.
#[constant]
pub const MAX_DISPUTE_WINDOW_SECS: i64 = 604_800;
pub const EXCHANGE_SEED: &[u8] = b"exchange";
pub const CUSTODY_SEED: &[u8] = b"custody";
pub const CUSTODY_COLLATERAL_SEED: &[u8] = b"custody_collateral";
pub const MARKET_SEED: &[u8] = b"market";
pub const YES_MINT_SEED: &[u8] = b"yes_mint";
pub const NO_MINT_SEED: &[u8] = b"no_mint";
pub const VAULT_SEED: &[u8] = b"vault";
pub const CUSTODY_YES_SEED: &[u8] = b"custody_yes";
pub const CUSTODY_NO_SEED: &[u8] = b"custody_no";
pub const ORDER_SEED: &[u8] = b"order";
pub const ESCROW_SEED: &[u8] = b"escrow";
