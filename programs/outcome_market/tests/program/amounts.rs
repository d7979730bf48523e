//! Every amount check names its refusal: zero amounts, amounts above the balance they come
//! from (without the program's check the token program would refuse with its own, unnamed
//! error; a zero would be a no-op that still consumes a sequence number and logs an event),
//! and every bridge instruction inside an unbounded transaction.
use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::{OrderSide, Outcome};
use outcome_market::{accounts as acc, instruction as ixd, InitializeArgs};
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{Keypair, Signer};

struct World {
    env: Env,
    a: MarketKeys,
    f: MarketKeys,
    w: Keypair,
    bridge: Keypair,
}

/// Market A trades (custody holds 3 sets and 2 collateral), F is finalized (custody and w hold
/// sets in it); w holds 2 sets of A and has placed a buy (nonce 1) and a sell (nonce 2) in A.
async fn world() -> World {
    let mut env = Env::new().await;
    let a = env.create_market("KXAMTA").await;
    let f = env.create_market("KXAMTF").await;
    env.stock_custody(&a, 1, 3 * C).await;
    env.stock_custody(&f, 1, 2 * C).await;
    let w = env.user(20 * C).await;
    let wk = w.pubkey();
    env.outcome_atas(&wk, &a).await;
    env.mint_set(&w, &a, 2 * C).await.unwrap();
    env.mint_set(&w, &f, C).await.unwrap();
    env.send(&[env.deposit_collateral_ix(&wk, 2 * C, [2; 16])], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&wk, &a, 1, OrderSide::BuyYes, 500_000, 10 * C, C)], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&wk, &a, 2, OrderSide::SellNo, 500_000, 2 * C, 0)], &[&w]).await.unwrap();
    let bridge = env.bridge.insecure_clone();
    env.fund(&bridge.pubkey(), C).await;
    env.resolve(&f, 500_000).await;
    World { env, a, f, w, bridge }
}

async fn all_refused(env: &mut Env, calls: Vec<(&str, Instruction, &Keypair)>, e: OutcomeError) {
    for (what, call, signer) in calls {
        assert_eq!(env.send(&[call], &[signer]).await, Err(Refusal::Custom(code(e))), "{what}: expected {e:?}");
    }
}

#[tokio::test]
async fn zero_amounts_are_refused_everywhere() {
    let World { mut env, a, f, w, bridge } = world().await;
    let wk = w.pubkey();
    let (w_yes, w_col) = (ata_of(&wk, &a.yes_mint), env.collateral_ata(&wk));
    let calls = vec![
        ("custody_mint_set", env.custody_mint_set_ix(&a, 2, 0), &bridge),
        ("custody_merge_set", env.custody_merge_set_ix(&a, 2, 0), &bridge),
        ("custody_redeem", env.custody_redeem_ix(&f, 2, 0, 0), &bridge),
        ("custody_withdraw", env.custody_withdraw_ix(&a, 2, Outcome::Yes, 0, &w_yes), &bridge),
        ("custody_withdraw_collateral", env.custody_withdraw_collateral_ix(1, 0, &w_col), &bridge),
        ("custody_sweep", env.custody_sweep_ix(1, 0), &bridge),
        ("custody_fund", env.custody_fund_ix(1, 0), &bridge),
        ("deposit_collateral", env.deposit_collateral_ix(&wk, 0, [1; 16]), &w),
        ("deposit_tokens", env.deposit_tokens_ix(&wk, &a, Outcome::Yes, 0), &w),
        ("mint_set", env.mint_set_ix(&wk, &a, 0), &w),
        ("merge_set", env.merge_set_ix(&wk, &a, 0), &w),
        ("redeem", env.redeem_ix(&wk, &f, 0, 0), &w),
    ];
    all_refused(&mut env, calls, OutcomeError::ZeroAmount).await;
    // no zero consumed a sequence number
    assert!(!env.market(&a).await.window.is_applied(2) && !env.custody().await.window.is_applied(1));
}

#[tokio::test]
async fn amounts_above_the_balance_are_refused_by_name() {
    let World { mut env, a, f, w, bridge } = world().await;
    let wk = w.pubkey();
    let (w_yes, w_col) = (ata_of(&wk, &a.yes_mint), env.collateral_ata(&wk));
    let (buy, sell) = (order_pda(&a.market, &wk, 1), order_pda(&a.market, &wk, 2));
    let poor = env.user(C).await;
    let pk = poor.pubkey();
    env.outcome_atas(&pk, &a).await;
    let calls = vec![
        // custody holds 2 collateral, 3 YES and 3 NO of A, 2 + 2 of F; the bridge's float 1
        ("custody_mint_set", env.custody_mint_set_ix(&a, 2, 3 * C), &bridge),
        ("custody_merge_set", env.custody_merge_set_ix(&a, 2, 4 * C), &bridge),
        ("custody_redeem", env.custody_redeem_ix(&f, 2, 3 * C, 0), &bridge),
        ("custody_withdraw", env.custody_withdraw_ix(&a, 2, Outcome::Yes, 4 * C, &w_yes), &bridge),
        ("custody_withdraw_collateral", env.custody_withdraw_collateral_ix(1, 3 * C, &w_col), &bridge),
        ("custody_fund", env.custody_fund_ix(1, 2 * C), &bridge),
        // a buy of 10 YES against custody's 3
        ("settle_fill (buy)", env.settle_fill_ix(&a, &buy, &wk, OrderSide::BuyYes, 2, 4 * C, 500_000, 0), &bridge),
        // a poor wallet: 1 collateral, no YES
        ("deposit_collateral", env.deposit_collateral_ix(&pk, 2 * C, [1; 16]), &poor),
        ("deposit_tokens", env.deposit_tokens_ix(&pk, &a, Outcome::Yes, C), &poor),
        ("mint_set", env.mint_set_ix(&pk, &a, 2 * C), &poor),
        ("merge_set", env.merge_set_ix(&wk, &a, 3 * C), &w),
        ("redeem", env.redeem_ix(&wk, &f, 2 * C, 0), &w),
        ("place_order", env.place_order_ix(&pk, &a, 1, OrderSide::BuyYes, 500_000, 3 * C, 0), &poor),
    ];
    all_refused(&mut env, calls, OutcomeError::InsufficientBalance).await;
    // the sell side: custody's collateral must cover the proceeds
    env.send(&[env.custody_withdraw_collateral_ix(1, 2 * C, &w_col)], &[&bridge]).await.unwrap();
    let sell_fill = env.settle_fill_ix(&a, &sell, &wk, OrderSide::SellNo, 3, C, 600_000, 0);
    expect_refused(env.send(&[sell_fill], &[&bridge]).await, OutcomeError::InsufficientBalance);
    env.check_invariant_1(&a).await;
}

#[tokio::test]
async fn merging_after_finalization_and_others_tokens_are_refused() {
    let World { mut env, a, f, w, bridge } = world().await;
    let wk = w.pubkey();
    expect_refused(env.send(&[env.custody_merge_set_ix(&f, 2, C)], &[&bridge]).await, OutcomeError::MarketFinalized);
    expect_refused(env.send(&[env.merge_set_ix(&wk, &f, C)], &[&w]).await, OutcomeError::MarketFinalized);
    // merging with another holder's YES and NO (the merger signs, the holder does not)
    let thief = env.user(C).await;
    let tk = thief.pubkey();
    env.outcome_atas(&tk, &a).await;
    let mut accounts = env.set_op_accounts(&tk, &a);
    accounts.user_yes = ata_of(&wk, &a.yes_mint);
    accounts.user_no = ata_of(&wk, &a.no_mint);
    expect_refused(env.send(&[ix(accounts, ixd::MergeSet { amount: C })], &[&thief]).await, OutcomeError::NotTokenOwner);
    assert_eq!(env.balance(&ata_of(&wk, &a.yes_mint)).await, 2 * C);
}

#[tokio::test]
async fn initialize_refuses_a_default_resolver() {
    let mut env = Env::bare(program_test()).await;
    let admin = env.admin.insecure_clone();
    let init = ix(
        acc::Initialize {
            admin: admin.pubkey(),
            program_data: program_data_pda(),
            exchange: exchange_pda(),
            custody: custody_pda(),
            collateral_mint: env.collateral_mint,
            custody_collateral: custody_collateral_pda(),
            treasury: env.treasury,
            token_program: anchor_spl::token::spl_token::ID,
            system_program: anchor_lang::system_program::ID,
            event_authority: event_authority_pda(),
            program: outcome_market::ID,
        },
        ixd::Initialize {
            args: InitializeArgs {
                bridge_authority: env.bridge.pubkey(),
                resolver_authority: anchor_lang::prelude::Pubkey::default(),
                fee_rate_bps: FEE_RATE_BPS,
                force_close_slots: FORCE_CLOSE_SLOTS,
                dispute_window_secs: DISPUTE_WINDOW_SECS,
            },
        },
    );
    expect_refused(env.send(&[init], &[&admin]).await, OutcomeError::InvalidAuthority);
}
