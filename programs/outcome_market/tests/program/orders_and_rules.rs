//! settle_fill limits, redeem rules, and what a paused exchange or a halted market refuses
//! and still allows.

use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::{OrderSide, Outcome};
use solana_sdk::signature::{Keypair, Signer};

struct Fixture {
    env: Env,
    mk: MarketKeys,
    bridge: Keypair,
    w: Keypair,
}

/// A market with custody stock and a wallet holding 20 collateral and 5 sets.
async fn fixture(ticker: &str) -> Fixture {
    let mut env = Env::new().await;
    let mk = env.create_market(ticker).await;
    env.stock_custody(&mk, 1, 20 * C).await;
    let cash = env.user(20 * C).await;
    env.send(&[env.deposit_collateral_ix(&cash.pubkey(), 20 * C, [3; 16])], &[&cash]).await.unwrap();
    let w = env.user(25 * C).await;
    env.mint_set(&w, &mk, 5 * C).await.unwrap();
    let bridge = env.bridge.insecure_clone();
    Fixture { env, mk, bridge, w }
}

#[tokio::test]
async fn settle_fill_above_limit_or_beyond_size_is_refused() {
    let Fixture { mut env, mk, bridge, w } = fixture("KXLIMIT").await;
    let wk = w.pubkey();
    let buy = order_pda(&mk.market, &wk, 1);
    let sell = order_pda(&mk.market, &wk, 2);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 400_000, 3 * C, 30_000)], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&wk, &mk, 2, OrderSide::SellNo, 300_000, 2 * C, 30_000)], &[&w]).await.unwrap();
    let fill = |env: &Env, order, side, seq, size, price, fee| env.settle_fill_ix(&mk, order, &wk, side, seq, size, price, fee);

    let cases = [
        (fill(&env, &buy, OrderSide::BuyYes, 2, C, 410_000, 0), OutcomeError::PriceWorseThanLimit),
        (fill(&env, &sell, OrderSide::SellNo, 2, C, 290_000, 0), OutcomeError::PriceWorseThanLimit),
        (fill(&env, &buy, OrderSide::BuyYes, 2, 3 * C + 10_000, 400_000, 0), OutcomeError::FillExceedsSize),
        (fill(&env, &sell, OrderSide::SellNo, 2, 3 * C, 300_000, 0), OutcomeError::FillExceedsSize),
        (fill(&env, &buy, OrderSide::BuyYes, 2, C, 405_000, 0), OutcomeError::InvalidPrice),
        (fill(&env, &buy, OrderSide::BuyYes, 2, C + 1, 400_000, 0), OutcomeError::InvalidSize),
        (fill(&env, &buy, OrderSide::BuyYes, 2, 0, 400_000, 0), OutcomeError::InvalidSize),
        // cap for 1 @ 40c: 0.07·.4·.6 = 1.68c → 2c
        (fill(&env, &buy, OrderSide::BuyYes, 2, C, 400_000, 20_001), OutcomeError::FeeAboveCap),
    ];
    for (ix, err) in cases {
        expect_refused(env.send(&[ix], &[&bridge]).await, err);
    }
    // within limits it settles; then the remaining size and fee budget bind
    env.send(&[fill(&env, &buy, OrderSide::BuyYes, 2, 2 * C, 400_000, 30_000)], &[&bridge]).await.unwrap();
    expect_refused(env.send(&[fill(&env, &buy, OrderSide::BuyYes, 3, C, 400_000, 10_000)], &[&bridge]).await, OutcomeError::FeeAboveBudget);
    expect_refused(env.send(&[fill(&env, &buy, OrderSide::BuyYes, 3, 2 * C, 400_000, 0)], &[&bridge]).await, OutcomeError::FillExceedsSize);
    env.send(&[fill(&env, &buy, OrderSide::BuyYes, 3, C, 400_000, 0)], &[&bridge]).await.unwrap();
    expect_refused(env.send(&[fill(&env, &buy, OrderSide::BuyYes, 4, 10_000, 400_000, 0)], &[&bridge]).await, OutcomeError::FillExceedsSize);
    // a sale whose fee exceeds its proceeds: 0.01 NO at 30c is 0.3c, the cap allows 1c
    expect_refused(env.send(&[fill(&env, &sell, OrderSide::SellNo, 4, 10_000, 300_000, 10_000)], &[&bridge]).await, OutcomeError::FeeExceedsProceeds);
    // invariant 5: the buyer paid exactly 3 × 40c + 3c fees out of a 1.23 escrow
    let o = env.order(&buy).await.unwrap();
    assert_eq!((o.filled, o.fees_paid, o.escrowed), (3 * C, 30_000, 0));
    assert_eq!(env.balance(&ata_of(&wk, &mk.yes_mint)).await, 8 * C);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn redeem_before_finalization_and_double_redeem_are_refused() {
    let Fixture { mut env, mk, w, .. } = fixture("KXREDEEM").await;
    let wk = w.pubkey();
    let resolver = env.resolver.insecure_clone();
    let admin = env.admin.insecure_clone();
    let redeem = |env: &Env| env.redeem_ix(&wk, &mk, 5 * C, 5 * C);
    expect_refused(env.send(&[redeem(&env)], &[&w]).await, OutcomeError::MarketNotFinalized);
    env.send(&[env.close_market_ix(&admin.pubkey(), &mk)], &[&admin]).await.unwrap();
    expect_refused(env.send(&[redeem(&env)], &[&w]).await, OutcomeError::MarketNotFinalized);
    env.send(&[env.determine_ix(&mk, 700_000)], &[&resolver]).await.unwrap();
    expect_refused(env.send(&[redeem(&env)], &[&w]).await, OutcomeError::MarketNotFinalized);
    // finalize right away is refused too (dispute window)
    expect_refused(env.send(&[env.finalize_ix(&mk)], &[&resolver]).await, OutcomeError::DisputeWindowOpen);
    env.advance_time(DISPUTE_WINDOW_SECS).await;
    env.send(&[env.finalize_ix(&mk)], &[&resolver]).await.unwrap();
    expect_refused(env.send(&[env.determine_ix(&mk, 0)], &[&resolver]).await, OutcomeError::MarketNotDeterminable);

    let before = env.balance(&env.collateral_ata(&wk)).await;
    env.send(&[redeem(&env)], &[&w]).await.unwrap();
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, before + 5 * C);
    expect_refused(env.send(&[redeem(&env)], &[&w]).await, OutcomeError::InsufficientBalance);
    expect_refused(env.send(&[env.redeem_ix(&wk, &mk, 0, 0)], &[&w]).await, OutcomeError::ZeroAmount);
    expect_refused(env.send(&[env.merge_set_ix(&wk, &mk, C)], &[&w]).await, OutcomeError::MarketFinalized);
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, before + 5 * C);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn paused_exchange_refuses_trading_and_allows_exits() {
    let Fixture { mut env, mk, bridge, w } = fixture("KXPAUSE").await;
    let wk = w.pubkey();
    let admin = env.admin.insecure_clone();
    let o1 = order_pda(&mk.market, &wk, 1);
    let o2 = order_pda(&mk.market, &wk, 2);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&wk, &mk, 2, OrderSide::BuyNo, 500_000, C, 0)], &[&w]).await.unwrap();
    env.send(&[env.exchange_admin_ix("pause")], &[&admin]).await.unwrap();

    let p = OutcomeError::ExchangePaused;
    expect_refused(env.send(&[env.mint_set_ix(&wk, &mk, C)], &[&w]).await, p);
    expect_refused(env.send(&[env.place_order_ix(&wk, &mk, 3, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await, p);
    expect_refused(env.send(&[env.deposit_collateral_ix(&wk, C, [0; 16])], &[&w]).await, p);
    expect_refused(env.send(&[env.settle_fill_ix(&mk, &o1, &wk, OrderSide::BuyYes, 2, C, 500_000, 0)], &[&bridge]).await, p);
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, 2, C)], &[&bridge]).await, p);
    expect_refused(env.send(&[env.custody_sweep_ix(1, 1)], &[&bridge]).await, p);
    let close = env.now().await + 100;
    let admin_create = env.create_market_ix(&MarketKeys::new("KXNEW"), close, 10_000);
    expect_refused(env.send(&[admin_create], &[&admin]).await, p);

    // exits still work: a 1:1 merge, the bridge's refund, the owner's cancel and force-close
    env.send(&[env.merge_set_ix(&wk, &mk, C)], &[&w]).await.unwrap();
    env.send(&[env.close_order_ix(&mk, &o1, &wk, OrderSide::BuyYes, 2)], &[&bridge]).await.unwrap();
    env.send(&[env.request_cancel_ix(&o2, &wk)], &[&w]).await.unwrap();
    env.advance_slots(FORCE_CLOSE_SLOTS).await;
    env.send(&[env.force_close_ix(&mk, &o2, &wk, OrderSide::BuyNo)], &[&w]).await.unwrap();
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 21 * C);
    // and redemption after finalization runs while paused
    env.resolve(&mk, 0).await;
    env.send(&[env.redeem_ix(&wk, &mk, 4 * C, 4 * C)], &[&w]).await.unwrap();
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 25 * C);
    env.send(&[env.custody_redeem_ix(&mk, 3, 20 * C, 20 * C)], &[&bridge]).await.unwrap();
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn halted_market_refuses_new_exposure_and_allows_exits() {
    let Fixture { mut env, mk, bridge, w } = fixture("KXHALT").await;
    let wk = w.pubkey();
    let admin = env.admin.insecure_clone();
    let o1 = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::SellYes, 500_000, C, 0)], &[&w]).await.unwrap();
    env.send(&[env.admin_ix("halt", &mk)], &[&admin]).await.unwrap();

    let h = OutcomeError::MarketNotOpen;
    expect_refused(env.send(&[env.mint_set_ix(&wk, &mk, C)], &[&w]).await, h);
    expect_refused(env.send(&[env.place_order_ix(&wk, &mk, 2, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await, h);
    expect_refused(env.send(&[env.settle_fill_ix(&mk, &o1, &wk, OrderSide::SellYes, 2, C, 500_000, 0)], &[&bridge]).await, h);
    expect_refused(env.send(&[env.custody_mint_set_ix(&mk, 2, C)], &[&bridge]).await, h);
    expect_refused(env.send(&[env.admin_ix("halt", &mk)], &[&admin]).await, h);

    // merging, custody merges and withdrawals, deposits and cancels still run
    env.send(&[env.merge_set_ix(&wk, &mk, C)], &[&w]).await.unwrap();
    env.send(&[env.custody_merge_set_ix(&mk, 2, C)], &[&bridge]).await.unwrap();
    let dest = ata_of(&wk, &mk.no_mint);
    env.send(&[env.custody_withdraw_ix(&mk, 3, Outcome::No, C, &dest)], &[&bridge]).await.unwrap();
    env.send(&[env.deposit_tokens_ix(&wk, &mk, Outcome::No, C)], &[&w]).await.unwrap();
    env.send(&[env.request_cancel_ix(&o1, &wk)], &[&w]).await.unwrap();
    env.send(&[env.close_order_ix(&mk, &o1, &wk, OrderSide::SellYes, 4)], &[&bridge]).await.unwrap();
    env.check_invariant_1(&mk).await;

    env.send(&[env.admin_ix("resume", &mk)], &[&admin]).await.unwrap();
    env.send(&[env.mint_set_ix(&wk, &mk, C)], &[&w]).await.unwrap();
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn authority_and_timing_rules() {
    let Fixture { mut env, mk, bridge, w } = fixture("KXRULES").await;
    let wk = w.pubkey();
    let intruder = env.user(0).await;
    let o = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await.unwrap();
    // a non-bridge key cannot settle, a non-owner cannot cancel
    let mut ix_ = env.settle_fill_ix(&mk, &o, &wk, OrderSide::BuyYes, 2, C, 500_000, 0);
    ix_.accounts[0].pubkey = intruder.pubkey();
    expect_refused(env.send(&[ix_], &[&intruder]).await, OutcomeError::NotBridgeAuthority);
    expect_refused(env.send(&[env.request_cancel_ix(&o, &intruder.pubkey())], &[&intruder]).await, OutcomeError::NotTokenOwner);
    // force_close without a cancel request, and a second request, are refused
    expect_refused(env.send(&[env.force_close_ix(&mk, &o, &wk, OrderSide::BuyYes)], &[&w]).await, OutcomeError::CancelNotRequested);
    env.send(&[env.request_cancel_ix(&o, &wk)], &[&w]).await.unwrap();
    expect_refused(env.send(&[env.request_cancel_ix(&o, &wk)], &[&w]).await, OutcomeError::CancelAlreadyRequested);
    // fills the CLOB matched before it saw the cancel still settle
    env.send(&[env.settle_fill_ix(&mk, &o, &wk, OrderSide::BuyYes, 2, C / 2, 500_000, 0)], &[&bridge]).await.unwrap();
    // bad inputs to place_order
    let bad = [
        (env.place_order_ix(&wk, &mk, 5, OrderSide::BuyYes, 0, C, 0), OutcomeError::InvalidPrice),
        (env.place_order_ix(&wk, &mk, 5, OrderSide::BuyYes, C, C, 0), OutcomeError::InvalidPrice),
        (env.place_order_ix(&wk, &mk, 5, OrderSide::BuyYes, 123_400, C, 0), OutcomeError::InvalidPrice),
        (env.place_order_ix(&wk, &mk, 5, OrderSide::BuyYes, 500_000, 5_000, 0), OutcomeError::InvalidSize),
        (env.place_order_ix(&wk, &mk, 5, OrderSide::BuyYes, 500_000, 1_000 * C, 0), OutcomeError::InsufficientBalance),
    ];
    for (ix_, err) in bad {
        expect_refused(env.send(&[ix_], &[&w]).await, err);
    }
    // after the close time no new sets or orders
    env.advance_time(86_400).await;
    expect_refused(env.send(&[env.mint_set_ix(&wk, &mk, C)], &[&w]).await, OutcomeError::MarketPastCloseTime);
    expect_refused(
        env.send(&[env.place_order_ix(&wk, &mk, 6, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await,
        OutcomeError::MarketPastCloseTime,
    );
    // determine before close and by a non-resolver are refused
    expect_refused(env.send(&[env.determine_ix(&mk, C)], &[&env.resolver.insecure_clone()]).await, OutcomeError::MarketNotDeterminable);
    let admin = env.admin.insecure_clone();
    env.send(&[env.close_market_ix(&admin.pubkey(), &mk)], &[&admin]).await.unwrap();
    let mut ix_ = env.determine_ix(&mk, C);
    ix_.accounts[0].pubkey = intruder.pubkey();
    expect_refused(env.send(&[ix_], &[&intruder]).await, OutcomeError::NotResolver);
    expect_refused(env.send(&[env.determine_ix(&mk, C + 1)], &[&env.resolver.insecure_clone()]).await, OutcomeError::InvalidPayout);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn bad_market_and_settings_inputs_are_refused() {
    let mut env = Env::new().await;
    let admin = env.admin.insecure_clone();
    let now = env.now().await;
    for (ticker, close, tick, err) in [
        ("lower", now + 100, 10_000, OutcomeError::InvalidTicker),
        ("KXTICK", now + 100, 300, OutcomeError::InvalidTickSize),
        ("KXTICK", now + 100, 0, OutcomeError::InvalidTickSize),
        ("KXPAST", now - 1, 10_000, OutcomeError::InvalidCloseTime),
    ] {
        expect_refused(env.send(&[env.create_market_ix(&MarketKeys::new(ticker), close, tick)], &[&admin]).await, err);
    }
    let mk = env.create_market_with_tick("KXFINE", 100).await;
    assert_eq!(env.market(&mk).await.tick_size, 100);
    let w = env.user(10 * C).await;
    // $0.0001 ticks: 0.01 contract at 12.34c costs exactly 1234 base units
    env.send(&[env.place_order_ix(&w.pubkey(), &mk, 1, OrderSide::BuyYes, 123_400, 10_000, 0)], &[&w]).await.unwrap();
    assert_eq!(env.order(&order_pda(&mk.market, &w.pubkey(), 1)).await.unwrap().escrowed, 1_234);
}
