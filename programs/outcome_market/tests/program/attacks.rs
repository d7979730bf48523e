//! One negative test per classic Solana attack. Each attack is built so that, were the
//! check missing, it would succeed (and move funds or state); each asserts the refusal.
#![allow(deprecated)]

use anchor_lang::error::ErrorCode as Anchor;
use anchor_lang::prelude::Pubkey;
use anchor_lang::AccountSerialize;
use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::{Exchange, OrderSide};
use outcome_market::instruction as ixd;
use outcome_market::LOT;
use solana_sdk::{
    account::Account,
    clock::Clock,
    instruction::AccountMeta,
    signature::{Keypair, Signer},
    system_instruction,
    sysvar,
};

#[tokio::test]
async fn missing_signer_bridge_key_not_signing() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXSIGN").await;
    let attacker = env.user(C).await;
    env.send(&[env.deposit_collateral_ix(&attacker.pubkey(), C, [0; 16])], &[&attacker]).await.unwrap();
    // the bridge's key is named but only the fee payer signs the transaction
    let mut ix = env.custody_mint_set_ix(&mk, 1, C);
    ix.accounts[0] = AccountMeta::new_readonly(env.bridge.pubkey(), false);
    expect_anchor(env.send(&[ix], &[]).await, Anchor::AccountNotSigner);
    assert_eq!(env.market(&mk).await.sets_outstanding, 0);
}

#[tokio::test]
async fn wrong_owner_fake_exchange_and_foreign_token_account() {
    // an Exchange look-alike naming the attacker as bridge, owned by another program
    let attacker = Keypair::new();
    let fake_exchange = Pubkey::new_unique();
    let mut pt = program_test();
    let fake = Exchange {
        admin: attacker.pubkey(),
        bridge_authority: attacker.pubkey(),
        resolver_authority: attacker.pubkey(),
        pending_admin: Pubkey::default(),
        pending_bridge_authority: Pubkey::default(),
        pending_resolver_authority: Pubkey::default(),
        collateral_mint: Pubkey::default(),
        treasury: Pubkey::default(),
        custody: custody_pda(),
        paused: false,
        fee_rate_bps: 0,
        force_close_slots: 1,
        dispute_window_secs: 0,
        market_count: 0,
        bump: 255,
    };
    let mut data = Vec::new();
    fake.try_serialize(&mut data).unwrap();
    let owner = Pubkey::new_unique();
    pt.add_account(fake_exchange, Account { lamports: 1_000_000_000, data, owner, executable: false, rent_epoch: 0 });
    let mut env = Env::with_program_test(pt).await;
    env.airdrop(&attacker.pubkey(), 1_000_000_000).await;
    let mk = env.create_market("KXOWNER").await;
    let victim = env.user(5 * C).await;
    env.send(&[env.deposit_collateral_ix(&victim.pubkey(), 5 * C, [0; 16])], &[&victim]).await.unwrap();
    let mut accounts = env.custody_sets_accounts(&mk);
    accounts.bridge_authority = attacker.pubkey();
    accounts.exchange = fake_exchange;
    let forged = ix(accounts, ixd::CustodyMintSet { seq: 1, amount: 5 * C });
    expect_anchor(env.send(&[forged], &[&attacker]).await, Anchor::AccountOwnedByWrongProgram);

    // mint_set paid from someone else's collateral account: the token account's owner is checked
    env.airdrop(&attacker.pubkey(), 0).await;
    env.outcome_atas(&attacker.pubkey(), &mk).await;
    env.fund(&attacker.pubkey(), 0).await;
    let victim2 = env.user(3 * C).await;
    let mut accounts = env.set_op_accounts(&attacker.pubkey(), &mk);
    accounts.user_collateral = env.collateral_ata(&victim2.pubkey());
    expect_anchor(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&attacker]).await, Anchor::ConstraintTokenOwner);
    assert_eq!(env.balance(&env.collateral_ata(&victim2.pubkey())).await, 3 * C);
}

#[tokio::test]
async fn account_substitution_another_markets_vault_mint_or_custody() {
    let mut env = Env::new().await;
    let a = env.create_market("KXSUBA").await;
    let b = env.create_market("KXSUBB").await;
    let bridge = env.bridge.insecure_clone();
    let user = env.user(10 * C).await;
    env.mint_set(&user, &b, 4 * C).await.unwrap();
    env.outcome_atas(&user.pubkey(), &a).await;

    // merge on A paying out of B's vault
    let mut accounts = env.set_op_accounts(&user.pubkey(), &a);
    accounts.vault = b.vault;
    expect_refused(env.send(&[ix(accounts, ixd::MergeSet { amount: C })], &[&user]).await, OutcomeError::WrongMarket);
    // mint on A into B's mint
    let mut accounts = env.set_op_accounts(&user.pubkey(), &a);
    accounts.yes_mint = b.yes_mint;
    accounts.user_yes = ata_of(&user.pubkey(), &b.yes_mint);
    expect_refused(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&user]).await, OutcomeError::WrongMarket);
    // custody withdraw on A out of B's custody account
    env.stock_custody(&b, 1, 2 * C).await;
    let dest = ata_of(&user.pubkey(), &b.yes_mint);
    let mut ix_ = env.custody_withdraw_ix(&a, 1, outcome_market::state::Outcome::Yes, C, &dest);
    ix_.accounts[4] = AccountMeta::new(b.custody_yes, false);
    expect_refused(env.send(&[ix_], &[&bridge]).await, OutcomeError::WrongMarket);
    assert_eq!(env.balance(&b.vault).await, 6 * C);
    assert_eq!(env.balance(&b.custody_yes).await, 2 * C);
    env.check_invariant_1(&a).await;
    env.check_invariant_1(&b).await;
}

#[tokio::test]
async fn type_cosplay_order_as_market_and_custody_as_exchange() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXCOSPLAY").await;
    let user = env.user(10 * C).await;
    let order = order_pda(&mk.market, &user.pubkey(), 1);
    env.send(&[env.place_order_ix(&user.pubkey(), &mk, 1, OrderSide::BuyYes, 500_000, C, 0)], &[&user]).await.unwrap();
    env.outcome_atas(&user.pubkey(), &mk).await;

    let mut accounts = env.set_op_accounts(&user.pubkey(), &mk);
    accounts.market = order;
    expect_anchor(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&user]).await, Anchor::AccountDiscriminatorMismatch);
    let mut accounts = env.set_op_accounts(&user.pubkey(), &mk);
    accounts.exchange = custody_pda();
    expect_anchor(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&user]).await, Anchor::AccountDiscriminatorMismatch);
}

#[tokio::test]
async fn reinitialization_of_exchange_and_market_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXREINIT").await;
    let attacker = env.user(0).await;
    // a second initialize, by an attacker who would become admin or by the upgrade authority
    // itself: the Exchange account exists (the system program's AccountAlreadyInUse, 0). Who may
    // initialize at all is issue8::only_the_upgrade_authority_initializes.
    let mut again = env.initialize_ix();
    again.accounts[0] = AccountMeta::new(attacker.pubkey(), true);
    assert_eq!(env.send(&[again], &[&attacker]).await, Err(Refusal::Custom(0)));
    let admin = env.admin.insecure_clone();
    assert_eq!(env.send(&[env.initialize_ix()], &[&admin]).await, Err(Refusal::Custom(0)));
    assert_eq!(env.exchange().await.admin, env.admin.pubkey());
    // re-creating a market (resetting its sets and replay window) is refused too
    let user = env.user(2 * C).await;
    env.mint_set(&user, &mk, 2 * C).await.unwrap();
    let close = env.now().await + 10_000;
    assert_eq!(env.send(&[env.create_market_ix(&mk, close, 10_000)], &[&admin]).await, Err(Refusal::Custom(0)));
    assert_eq!(env.market(&mk).await.sets_outstanding, 2 * C);
}

#[tokio::test]
async fn arbitrary_cpi_fake_token_program_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXCPI").await;
    let user = env.user(5 * C).await;
    env.outcome_atas(&user.pubkey(), &mk).await;
    for fake in [Pubkey::new_unique(), anchor_lang::system_program::ID] {
        let mut accounts = env.set_op_accounts(&user.pubkey(), &mk);
        accounts.token_program = fake;
        expect_anchor(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&user]).await, Anchor::InvalidProgramId);
    }
    assert_eq!(env.balance(&mk.vault).await, 0);
}

#[tokio::test]
async fn duplicate_mutable_accounts_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXDUP").await;
    env.stock_custody(&mk, 1, 3 * C).await;
    let bridge = env.bridge.insecure_clone();
    // custody "withdraws" to itself: the event would debit a user with nothing moving
    let ix_ = env.custody_withdraw_ix(&mk, 2, outcome_market::state::Outcome::Yes, C, &mk.custody_yes);
    expect_refused(env.send(&[ix_], &[&bridge]).await, OutcomeError::DuplicateAccount);
    let cc = custody_collateral_pda();
    expect_refused(env.send(&[env.custody_withdraw_collateral_ix(1, 1, &cc)], &[&bridge]).await, OutcomeError::DuplicateAccount);
    // the same token account as both YES and NO of a set
    let user = env.user(2 * C).await;
    env.outcome_atas(&user.pubkey(), &mk).await;
    let mut accounts = env.set_op_accounts(&user.pubkey(), &mk);
    accounts.user_no = accounts.user_yes;
    expect_anchor(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&user]).await, Anchor::ConstraintTokenMint);
    assert_eq!(env.market(&mk).await.window.highest, 1);
}

#[tokio::test]
async fn non_canonical_bump_refused() {
    let mut env = Env::new().await;
    let mk = MarketKeys::new("KXBUMP");
    let (_, canonical) = Pubkey::find_program_address(&[b"market", b"KXBUMP"], &outcome_market::ID);
    let other = (0..canonical)
        .rev()
        .find_map(|b| Pubkey::create_program_address(&[b"market", b"KXBUMP", &[b]], &outcome_market::ID).ok())
        .expect("a non-canonical bump exists");
    let mut shadow = mk.clone();
    shadow.market = other;
    let admin = env.admin.insecure_clone();
    let close = env.now().await + 10_000;
    expect_anchor(env.send(&[env.create_market_ix(&shadow, close, 10_000)], &[&admin]).await, Anchor::ConstraintSeeds);
    assert!(env.raw(&other).await.is_none());
}

#[tokio::test]
async fn pda_sharing_across_markets_redeem_from_another_vault() {
    let mut env = Env::new().await;
    let a = env.create_market("KXSHAREA").await;
    let b = env.create_market("KXSHAREB").await;
    let user = env.user(10 * C).await;
    env.mint_set(&user, &a, C).await.unwrap();
    env.mint_set(&user, &b, 5 * C).await.unwrap();
    env.resolve(&a, C).await;
    // market A is finalized; each market's PDA signs only for its own vault and mints
    let mut ix_ = env.redeem_ix(&user.pubkey(), &a, C, 0);
    ix_.accounts[3] = AccountMeta::new(b.vault, false);
    expect_refused(env.send(&[ix_], &[&user]).await, OutcomeError::WrongMarket);
    // and B's tokens cannot be redeemed through A
    let mut ix_ = env.redeem_ix(&user.pubkey(), &a, C, 0);
    ix_.accounts[4] = AccountMeta::new(b.yes_mint, false);
    ix_.accounts[6] = AccountMeta::new(ata_of(&user.pubkey(), &b.yes_mint), false);
    expect_refused(env.send(&[ix_], &[&user]).await, OutcomeError::WrongMarket);
    assert_eq!(env.balance(&b.vault).await, 5 * C);
    // custody YES/NO accounts are per-market PDAs too
    assert_ne!(a.custody_yes, b.custody_yes);
}

#[tokio::test]
async fn closing_and_reviving_an_order_in_one_transaction_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXREVIVE").await;
    env.stock_custody(&mk, 1, 5 * C).await;
    let bridge = env.bridge.insecure_clone();
    let w = env.user(5 * C).await;
    let wk = w.pubkey();
    env.outcome_atas(&wk, &mk).await;
    let order = order_pda(&mk.market, &wk, 3);
    env.send(&[env.place_order_ix(&wk, &mk, 3, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    // close (refund), send lamports back to the closed address, then try to fill it
    let payer = env.payer();
    let ixs = [
        env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 2),
        system_instruction::transfer(&payer.pubkey(), &order, 10_000_000),
        env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 3, C, 500_000, 0),
    ];
    // the closed order is a system account holding lamports, not an order, even within the transaction
    expect_anchor(env.send(&ixs, &[&bridge]).await, Anchor::AccountOwnedByWrongProgram);
    // the whole transaction rolled back: the order is intact and still holds its escrow
    assert_eq!(env.order(&order).await.unwrap().escrowed, C);
    // closed for real, it stays closed: a later fill finds no order, even with lamports sent
    // back to its address (Anchor's close leaves nothing a later instruction could revive)
    env.send(&[env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 2)], &[&bridge]).await.unwrap();
    env.send(&[system_instruction::transfer(&payer.pubkey(), &order, 10_000_000)], &[]).await.unwrap();
    let r = env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 3, C, 500_000, 0)], &[&bridge]).await;
    expect_anchor(r, Anchor::AccountOwnedByWrongProgram); // a system account holding lamports, not an order
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 5 * C);
}

#[tokio::test]
async fn sysvar_substitution_fake_clock_refused() {
    // a Clock look-alike with a slot far in the future, at an attacker's address
    let fake_clock = Pubkey::new_unique();
    let clock = Clock { slot: u64::MAX / 2, ..Clock::default() };
    let mut pt = program_test();
    pt.add_account(
        fake_clock,
        Account { lamports: 1_000_000_000, data: bincode_clock(&clock), owner: sysvar::ID, executable: false, rent_epoch: 0 },
    );
    let mut env = Env::with_program_test(pt).await;
    let mk = env.create_market("KXSYSVAR").await;
    let w = env.user(5 * C).await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    env.send(&[env.request_cancel_ix(&order, &wk)], &[&w]).await.unwrap();
    let mut ix_ = env.force_close_ix(&mk, &order, &wk, OrderSide::BuyYes);
    ix_.accounts[5] = AccountMeta::new_readonly(fake_clock, false);
    expect_anchor(env.send(&[ix_], &[&w]).await, Anchor::AccountSysvarMismatch);
    assert!(env.order(&order).await.is_some());
}

fn bincode_clock(clock: &Clock) -> Vec<u8> {
    // Clock is five little-endian 8-byte fields
    let mut v = Vec::with_capacity(40);
    v.extend_from_slice(&clock.slot.to_le_bytes());
    v.extend_from_slice(&clock.epoch_start_timestamp.to_le_bytes());
    v.extend_from_slice(&clock.epoch.to_le_bytes());
    v.extend_from_slice(&clock.leader_schedule_epoch.to_le_bytes());
    v.extend_from_slice(&clock.unix_timestamp.to_le_bytes());
    v
}

#[tokio::test]
async fn arithmetic_overflow_refused_with_a_named_error() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXOVERFLOW").await;
    let w = env.user(10 * C).await;
    let wk = w.pubkey();
    // escrow = size × limit + max_fee would wrap around to a small number without checks
    let ix_ = env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 990_000, 10 * C, u64::MAX - 1_000_000);
    expect_refused(env.send(&[ix_], &[&w]).await, OutcomeError::MathOverflow);
    // a fee that would wrap fees_paid
    env.stock_custody(&mk, 1, 5 * C).await;
    env.outcome_atas(&wk, &mk).await;
    let order = order_pda(&mk.market, &wk, 2);
    env.send(&[env.place_order_ix(&wk, &mk, 2, OrderSide::BuyYes, 500_000, C, 10_000)], &[&w]).await.unwrap();
    let bridge = env.bridge.insecure_clone();
    // a first fill pays a fee, so the next fee's add to fees_paid is what overflows
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, LOT, 500_000, 10_000)], &[&bridge]).await.unwrap();
    let r = env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 3, LOT, 500_000, u64::MAX)], &[&bridge]).await;
    expect_refused(r, OutcomeError::MathOverflow);
    // and the largest fee that does not overflow is above the cap
    let r = env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 3, LOT, 500_000, u64::MAX - 10_000)], &[&bridge]).await;
    expect_refused(r, OutcomeError::FeeAboveCap);
}
