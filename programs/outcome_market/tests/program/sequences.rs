//! Bridge sequence numbers: each accepted exactly once per stream, several in flight at
//! once within the replay window, nothing consumed by a failed transaction.

use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::{OrderSide, REPLAY_WINDOW_BITS};

async fn funded(env: &mut Env, amount: u64) {
    let funder = env.user(amount).await;
    env.send(&[env.deposit_collateral_ix(&funder_pk(&funder), amount, [0; 16])], &[&funder]).await.unwrap();
}

fn funder_pk(k: &solana_sdk::signature::Keypair) -> anchor_lang::prelude::Pubkey {
    solana_sdk::signature::Signer::pubkey(k)
}

#[tokio::test]
async fn replay_of_an_applied_sequence_number_is_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXREPLAY").await;
    funded(&mut env, 10 * C).await;
    let bridge = env.bridge.insecure_clone();
    env.send(&[env.custody_mint_set_ix(&mk, 1, C)], &[&bridge]).await.unwrap();
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, 1, C)], &[&bridge]).await, OutcomeError::SequenceReplayed);
    // a different instruction cannot reuse the number either
    expect_refused(env.send(&[env.custody_merge_set_ix(&mk, 1, C)], &[&bridge]).await, OutcomeError::SequenceReplayed);
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, 0, C)], &[&bridge]).await, OutcomeError::SequenceZero);
    assert_eq!(env.market(&mk).await.sets_outstanding, C);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn out_of_window_sequence_number_is_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXWINDOW").await;
    funded(&mut env, 10 * C).await;
    let bridge = env.bridge.insecure_clone();
    let far = REPLAY_WINDOW_BITS + 100;
    // a number more than the window ahead is refused (issue 8: it bricked the stream), then
    // the stream climbs there a window at a time
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, far, C)], &[&bridge]).await, OutcomeError::SequenceTooFarAhead);
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, u64::MAX, C)], &[&bridge]).await, OutcomeError::SequenceTooFarAhead);
    env.send(&[env.custody_mint_set_ix(&mk, 100, C)], &[&bridge]).await.unwrap();
    env.send(&[env.custody_mint_set_ix(&mk, far, C)], &[&bridge]).await.unwrap();
    // the oldest number still inside the window is accepted, one older is refused
    env.send(&[env.custody_mint_set_ix(&mk, far - (REPLAY_WINDOW_BITS - 1), C)], &[&bridge]).await.unwrap();
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, far - REPLAY_WINDOW_BITS, C)], &[&bridge]).await, OutcomeError::SequenceTooOld);
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, 1, C)], &[&bridge]).await, OutcomeError::SequenceTooOld);
    let m = env.market(&mk).await;
    assert_eq!((m.window.highest, m.sets_outstanding), (far, 3 * C));
}

#[tokio::test]
async fn concurrent_in_window_numbers_land_in_any_order() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXCONC").await;
    funded(&mut env, 100 * C).await;
    let bridge = env.bridge.insecure_clone();
    // the bridge had 1..=8 in flight; they land shuffled, two of them in one transaction
    for seq in [5u64, 2, 8, 1] {
        env.send(&[env.custody_mint_set_ix(&mk, seq, C)], &[&bridge]).await.unwrap();
    }
    env.send(&[env.custody_mint_set_ix(&mk, 7, C), env.custody_merge_set_ix(&mk, 3, C)], &[&bridge]).await.unwrap();
    env.send(&[env.custody_mint_set_ix(&mk, 4, C)], &[&bridge]).await.unwrap();
    // 6 fails (more than custody holds): the failed transaction does not consume it
    expect_refused(env.send(&[env.custody_merge_set_ix(&mk, 6, 1_000 * C)], &[&bridge]).await, OutcomeError::InsufficientBalance);
    env.send(&[env.custody_merge_set_ix(&mk, 6, C)], &[&bridge]).await.unwrap();
    let m = env.market(&mk).await;
    for seq in 1..=8 {
        assert!(m.window.is_applied(seq), "seq {seq} applied");
    }
    assert!(!m.window.is_applied(9));
    assert_eq!(m.sets_outstanding, 4 * C);
    env.check_invariant_1(&mk).await;
    // a failed instruction inside a two-instruction transaction rolls both back
    let r = env.send(&[env.custody_mint_set_ix(&mk, 9, C), env.custody_mint_set_ix(&mk, 9, C)], &[&bridge]).await;
    expect_refused(r, OutcomeError::SequenceReplayed);
    assert!(!env.market(&mk).await.window.is_applied(9));
}

#[tokio::test]
async fn streams_are_independent_per_market_and_exchange_wide() {
    let mut env = Env::new().await;
    let a = env.create_market("KXSTREAMA").await;
    let b = env.create_market("KXSTREAMB").await;
    funded(&mut env, 10 * C).await;
    let bridge = env.bridge.insecure_clone();
    env.send(&[env.custody_mint_set_ix(&a, 1, C)], &[&bridge]).await.unwrap();
    env.send(&[env.custody_mint_set_ix(&b, 1, C)], &[&bridge]).await.unwrap();
    let bridge_key = funder_pk(&bridge);
    env.fund(&bridge_key, C).await;
    env.send(&[env.custody_fund_ix(1, C)], &[&bridge]).await.unwrap();
    expect_refused(env.send(&[env.custody_fund_ix(1, C)], &[&bridge]).await, OutcomeError::SequenceReplayed);
    let user = env.user(0).await;
    let dest = env.collateral_ata(&funder_pk(&user));
    expect_refused(env.send(&[env.custody_withdraw_collateral_ix(1, C, &dest)], &[&bridge]).await, OutcomeError::SequenceReplayed);
    env.send(&[env.custody_withdraw_collateral_ix(2, C, &dest)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&dest).await, C);
}

#[tokio::test]
async fn settle_fill_and_close_order_share_the_market_stream() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXSEQFILL").await;
    env.stock_custody(&mk, 1, 5 * C).await;
    let bridge = env.bridge.insecure_clone();
    let w = env.user(5 * C).await;
    let wk = funder_pk(&w);
    env.outcome_atas(&wk, &mk).await;
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0)], &[&bridge]).await.unwrap();
    // the same fill sent again (a retry after a lost confirmation) is refused, not applied twice
    expect_refused(
        env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, C, 500_000, 0)], &[&bridge]).await,
        OutcomeError::SequenceReplayed,
    );
    expect_refused(env.send(&[env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 1)], &[&bridge]).await, OutcomeError::SequenceReplayed);
    assert_eq!(env.order(&order).await.unwrap().filled, C);
    assert_eq!(env.balance(&ata_of(&wk, &mk.yes_mint)).await, C);
}
