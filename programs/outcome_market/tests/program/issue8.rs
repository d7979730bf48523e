//! The holes issue 8's review found, one test each: every test reproduces the exploit and
//! asserts the named refusal that now stops it (each failed before its fix).

use anchor_lang::error::ErrorCode as Anchor;
use anchor_lang::prelude::Pubkey;
use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::OrderSide;
use outcome_market::{accounts as acc, instruction as ixd, SettingsArgs, LOT, MAX_DISPUTE_WINDOW_SECS, MAX_FORCE_CLOSE_SLOTS};
use solana_sdk::signature::{Keypair, Signer};

fn settings_ix(env: &Env, force_close_slots: u64, dispute_window_secs: i64) -> solana_sdk::instruction::Instruction {
    ix(
        acc::UpdateSettings { admin: env.admin.pubkey(), exchange: exchange_pda(), treasury: env.treasury, event_authority: event_authority_pda(), program: outcome_market::ID },
        ixd::UpdateSettings { args: SettingsArgs { fee_rate_bps: FEE_RATE_BPS, force_close_slots, dispute_window_secs } },
    )
}

/// A market with 50 sets of custody stock and a wallet with 50 collateral and its YES/NO accounts.
async fn market_with_wallet(ticker: &str) -> (Env, MarketKeys, Keypair, Keypair) {
    let mut env = Env::new().await;
    let mk = env.create_market(ticker).await;
    env.stock_custody(&mk, 1, 50 * C).await;
    let w = env.user(50 * C).await;
    env.outcome_atas(&w.pubkey(), &mk).await;
    let bridge = env.bridge.insecure_clone();
    (env, mk, bridge, w)
}

// ---------------------------------------------------------------- settings under existing orders

#[tokio::test]
async fn raising_force_close_slots_does_not_lock_an_existing_order() {
    let (mut env, mk, _bridge, w) = market_with_wallet("KXI8FC").await;
    let (wk, admin) = (w.pubkey(), env.admin.insecure_clone());
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    assert_eq!(env.order(&order).await.unwrap().force_close_slots, FORCE_CLOSE_SLOTS);
    // the admin cannot set an unbounded delay at all, and the largest allowed one does not apply here
    expect_refused(env.send(&[settings_ix(&env, u64::MAX, 0)], &[&admin]).await, OutcomeError::InvalidForceCloseSlots);
    expect_refused(env.send(&[settings_ix(&env, MAX_FORCE_CLOSE_SLOTS + 1, 0)], &[&admin]).await, OutcomeError::InvalidForceCloseSlots);
    env.send(&[settings_ix(&env, MAX_FORCE_CLOSE_SLOTS, 0)], &[&admin]).await.unwrap();
    env.send(&[env.request_cancel_ix(&order, &wk)], &[&w]).await.unwrap();
    env.advance_slots(FORCE_CLOSE_SLOTS).await;
    env.send(&[env.force_close_ix(&mk, &order, &wk, OrderSide::BuyYes)], &[&w]).await.unwrap();
    assert!(env.order(&order).await.is_none());
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 50 * C);
    // an order placed now gets the new delay
    env.send(&[env.place_order_ix(&wk, &mk, 2, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await.unwrap();
    assert_eq!(env.order(&order_pda(&mk.market, &wk, 2)).await.unwrap().force_close_slots, MAX_FORCE_CLOSE_SLOTS);
}

#[tokio::test]
async fn changing_the_dispute_window_after_determine_does_not_move_finalization() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXI8DW").await;
    let (admin, resolver) = (env.admin.insecure_clone(), env.resolver.insecure_clone());
    env.send(&[env.close_market_ix(&admin.pubkey(), &mk)], &[&admin]).await.unwrap();
    env.send(&[env.determine_ix(&mk, 300_000)], &[&resolver]).await.unwrap();
    let m = env.market(&mk).await;
    assert_eq!(m.finalizable_at, m.determined_at + DISPUTE_WINDOW_SECS);
    // cut to 0: finalization still waits for the window in force at determine
    env.send(&[settings_ix(&env, FORCE_CLOSE_SLOTS, 0)], &[&admin]).await.unwrap();
    expect_refused(env.send(&[env.finalize_ix(&mk)], &[&resolver]).await, OutcomeError::DisputeWindowOpen);
    // raised to the maximum (and an overflowing one is refused): finalization is not delayed
    expect_refused(env.send(&[settings_ix(&env, FORCE_CLOSE_SLOTS, i64::MAX)], &[&admin]).await, OutcomeError::InvalidDisputeWindow);
    expect_refused(env.send(&[settings_ix(&env, FORCE_CLOSE_SLOTS, MAX_DISPUTE_WINDOW_SECS + 1)], &[&admin]).await, OutcomeError::InvalidDisputeWindow);
    env.send(&[settings_ix(&env, FORCE_CLOSE_SLOTS, MAX_DISPUTE_WINDOW_SECS)], &[&admin]).await.unwrap();
    env.advance_time(DISPUTE_WINDOW_SECS).await;
    env.send(&[env.finalize_ix(&mk)], &[&resolver]).await.unwrap();
    assert_eq!(env.market(&mk).await.finalizable_at, m.finalizable_at);
}

// ---------------------------------------------------------------- fills after close time

#[tokio::test]
async fn no_fill_and_no_custody_mint_after_close_time_even_before_close_market() {
    let (mut env, mk, bridge, w) = market_with_wallet("KXI8CT").await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    // the outcome is known at close time; nobody has called close_market yet
    let close_time = env.market(&mk).await.close_time;
    let now = env.now().await;
    env.advance_time(close_time - now).await;
    assert_eq!(env.market(&mk).await.status, outcome_market::state::MarketStatus::Open);
    expect_refused(
        env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0)], &[&bridge]).await,
        OutcomeError::MarketPastCloseTime,
    );
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, 2, C)], &[&bridge]).await, OutcomeError::MarketPastCloseTime);
    // refunds and merges still run
    env.send(&[env.custody_merge_set_ix(&mk, 2, C)], &[&bridge]).await.unwrap();
    env.send(&[env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 3)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 50 * C);
}

// ---------------------------------------------------------------- a closed order's address reused

#[tokio::test]
async fn a_fill_or_close_for_a_closed_order_never_lands_on_its_successor() {
    let (mut env, mk, bridge, w) = market_with_wallet("KXI8ID").await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 7);
    env.send(&[env.place_order_ix(&wk, &mk, 7, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    let first = env.order(&order).await.unwrap().order_id;
    // the bridge matched a fill of it; before that lands, the owner force-closes it...
    env.send(&[env.request_cancel_ix(&order, &wk)], &[&w]).await.unwrap();
    env.advance_slots(FORCE_CLOSE_SLOTS).await;
    env.send(&[env.force_close_ix(&mk, &order, &wk, OrderSide::BuyYes)], &[&w]).await.unwrap();
    // ...and places a new one with the same nonce: the same address, a new order (worse limit)
    env.send(&[env.place_order_ix(&wk, &mk, 7, OrderSide::BuyYes, 900_000, 2 * C, 0)], &[&w]).await.unwrap();
    let second = env.order(&order).await.unwrap();
    assert_eq!((first, second.order_id), (1, 2));
    let stale_fill = env.settle_fill_id_ix(&mk, &order, first, &wk, OrderSide::BuyYes, 2, C, 800_000, 0);
    expect_refused(env.send(&[stale_fill], &[&bridge]).await, OutcomeError::OrderIdMismatch);
    let stale_close = env.close_order_id_ix(&mk, &order, first, &wk, OrderSide::BuyYes, 2);
    expect_refused(env.send(&[stale_close], &[&bridge]).await, OutcomeError::OrderIdMismatch);
    assert_eq!(env.order(&order).await.unwrap().filled, 0);
    // the new order itself fills and closes under its own id
    env.send(&[env.settle_fill_id_ix(&mk, &order, 2, &wk, OrderSide::BuyYes, 2, C, 800_000, 0)], &[&bridge]).await.unwrap();
    env.send(&[env.close_order_id_ix(&mk, &order, 2, &wk, OrderSide::BuyYes, 3)], &[&bridge]).await.unwrap();
    // ids are per market and never reused: the next order here is 3
    env.send(&[env.place_order_ix(&wk, &mk, 7, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await.unwrap();
    assert_eq!(env.order(&order).await.unwrap().order_id, 3);
    assert_eq!(env.market(&mk).await.orders_placed, 3);
}

// ---------------------------------------------------------------- sweeps and fees

#[tokio::test]
async fn custody_sweep_takes_accrued_fees_only() {
    let (mut env, mk, bridge, w) = market_with_wallet("KXI8SW").await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 1);
    // custody holds 50 (stock) + custodial cash; none of it may be swept before a fee is earned
    expect_refused(env.send(&[env.custody_sweep_ix(1, 1)], &[&bridge]).await, OutcomeError::SweepExceedsFees);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 10 * C, 200_000)], &[&w]).await.unwrap();
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, 10 * C, 500_000, 180_000)], &[&bridge]).await.unwrap();
    assert_eq!(env.custody().await.fees_accrued, 180_000);
    expect_refused(env.send(&[env.custody_sweep_ix(1, 180_001)], &[&bridge]).await, OutcomeError::SweepExceedsFees);
    env.send(&[env.custody_sweep_ix(1, 100_000)], &[&bridge]).await.unwrap();
    env.send(&[env.custody_sweep_ix(2, 80_000)], &[&bridge]).await.unwrap();
    expect_refused(env.send(&[env.custody_sweep_ix(3, 1)], &[&bridge]).await, OutcomeError::SweepExceedsFees);
    assert_eq!(env.balance(&env.treasury.clone()).await, 180_000);
    assert_eq!(env.custody().await.fees_accrued, 0);
}

#[tokio::test]
async fn splitting_a_fill_does_not_multiply_the_fee_cap() {
    let (mut env, mk, bridge, w) = market_with_wallet("KXI8FEE").await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 1);
    // one contract at 50c: one fill may charge ceil(0.07 × 0.25) = 2 cents
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, C, 10 * C / 10)], &[&w]).await.unwrap();
    // before: 100 fills of 0.01 could each charge a rounded-up cent (1.00 in all, 50×)
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, LOT, 500_000, 10_000)], &[&bridge]).await.unwrap();
    expect_refused(
        env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 3, LOT, 500_000, 10_000)], &[&bridge]).await,
        OutcomeError::FeeAboveCap,
    );
    let mut seq = 3;
    for _ in 0..98 {
        env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, seq, LOT, 500_000, 0)], &[&bridge]).await.unwrap();
        seq += 1;
    }
    // 99 lots filled: the cap of the total is now 2 cents, so one more cent fits, and no more
    expect_refused(
        env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, seq, LOT, 500_000, 10_001)], &[&bridge]).await,
        OutcomeError::FeeAboveCap,
    );
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, seq, LOT, 500_000, 10_000)], &[&bridge]).await.unwrap();
    let o = env.order(&order).await.unwrap();
    assert_eq!((o.filled, o.fees_paid), (C, outcome_market::math::fee_cap(C, 500_000, FEE_RATE_BPS).unwrap()));
}

// ---------------------------------------------------------------- initialize

#[tokio::test]
async fn only_the_upgrade_authority_initializes() {
    // the deployer (upgrade authority) is someone else: the would-be admin is refused
    let deployer = Keypair::new();
    let mut env = Env::bare_with(program_test(), Keypair::new(), Some(deployer.pubkey())).await;
    let admin = env.admin.insecure_clone();
    env.airdrop(&admin.pubkey(), 1_000_000_000).await;
    expect_refused(env.send(&[env.initialize_ix()], &[&admin]).await, OutcomeError::NotUpgradeAuthority);
    // an immutable deployment (no upgrade authority) cannot be initialized by anyone
    let mut env = Env::bare_with(program_test(), Keypair::new(), None).await;
    let admin = env.admin.insecure_clone();
    expect_refused(env.send(&[env.initialize_ix()], &[&admin]).await, OutcomeError::NotUpgradeAuthority);
    // a look-alike ProgramData elsewhere (the attacker's own, naming the attacker) is not the program's
    let mut pt = program_test();
    let fake = Pubkey::new_unique();
    let attacker = Keypair::new();
    pt.add_account(fake, program_data_account(Some(attacker.pubkey())));
    let mut env = Env::bare_with(pt, attacker.insecure_clone(), Some(deployer.pubkey())).await;
    env.airdrop(&attacker.pubkey(), 1_000_000_000).await;
    let mut forged = env.initialize_ix();
    forged.accounts[1].pubkey = fake;
    expect_anchor(env.send(&[forged], &[&attacker]).await, Anchor::ConstraintSeeds);
    assert!(env.raw(&exchange_pda()).await.is_none());
}

#[tokio::test]
async fn program_data_owned_by_another_program_is_refused() {
    // the right address holding data no loader wrote (only possible in a test genesis)
    let mut pt = program_test();
    let attacker = Keypair::new();
    let mut account = program_data_account(Some(attacker.pubkey()));
    account.owner = Pubkey::new_unique();
    pt.add_account(program_data_pda(), account);
    let mut env = Env::bare_with_program_data(pt, attacker.insecure_clone()).await;
    env.airdrop(&attacker.pubkey(), 1_000_000_000).await;
    expect_anchor(env.send(&[env.initialize_ix()], &[&attacker]).await, Anchor::AccountOwnedByWrongProgram);
}

// ---------------------------------------------------------------- checks no test caught before

#[tokio::test]
async fn a_stranger_cannot_force_close_a_victims_order() {
    let (mut env, mk, _bridge, victim) = market_with_wallet("KXI8FCO").await;
    let vk = victim.pubkey();
    let order = order_pda(&mk.market, &vk, 1);
    env.send(&[env.place_order_ix(&vk, &mk, 1, OrderSide::BuyYes, 500_000, 4 * C, 0)], &[&victim]).await.unwrap();
    env.send(&[env.request_cancel_ix(&order, &vk)], &[&victim]).await.unwrap();
    env.advance_slots(FORCE_CLOSE_SLOTS).await;
    // the stranger signs as "owner" and names its own collateral account for the refund
    let stranger = env.user(0).await;
    let mut steal = env.force_close_ix(&mk, &order, &vk, OrderSide::BuyYes);
    steal.accounts[0].pubkey = stranger.pubkey();
    steal.accounts[4].pubkey = env.collateral_ata(&stranger.pubkey());
    expect_refused(env.send(&[steal], &[&stranger]).await, OutcomeError::NotTokenOwner);
    assert_eq!(env.balance(&escrow_pda(&order)).await, 2 * C);
}

#[tokio::test]
async fn an_order_of_one_market_cannot_be_filled_or_closed_through_another() {
    let (mut env, a, bridge, w) = market_with_wallet("KXI8MA").await;
    let b = env.create_market("KXI8MB").await;
    env.stock_custody(&b, 1, 10 * C).await;
    let wk = w.pubkey();
    env.outcome_atas(&wk, &b).await;
    let order_b = order_pda(&b.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &b, 1, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    // B's order, with A's market, custody YES and stream: the wallet would get A's tokens
    let mut fill = env.settle_fill_ix(&a, &order_b, &wk, OrderSide::BuyYes, 2, C, 500_000, 0);
    fill.accounts[4].pubkey = order_b;
    fill.accounts[5].pubkey = escrow_pda(&order_b);
    expect_refused(env.send(&[fill], &[&bridge]).await, OutcomeError::WrongMarket);
    // closing B's order on A's stream
    let close = env.close_order_ix(&a, &order_b, &wk, OrderSide::BuyYes, 2);
    expect_refused(env.send(&[close], &[&bridge]).await, OutcomeError::WrongMarket);
    assert!(!env.market(&a).await.window.is_applied(2));
    assert_eq!(env.order(&order_b).await.unwrap().escrowed, C);
}

#[tokio::test]
async fn close_order_refunds_only_the_owner() {
    let (mut env, mk, bridge, w) = market_with_wallet("KXI8CO").await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    let stranger = env.user(0).await;
    // the refund to a stranger's collateral account
    let mut close = env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 2);
    close.accounts[6].pubkey = env.collateral_ata(&stranger.pubkey());
    expect_refused(env.send(&[close], &[&bridge]).await, OutcomeError::NotTokenOwner);
    // the rent of the order and escrow to a stranger
    let mut close = env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 2);
    close.accounts[4].pubkey = stranger.pubkey();
    expect_refused(env.send(&[close], &[&bridge]).await, OutcomeError::NotTokenOwner);
    env.send(&[env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 2)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 50 * C);
}

#[tokio::test]
async fn a_market_cannot_be_created_on_another_collateral() {
    let mut env = Env::new().await;
    let admin = env.admin.insecure_clone();
    let other = env.create_mint(&admin.pubkey(), 6).await;
    let mk = MarketKeys::new("KXI8COL");
    let close = env.now().await + 86_400;
    let mut create = env.create_market_ix(&mk, close, 10_000);
    create.accounts[3].pubkey = other; // collateral_mint
    expect_refused(env.send(&[create], &[&admin]).await, OutcomeError::WrongMint);
    assert!(env.raw(&mk.market).await.is_none());
}

#[tokio::test]
async fn custody_redeems_only_after_finalization() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXI8CR").await;
    env.stock_custody(&mk, 1, 4 * C).await;
    let (admin, resolver, bridge) = (env.admin.insecure_clone(), env.resolver.insecure_clone(), env.bridge.insecure_clone());
    env.send(&[env.close_market_ix(&admin.pubkey(), &mk)], &[&admin]).await.unwrap();
    env.send(&[env.determine_ix(&mk, C)], &[&resolver]).await.unwrap();
    // determined but still correctable: redeeming now at 1.00 per YES could pay out a wrong result
    expect_refused(env.send(&[env.custody_redeem_ix(&mk, 2, 4 * C, 0)], &[&bridge]).await, OutcomeError::MarketNotFinalized);
    env.advance_time(DISPUTE_WINDOW_SECS).await;
    env.send(&[env.finalize_ix(&mk)], &[&resolver]).await.unwrap();
    env.send(&[env.custody_redeem_ix(&mk, 2, 4 * C, 0)], &[&bridge]).await.unwrap();
    env.check_invariant_1(&mk).await;
}

/// Every authority check, one refusal each: the bridge's nine instructions signed by another
/// key, the admin's and the resolver's by a stranger.
#[tokio::test]
async fn every_instruction_refuses_the_wrong_authority() {
    let (mut env, mk, _bridge, w) = market_with_wallet("KXI8AUTH").await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, C, 20_000)], &[&w]).await.unwrap();
    let stranger = env.user(5 * C).await;
    let sk = stranger.pubkey();
    let as_stranger = |mut i: solana_sdk::instruction::Instruction| {
        i.accounts[0].pubkey = sk; // the authority is every one of these instructions' first account
        i
    };
    let w_yes = ata_of(&wk, &mk.yes_mint);
    let w_col = env.collateral_ata(&wk);
    let mut fund = env.custody_fund_ix(1, C);
    fund.accounts[3].pubkey = env.collateral_ata(&sk); // the stranger's own collateral
    let bridge_calls = vec![
        env.custody_mint_set_ix(&mk, 2, C),
        env.custody_merge_set_ix(&mk, 2, C),
        env.custody_redeem_ix(&mk, 2, C, 0),
        env.custody_withdraw_ix(&mk, 2, outcome_market::state::Outcome::Yes, C, &w_yes),
        env.custody_withdraw_collateral_ix(1, C, &w_col),
        env.custody_sweep_ix(1, 0),
        fund,
        env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0),
        env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 2),
    ];
    for call in bridge_calls {
        expect_refused(env.send(&[as_stranger(call)], &[&stranger]).await, OutcomeError::NotBridgeAuthority);
    }
    let close = env.now().await + 86_400;
    let admin_calls = vec![
        settings_ix(&env, FORCE_CLOSE_SLOTS, DISPUTE_WINDOW_SECS),
        env.exchange_admin_ix("pause"),
        env.create_market_ix(&MarketKeys::new("KXI8AUTH2"), close, 10_000),
        env.admin_ix("halt", &mk),
    ];
    for call in admin_calls {
        expect_refused(env.send(&[as_stranger(call)], &[&stranger]).await, OutcomeError::NotAdmin);
    }
    let admin = env.admin.insecure_clone();
    env.send(&[env.admin_ix("halt", &mk)], &[&admin]).await.unwrap();
    expect_refused(env.send(&[as_stranger(env.admin_ix("resume", &mk))], &[&stranger]).await, OutcomeError::NotAdmin);
    env.send(&[env.exchange_admin_ix("pause")], &[&admin]).await.unwrap();
    expect_refused(env.send(&[as_stranger(env.exchange_admin_ix("unpause"))], &[&stranger]).await, OutcomeError::NotAdmin);
    env.send(&[env.exchange_admin_ix("unpause")], &[&admin]).await.unwrap();
    env.send(&[env.admin_ix("resume", &mk)], &[&admin]).await.unwrap();
    env.send(&[env.close_market_ix(&admin.pubkey(), &mk)], &[&admin]).await.unwrap();
    expect_refused(env.send(&[as_stranger(env.determine_ix(&mk, C))], &[&stranger]).await, OutcomeError::NotResolver);
    let resolver = env.resolver.insecure_clone();
    env.send(&[env.determine_ix(&mk, C)], &[&resolver]).await.unwrap();
    env.advance_time(DISPUTE_WINDOW_SECS).await;
    expect_refused(env.send(&[as_stranger(env.finalize_ix(&mk))], &[&stranger]).await, OutcomeError::NotResolver);
}
