//! Every instruction's happy path, with balances and supplies checked after each step
//! and invariant 1 checked after every step that touches a market.

use anchor_spl::token::Mint;
use anchor_lang::AccountDeserialize;
use crate::common::*;
use outcome_market::state::{MarketStatus, OrderSide, OrderStatus, Outcome};
use outcome_market::{accounts as acc, instruction as ixd, SettingsArgs};
use solana_sdk::signature::{Keypair, Signer};

#[tokio::test]
async fn exchange_setup_settings_authorities_and_pause() {
    let mut env = Env::new().await;
    let ex = env.exchange().await;
    assert_eq!(ex.admin, env.admin.pubkey());
    assert_eq!(ex.bridge_authority, env.bridge.pubkey());
    assert_eq!(ex.resolver_authority, env.resolver.pubkey());
    assert_eq!(ex.collateral_mint, env.collateral_mint);
    assert_eq!(ex.treasury, env.treasury);
    assert_eq!(ex.custody, custody_pda());
    assert_eq!((ex.fee_rate_bps, ex.force_close_slots, ex.dispute_window_secs), (FEE_RATE_BPS, FORCE_CLOSE_SLOTS, DISPUTE_WINDOW_SECS));
    assert!(!ex.paused);
    assert_eq!(env.balance(&custody_collateral_pda()).await, 0);

    // update_settings, with a new treasury
    let admin = env.admin.insecure_clone();
    let new_treasury_owner = Keypair::new();
    let new_treasury = env.fund(&new_treasury_owner.pubkey(), 0).await;
    let settings = ix(
        acc::UpdateSettings { admin: admin.pubkey(), exchange: exchange_pda(), treasury: new_treasury, event_authority: event_authority_pda(), program: outcome_market::ID },
        ixd::UpdateSettings { args: SettingsArgs { fee_rate_bps: 350, force_close_slots: 7, dispute_window_secs: 60 } },
    );
    env.send(&[settings], &[&admin]).await.unwrap();
    let ex = env.exchange().await;
    assert_eq!((ex.treasury, ex.fee_rate_bps, ex.force_close_slots, ex.dispute_window_secs), (new_treasury, 350, 7, 60));

    // two-step authority change: nothing changes until the new admin accepts
    let (new_admin, new_bridge, new_resolver) = (Keypair::new(), Keypair::new(), Keypair::new());
    let propose = ix(
        acc::AdminOnly { admin: admin.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID },
        ixd::SetAuthorities {
            new_admin: new_admin.pubkey(),
            new_bridge_authority: new_bridge.pubkey(),
            new_resolver_authority: new_resolver.pubkey(),
        },
    );
    env.send(&[propose], &[&admin]).await.unwrap();
    let ex = env.exchange().await;
    assert_eq!(ex.admin, admin.pubkey());
    assert_eq!(ex.pending_admin, new_admin.pubkey());
    let accept = |signer: &Keypair| {
        ix(acc::AcceptAuthorities { pending_admin: signer.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID }, ixd::AcceptAuthorities {})
    };
    expect_refused(env.send(&[accept(&new_bridge)], &[&new_bridge]).await, outcome_market::error::OutcomeError::NotPendingAdmin);
    env.send(&[accept(&new_admin)], &[&new_admin]).await.unwrap();
    let ex = env.exchange().await;
    assert_eq!((ex.admin, ex.bridge_authority, ex.resolver_authority), (new_admin.pubkey(), new_bridge.pubkey(), new_resolver.pubkey()));
    assert_eq!(ex.pending_admin, Default::default());
    // a second accept finds nothing pending
    expect_refused(env.send(&[accept(&new_admin)], &[&new_admin]).await, outcome_market::error::OutcomeError::NoPendingAuthorities);

    // pause / unpause by the new admin; the old one is refused
    let pause = |a: &Keypair| ix(acc::AdminOnly { admin: a.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID }, ixd::Pause {});
    expect_refused(env.send(&[pause(&admin)], &[&admin]).await, outcome_market::error::OutcomeError::NotAdmin);
    env.send(&[pause(&new_admin)], &[&new_admin]).await.unwrap();
    assert!(env.exchange().await.paused);
    let unpause = ix(acc::AdminOnly { admin: new_admin.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID }, ixd::Unpause {});
    env.send(&[unpause], &[&new_admin]).await.unwrap();
    assert!(!env.exchange().await.paused);
}

#[tokio::test]
async fn market_lifecycle_create_halt_resume_close_determine_correct_finalize() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXTEST-25DEC31-T1").await;
    let m = env.market(&mk).await;
    assert_eq!(m.ticker, mk.ticker);
    assert_eq!(m.status, MarketStatus::Open);
    assert_eq!((m.yes_mint, m.no_mint, m.vault, m.custody_yes, m.custody_no), (mk.yes_mint, mk.no_mint, mk.vault, mk.custody_yes, mk.custody_no));
    assert_eq!((m.sets_outstanding, m.tick_size), (0, 10_000));
    for mint in [mk.yes_mint, mk.no_mint] {
        let raw = env.raw(&mint).await.unwrap();
        let mint = Mint::try_deserialize(&mut &raw.data[..]).unwrap();
        assert_eq!(mint.decimals, 6);
        assert_eq!(Option::<_>::from(mint.mint_authority), Some(mk.market));
        assert!(Option::<anchor_lang::prelude::Pubkey>::from(mint.freeze_authority).is_none());
    }
    env.check_invariant_1(&mk).await;

    let admin = env.admin.insecure_clone();
    let resolver = env.resolver.insecure_clone();
    env.send(&[env.admin_ix("halt", &mk)], &[&admin]).await.unwrap();
    assert_eq!(env.market(&mk).await.status, MarketStatus::Halted);
    env.send(&[env.admin_ix("resume", &mk)], &[&admin]).await.unwrap();
    assert_eq!(env.market(&mk).await.status, MarketStatus::Open);

    // anyone may close once the close time has passed
    let anyone = env.user(0).await;
    expect_refused(
        env.send(&[env.close_market_ix(&anyone.pubkey(), &mk)], &[&anyone]).await,
        outcome_market::error::OutcomeError::CloseTimeNotReached,
    );
    env.advance_time(86_400).await;
    env.send(&[env.close_market_ix(&anyone.pubkey(), &mk)], &[&anyone]).await.unwrap();
    assert_eq!(env.market(&mk).await.status, MarketStatus::Closed);

    env.send(&[env.determine_ix(&mk, C)], &[&resolver]).await.unwrap();
    let m = env.market(&mk).await;
    assert_eq!((m.status, m.yes_payout), (MarketStatus::Determined, C));
    // the resolver corrects within the dispute window, which restarts it
    env.advance_time(DISPUTE_WINDOW_SECS - 10).await;
    env.send(&[env.determine_ix(&mk, 0)], &[&resolver]).await.unwrap();
    env.advance_time(20).await;
    expect_refused(env.send(&[env.finalize_ix(&mk)], &[&resolver]).await, outcome_market::error::OutcomeError::DisputeWindowOpen);
    env.advance_time(DISPUTE_WINDOW_SECS).await;
    env.send(&[env.finalize_ix(&mk)], &[&resolver]).await.unwrap();
    let m = env.market(&mk).await;
    assert_eq!((m.status, m.yes_payout), (MarketStatus::Finalized, 0));
    assert!(m.finalized_at > 0);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn mint_merge_and_redeem_move_exact_amounts() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXSETS").await;
    let alice = env.user(100 * C).await;
    let a = alice.pubkey();
    let (a_yes, a_no) = env.outcome_atas(&a, &mk).await;
    let a_col = env.collateral_ata(&a);

    env.mint_set(&alice, &mk, 10 * C).await.unwrap();
    assert_eq!(env.balance(&a_col).await, 90 * C);
    assert_eq!((env.balance(&a_yes).await, env.balance(&a_no).await), (10 * C, 10 * C));
    assert_eq!(env.balance(&mk.vault).await, 10 * C);
    assert_eq!(env.market(&mk).await.sets_outstanding, 10 * C);
    env.check_invariant_1(&mk).await;

    env.send(&[env.merge_set_ix(&a, &mk, 3 * C + 1)], &[&alice]).await.unwrap();
    assert_eq!(env.balance(&a_col).await, 93 * C + 1);
    assert_eq!((env.balance(&a_yes).await, env.balance(&a_no).await), (7 * C - 1, 7 * C - 1));
    assert_eq!(env.supply(&mk.yes_mint).await, 7 * C - 1);
    env.check_invariant_1(&mk).await;

    // a void: both sides pay half
    env.resolve(&mk, 500_000).await;
    env.check_invariant_1(&mk).await;
    env.send(&[env.redeem_ix(&a, &mk, 2 * C, 0)], &[&alice]).await.unwrap();
    assert_eq!(env.balance(&a_col).await, 93 * C + 1 + C);
    assert_eq!(env.balance(&a_yes).await, 5 * C - 1);
    env.check_invariant_1(&mk).await;
    env.send(&[env.redeem_ix(&a, &mk, 5 * C - 1, 7 * C - 1)], &[&alice]).await.unwrap();
    // (5C−1 + 7C−1) × 0.5 = 6C − 1
    assert_eq!(env.balance(&a_col).await, 93 * C + 1 + C + 6 * C - 1);
    assert_eq!((env.supply(&mk.yes_mint).await, env.supply(&mk.no_mint).await), (0, 0));
    assert_eq!(env.balance(&mk.vault).await, 0);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn custody_deposits_sets_withdrawals_sweep_and_redeem() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXCUST").await;
    let bridge = env.bridge.insecure_clone();
    let bob = env.user(50 * C).await;
    let b = bob.pubkey();
    let cc = custody_collateral_pda();

    env.send(&[env.deposit_collateral_ix(&b, 20 * C, *b"acct-0000000001!")], &[&bob]).await.unwrap();
    assert_eq!(env.balance(&cc).await, 20 * C);
    assert_eq!(env.balance(&env.collateral_ata(&b)).await, 30 * C);

    env.send(&[env.custody_mint_set_ix(&mk, 1, 12 * C)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&cc).await, 8 * C);
    assert_eq!((env.balance(&mk.custody_yes).await, env.balance(&mk.custody_no).await), (12 * C, 12 * C));
    env.check_invariant_1(&mk).await;

    env.send(&[env.custody_merge_set_ix(&mk, 2, 2 * C)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&cc).await, 10 * C);
    assert_eq!(env.balance(&mk.custody_yes).await, 10 * C);
    env.check_invariant_1(&mk).await;

    // a custodial YES position out to bob's wallet, and back in as a deposit
    let (b_yes, _) = env.outcome_atas(&b, &mk).await;
    env.send(&[env.custody_withdraw_ix(&mk, 3, Outcome::Yes, 4 * C, &b_yes)], &[&bridge]).await.unwrap();
    assert_eq!((env.balance(&b_yes).await, env.balance(&mk.custody_yes).await), (4 * C, 6 * C));
    env.send(&[env.deposit_tokens_ix(&b, &mk, Outcome::Yes, C)], &[&bob]).await.unwrap();
    assert_eq!((env.balance(&b_yes).await, env.balance(&mk.custody_yes).await), (3 * C, 7 * C));
    env.check_invariant_1(&mk).await;

    // collateral out (exchange-wide stream numbers are independent of the market's)
    let b_col = env.collateral_ata(&b);
    env.send(&[env.custody_withdraw_collateral_ix(1, 5 * C, &b_col)], &[&bridge]).await.unwrap();
    assert_eq!((env.balance(&b_col).await, env.balance(&cc).await), (35 * C, 5 * C));
    // no wallet fill paid a fee: nothing of custody's collateral may be swept
    expect_refused(env.send(&[env.custody_sweep_ix(2, C)], &[&bridge]).await, outcome_market::error::OutcomeError::SweepExceedsFees);
    // operator cash funded into custody from the bridge's float
    let float = env.fund(&bridge.pubkey(), 3 * C).await;
    env.send(&[env.custody_fund_ix(2, 3 * C)], &[&bridge]).await.unwrap();
    assert_eq!((env.balance(&float).await, env.balance(&cc).await), (0, 8 * C));

    // after a YES result custody redeems its 7 YES and 10 NO: 7 collateral back
    env.resolve(&mk, C).await;
    env.send(&[env.custody_redeem_ix(&mk, 4, 7 * C, 10 * C)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&cc).await, 15 * C);
    assert_eq!((env.balance(&mk.custody_yes).await, env.balance(&mk.custody_no).await), (0, 0));
    assert_eq!(env.balance(&mk.vault).await, 3 * C, "bob's 3 YES remain redeemable");
    env.check_invariant_1(&mk).await;
    let m = env.market(&mk).await;
    assert_eq!(m.window.highest, 4);
}

/// Invariant 5 for one order: what the wallet gave up never exceeds what it signed.
async fn check_invariant_5(env: &mut Env, order: &anchor_lang::prelude::Pubkey, spent: u64, limit_total: u64) {
    assert!(spent <= limit_total, "wallet spent {spent} > signed maximum {limit_total}");
    if let Some(o) = env.order(order).await {
        assert!(o.filled <= o.size && o.fees_paid <= o.max_fee);
        assert_eq!(env.balance(&o.escrow).await, o.escrowed);
    }
}

#[tokio::test]
async fn wallet_buy_order_fills_below_limit_and_is_closed_by_the_bridge() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXBUY").await;
    env.stock_custody(&mk, 1, 100 * C).await;
    let bridge = env.bridge.insecure_clone();
    let w = env.user(100 * C).await;
    let wk = w.pubkey();
    let w_col = env.collateral_ata(&wk);
    let (w_yes, _) = env.outcome_atas(&wk, &mk).await;
    let order = order_pda(&mk.market, &wk, 42);

    // buy 10 YES at ≤ 60c with a 50c fee budget: escrow 6.50
    let max_fee = 500_000;
    env.send(&[env.place_order_ix(&wk, &mk, 42, OrderSide::BuyYes, 600_000, 10 * C, max_fee)], &[&w]).await.unwrap();
    let o = env.order(&order).await.unwrap();
    assert_eq!((o.size, o.filled, o.escrowed, o.status), (10 * C, 0, 6_500_000, OrderStatus::Open));
    assert_eq!(env.balance(&escrow_pda(&order)).await, 6_500_000);
    assert_eq!(env.balance(&w_col).await, 100 * C - 6_500_000);
    let signed_max = 6_500_000;

    // 4 contracts at 55c (price improvement), fee 7c (cap: 0.07·4·.55·.45 = 6.93c → 7c)
    let cc0 = env.balance(&custody_collateral_pda()).await;
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 2, 4 * C, 550_000, 70_000)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&w_yes).await, 4 * C);
    assert_eq!(env.balance(&mk.custody_yes).await, 96 * C);
    assert_eq!(env.balance(&custody_collateral_pda()).await, cc0 + 2_200_000 + 70_000);
    let o = env.order(&order).await.unwrap();
    assert_eq!((o.filled, o.fees_paid, o.escrowed), (4 * C, 70_000, 6_500_000 - 2_270_000));
    let spent = 100 * C - env.balance(&w_col).await - (6_500_000 - 2_270_000);
    check_invariant_5(&mut env, &order, spent, signed_max).await;
    env.check_invariant_1(&mk).await;

    // 6 more at the limit, fee 11c (cap 0.07·6·.6·.4 = 10.08c → 11c)
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 3, 6 * C, 600_000, 110_000)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&w_yes).await, 10 * C);
    let o = env.order(&order).await.unwrap();
    assert_eq!((o.filled, o.escrowed), (10 * C, 6_500_000 - 2_270_000 - 3_710_000));

    // the bridge closes it: the unused 0.52 (price improvement + fee budget) comes back
    env.send(&[env.close_order_ix(&mk, &order, &wk, OrderSide::BuyYes, 4)], &[&bridge]).await.unwrap();
    assert!(env.raw(&order).await.is_none(), "order account closed");
    assert!(env.raw(&escrow_pda(&order)).await.is_none(), "escrow closed");
    let spent = 100 * C - env.balance(&w_col).await;
    assert_eq!(spent, 2_270_000 + 3_710_000);
    check_invariant_5(&mut env, &order, spent, signed_max).await;
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn wallet_sell_order_fills_above_limit() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXSELL").await;
    env.stock_custody(&mk, 1, 10 * C).await;
    // custodial buyers' cash that pays wallet sellers
    let cash = env.user(5 * C).await;
    env.send(&[env.deposit_collateral_ix(&cash.pubkey(), 5 * C, [2; 16])], &[&cash]).await.unwrap();
    let bridge = env.bridge.insecure_clone();
    let w = env.user(10 * C).await;
    let wk = w.pubkey();
    env.mint_set(&w, &mk, 5 * C).await.unwrap();
    let w_col = env.collateral_ata(&wk);
    let w_no = ata_of(&wk, &mk.no_mint);
    let order = order_pda(&mk.market, &wk, 1);

    // sell 5 NO at ≥ 30c
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::SellNo, 300_000, 5 * C, 100_000)], &[&w]).await.unwrap();
    assert_eq!(env.balance(&w_no).await, 0);
    assert_eq!(env.balance(&escrow_pda(&order)).await, 5 * C);

    // 2 NO at 35c, fee 4c: wallet receives 70c − 4c
    env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::SellNo, 2, 2 * C, 350_000, 40_000)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&w_col).await, 5 * C + 660_000);
    assert_eq!(env.balance(&mk.custody_no).await, 12 * C);
    assert_eq!(env.balance(&escrow_pda(&order)).await, 3 * C);
    // invariant 5 for a sell: proceeds ≥ limit × filled − fees
    let o = env.order(&order).await.unwrap();
    assert!(660_000 >= outcome_market::math::notional(o.filled, o.limit_price).unwrap() - o.fees_paid);

    env.send(&[env.close_order_ix(&mk, &order, &wk, OrderSide::SellNo, 3)], &[&bridge]).await.unwrap();
    assert_eq!(env.balance(&w_no).await, 3 * C);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn request_cancel_then_force_close_after_the_timeout() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXFORCE").await;
    let w = env.user(10 * C).await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 9);
    env.send(&[env.place_order_ix(&wk, &mk, 9, OrderSide::BuyNo, 250_000, 4 * C, 0)], &[&w]).await.unwrap();
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 9 * C);

    env.send(&[env.request_cancel_ix(&order, &wk)], &[&w]).await.unwrap();
    let o = env.order(&order).await.unwrap();
    assert_eq!(o.status, OrderStatus::CancelRequested);
    expect_refused(
        env.send(&[env.force_close_ix(&mk, &order, &wk, OrderSide::BuyNo)], &[&w]).await,
        outcome_market::error::OutcomeError::ForceCloseTooEarly,
    );
    env.advance_slots(FORCE_CLOSE_SLOTS + 1).await;
    let lamports_before = env.raw(&wk).await.unwrap().lamports;
    env.send(&[env.force_close_ix(&mk, &order, &wk, OrderSide::BuyNo)], &[&w]).await.unwrap();
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 10 * C);
    assert!(env.raw(&order).await.is_none() && env.raw(&escrow_pda(&order)).await.is_none());
    assert!(env.raw(&wk).await.unwrap().lamports > lamports_before, "rent of order and escrow returned");
}
