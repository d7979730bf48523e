//! The remaining named refusals: settings, authorities, lifecycle order, wrong mints and
//! escrows. Together with the other files every error in `src/error.rs` is exercised
//! except `EscrowInsufficient`, a defence in depth the escrow arithmetic makes unreachable.

use anchor_lang::prelude::Pubkey;
use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::OrderSide;
use outcome_market::{accounts as acc, instruction as ixd, SettingsArgs};
use solana_sdk::signature::{Keypair, Signer};

#[tokio::test]
async fn initialize_refuses_a_collateral_mint_without_six_decimals_and_default_authorities() {
    let mut env = Env::bare(program_test()).await;
    let admin = env.admin.insecure_clone();
    let nine = env.create_mint(&admin.pubkey(), 9).await;
    let mut ix_ = env.initialize_ix();
    ix_.accounts[4].pubkey = nine;
    expect_refused(env.send(&[ix_], &[&admin]).await, OutcomeError::InvalidCollateralDecimals);
    let mut bad = env.initialize_ix();
    // InitializeArgs starts right after the 8-byte discriminator: bridge_authority = default
    bad.data[8..40].copy_from_slice(&[0u8; 32]);
    expect_refused(env.send(&[bad], &[&admin]).await, OutcomeError::InvalidAuthority);
    env.send(&[env.initialize_ix()], &[&admin]).await.unwrap();
}

#[tokio::test]
async fn settings_and_authority_inputs_are_validated() {
    let mut env = Env::new().await;
    let admin = env.admin.insecure_clone();
    let settings = |env: &Env, fee_rate_bps, force_close_slots, dispute_window_secs| {
        ix(
            acc::UpdateSettings { admin: env.admin.pubkey(), exchange: exchange_pda(), treasury: env.treasury, event_authority: event_authority_pda(), program: outcome_market::ID },
            ixd::UpdateSettings { args: SettingsArgs { fee_rate_bps, force_close_slots, dispute_window_secs } },
        )
    };
    expect_refused(env.send(&[settings(&env, 10_001, 5, 0)], &[&admin]).await, OutcomeError::InvalidFeeRate);
    expect_refused(env.send(&[settings(&env, 700, 0, 0)], &[&admin]).await, OutcomeError::InvalidForceCloseSlots);
    expect_refused(env.send(&[settings(&env, 700, 5, -1)], &[&admin]).await, OutcomeError::InvalidDisputeWindow);
    let propose = ix(
        acc::AdminOnly { admin: admin.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID },
        ixd::SetAuthorities { new_admin: Pubkey::default(), new_bridge_authority: admin.pubkey(), new_resolver_authority: admin.pubkey() },
    );
    expect_refused(env.send(&[propose], &[&admin]).await, OutcomeError::InvalidAuthority);
    expect_refused(env.send(&[env.exchange_admin_ix("unpause")], &[&admin]).await, OutcomeError::ExchangeNotPaused);
    env.send(&[env.exchange_admin_ix("pause")], &[&admin]).await.unwrap();
    expect_refused(env.send(&[env.exchange_admin_ix("pause")], &[&admin]).await, OutcomeError::ExchangePaused);
    let ex = env.exchange().await;
    assert_eq!((ex.fee_rate_bps, ex.force_close_slots, ex.dispute_window_secs), (FEE_RATE_BPS, FORCE_CLOSE_SLOTS, DISPUTE_WINDOW_SECS));
}

#[tokio::test]
async fn lifecycle_steps_out_of_order_are_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXORDER").await;
    let (admin, resolver) = (env.admin.insecure_clone(), env.resolver.insecure_clone());
    expect_refused(env.send(&[env.admin_ix("resume", &mk)], &[&admin]).await, OutcomeError::MarketNotHalted);
    env.send(&[env.close_market_ix(&admin.pubkey(), &mk)], &[&admin]).await.unwrap();
    expect_refused(env.send(&[env.close_market_ix(&admin.pubkey(), &mk)], &[&admin]).await, OutcomeError::MarketNotClosable);
    expect_refused(env.send(&[env.admin_ix("halt", &mk)], &[&admin]).await, OutcomeError::MarketNotOpen);
    expect_refused(env.send(&[env.finalize_ix(&mk)], &[&resolver]).await, OutcomeError::MarketNotDetermined);
}

#[tokio::test]
async fn sweep_only_to_the_treasury() {
    let mut env = Env::new().await;
    let bridge = env.bridge.insecure_clone();
    let depositor = env.user(3 * C).await;
    env.send(&[env.deposit_collateral_ix(&depositor.pubkey(), 3 * C, [0; 16])], &[&depositor]).await.unwrap();
    let elsewhere = env.collateral_ata(&depositor.pubkey());
    let sweep_elsewhere = ix(env.collateral_out_accounts(&elsewhere), ixd::CustodySweep { seq: 1, amount: C });
    expect_refused(env.send(&[sweep_elsewhere], &[&bridge]).await, OutcomeError::NotTreasury);
    assert_eq!(env.balance(&custody_collateral_pda()).await, 3 * C);
}

#[tokio::test]
async fn wrong_mints_and_escrows_are_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXMINTS").await;
    env.stock_custody(&mk, 1, 5 * C).await;
    let bridge = env.bridge.insecure_clone();
    let w = env.user(10 * C).await;
    let wk = w.pubkey();
    env.mint_set(&w, &mk, 2 * C).await.unwrap();
    // a buy that would escrow YES tokens instead of collateral
    let mut ix_ = env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, C, 0);
    ix_.accounts[4].pubkey = mk.yes_mint;
    ix_.accounts[6].pubkey = ata_of(&wk, &mk.yes_mint);
    expect_refused(env.send(&[ix_], &[&w]).await, OutcomeError::WrongMint);

    let other = Keypair::new();
    env.airdrop(&other.pubkey(), 1_000_000_000).await;
    env.fund(&other.pubkey(), 5 * C).await;
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&other.pubkey(), &mk, 1, OrderSide::BuyYes, 500_000, C, 0)], &[&other]).await.unwrap();
    let order = order_pda(&mk.market, &wk, 1);
    let other_order = order_pda(&mk.market, &other.pubkey(), 1);
    // the fill paid out of another order's escrow
    let mut ix_ = env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0);
    ix_.accounts[5].pubkey = escrow_pda(&other_order);
    expect_refused(env.send(&[ix_], &[&bridge]).await, OutcomeError::WrongEscrow);
    // the buyer credited in NO instead of YES
    let mut ix_ = env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0);
    ix_.accounts[8].pubkey = ata_of(&wk, &mk.no_mint);
    expect_refused(env.send(&[ix_], &[&bridge]).await, OutcomeError::WrongMint);
    // custody paying out NO for a YES order
    let mut ix_ = env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0);
    ix_.accounts[7].pubkey = mk.custody_no;
    expect_refused(env.send(&[ix_], &[&bridge]).await, OutcomeError::WrongMarket);
    // another wallet's account as the receiver
    let mut ix_ = env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0);
    ix_.accounts[8].pubkey = env.ata(&other.pubkey(), &mk.yes_mint).await;
    expect_refused(env.send(&[ix_], &[&bridge]).await, OutcomeError::NotTokenOwner);
    assert_eq!(env.order(&order).await.unwrap().filled, 0);
}
