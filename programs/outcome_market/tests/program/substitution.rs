//! Account substitution, every account check once: each case swaps one account of a valid
//! instruction for a plausible wrong one (another market's, another owner's, another mint's)
//! and asserts the named refusal of the check that guards it. Without that check each case
//! would either succeed or fail differently (the token program's own error), so each is the
//! test of its check (scripts/mutate_constraints.py shows which).
use anchor_lang::error::ErrorCode as Anchor;
use anchor_lang::prelude::Pubkey;
use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::{OrderSide, Outcome};
use outcome_market::{accounts as acc, instruction as ixd, SettingsArgs};
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{Keypair, Signer};

enum Want {
    Ours(OutcomeError),
    Lang(Anchor),
}

struct Case {
    what: &'static str,
    ix: Instruction,
    index: usize,
    by: Pubkey,
    signer: Keypair,
    want: Want,
}

fn case(what: &'static str, ix: Instruction, index: usize, by: Pubkey, signer: &Keypair, want: Want) -> Case {
    Case { what, ix, index, by, signer: signer.insecure_clone(), want }
}

#[tokio::test]
async fn every_substituted_account_is_refused_by_its_own_check() {
    let mut env = Env::new().await;
    let a = env.create_market("KXSUBA1").await;
    let b = env.create_market("KXSUBB1").await;
    let f = env.create_market("KXSUBF1").await;
    env.stock_custody(&a, 1, 10 * C).await;
    let (bridge, admin, resolver) = (env.bridge.insecure_clone(), env.admin.insecure_clone(), env.resolver.insecure_clone());
    // w: the wallet the instructions are for; x: a stranger with accounts of its own
    let w = env.user(50 * C).await;
    let x = env.user(20 * C).await;
    let (wk, xk) = (w.pubkey(), x.pubkey());
    for (owner, m) in [(wk, &a), (wk, &b), (wk, &f), (xk, &a)] {
        env.outcome_atas(&owner, m).await;
    }
    env.mint_set(&w, &a, 5 * C).await.unwrap();
    env.mint_set(&w, &f, 2 * C).await.unwrap();
    env.mint_set(&x, &a, 2 * C).await.unwrap();
    let (o1, o2, o3) = (order_pda(&a.market, &wk, 1), order_pda(&a.market, &wk, 2), order_pda(&a.market, &wk, 3));
    env.send(&[env.place_order_ix(&wk, &a, 1, OrderSide::BuyYes, 500_000, 2 * C, 20_000)], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&wk, &a, 2, OrderSide::SellYes, 400_000, 2 * C, 20_000)], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&wk, &a, 3, OrderSide::BuyYes, 500_000, C, 0)], &[&w]).await.unwrap();
    env.send(&[env.request_cancel_ix(&o1, &wk)], &[&w]).await.unwrap();
    env.advance_slots(FORCE_CLOSE_SLOTS).await;
    let bridge_yes = env.ata(&bridge.pubkey(), &a.yes_mint).await;
    env.fund(&bridge.pubkey(), 5 * C).await;
    env.resolve(&f, 600_000).await;
    env.send(&[env.close_market_ix(&admin.pubkey(), &b)], &[&admin]).await.unwrap();
    env.send(&[env.determine_ix(&b, C)], &[&resolver]).await.unwrap();

    let (w_col, x_col) = (env.collateral_ata(&wk), env.collateral_ata(&xk));
    let (w_yes, w_no, x_yes, x_no) = (ata_of(&wk, &a.yes_mint), ata_of(&wk, &a.no_mint), ata_of(&xk, &a.yes_mint), ata_of(&xk, &a.no_mint));
    let (fw_yes, fw_no) = (ata_of(&wk, &f.yes_mint), ata_of(&wk, &f.no_mint));
    let fake_authority = Pubkey::new_unique();
    use Want::*;
    let wm = || Ours(OutcomeError::WrongMarket);
    let mint = || Lang(Anchor::ConstraintTokenMint);
    let owner = || Lang(Anchor::ConstraintTokenOwner);
    let authority = || Lang(Anchor::ConstraintSeeds);
    let settings = ix(
        acc::UpdateSettings { admin: admin.pubkey(), exchange: exchange_pda(), treasury: env.treasury, event_authority: event_authority_pda(), program: outcome_market::ID },
        ixd::UpdateSettings { args: SettingsArgs { fee_rate_bps: FEE_RATE_BPS, force_close_slots: FORCE_CLOSE_SLOTS, dispute_window_secs: DISPUTE_WINDOW_SECS } },
    );
    let mint_a = env.custody_mint_set_ix(&a, 2, C);
    let withdraw = env.custody_withdraw_ix(&a, 2, Outcome::Yes, C, &w_yes);
    let out = env.custody_withdraw_collateral_ix(1, C, &w_col);
    let fund = env.custody_fund_ix(1, C);
    let buy_fill = env.settle_fill_ix(&a, &o3, &wk, OrderSide::BuyYes, 2, C, 500_000, 0);
    let close3 = env.close_order_ix(&a, &o3, &wk, OrderSide::BuyYes, 2);
    let force1 = env.force_close_ix(&a, &o1, &wk, OrderSide::BuyYes);
    let place = env.place_order_ix(&wk, &a, 9, OrderSide::BuyYes, 500_000, C, 0);
    let mint_set = env.mint_set_ix(&wk, &a, C);
    let redeem = env.redeem_ix(&wk, &f, C, C);
    let cases = vec![
        // custody's sets: [4] custody_collateral [5] vault [6] yes_mint [7] no_mint [8] custody_yes [9] custody_no [11] event_authority
        case("custody_mint_set: a stranger's collateral as custody's", mint_a.clone(), 4, x_col, &bridge, wm()),
        case("custody_mint_set: B's vault", mint_a.clone(), 5, b.vault, &bridge, wm()),
        case("custody_mint_set: B's YES mint", mint_a.clone(), 6, b.yes_mint, &bridge, wm()),
        case("custody_mint_set: B's NO mint", mint_a.clone(), 7, b.no_mint, &bridge, wm()),
        case("custody_mint_set: B's custody YES", mint_a.clone(), 8, b.custody_yes, &bridge, wm()),
        case("custody_mint_set: B's custody NO", mint_a.clone(), 9, b.custody_no, &bridge, wm()),
        case("custody_mint_set: a fake event authority", mint_a.clone(), 11, fake_authority, &bridge, authority()),
        // custody_withdraw: [5] destination [7] event_authority
        case("custody_withdraw: a NO account for YES", withdraw.clone(), 5, w_no, &bridge, mint()),
        case("custody_withdraw: a fake event authority", withdraw.clone(), 7, fake_authority, &bridge, authority()),
        // collateral out: [3] custody_collateral [4] destination [6] event_authority
        case("custody_withdraw_collateral: a stranger's collateral as custody's", out.clone(), 3, x_col, &bridge, wm()),
        case("custody_withdraw_collateral: a YES account as destination", out.clone(), 4, w_yes, &bridge, mint()),
        case("custody_withdraw_collateral: a fake event authority", out.clone(), 6, fake_authority, &bridge, authority()),
        // custody_fund: [3] source [4] custody_collateral [6] event_authority
        case("custody_fund: the bridge's YES account as source", fund.clone(), 3, bridge_yes, &bridge, mint()),
        case("custody_fund: a wallet's collateral as source", fund.clone(), 3, w_col, &bridge, owner()),
        case("custody_fund: a stranger's collateral as custody's", fund.clone(), 4, x_col, &bridge, wm()),
        case("custody_fund: a fake event authority", fund.clone(), 6, fake_authority, &bridge, authority()),
        // deposits: [3] source [4] custody account
        case("deposit_collateral: a YES account as source", env.deposit_collateral_ix(&wk, C, [1; 16]), 3, w_yes, &w, mint()),
        case("deposit_collateral: a stranger's collateral as source", env.deposit_collateral_ix(&wk, C, [1; 16]), 3, x_col, &w, owner()),
        case("deposit_collateral: own collateral as custody's", env.deposit_collateral_ix(&xk, C, [1; 16]), 4, w_col, &x, wm()),
        case("deposit_tokens: a NO account for YES", env.deposit_tokens_ix(&wk, &a, Outcome::Yes, C), 3, w_no, &w, mint()),
        case("deposit_tokens: a stranger's YES", env.deposit_tokens_ix(&wk, &a, Outcome::Yes, C), 3, x_yes, &w, owner()),
        case("deposit_tokens: a stranger's YES as custody's", env.deposit_tokens_ix(&wk, &a, Outcome::Yes, C), 4, x_yes, &w, wm()),
        // settings and resolution
        case("update_settings: a YES account as treasury", settings, 2, w_yes, &admin, mint()),
        case("finalize: A's vault", env.finalize_ix(&b), 3, a.vault, &resolver, wm()),
        // wallet orders: place [4] escrow_mint [6] source
        case("place_order: YES as a buy's escrow mint", place.clone(), 4, a.yes_mint, &w, Ours(OutcomeError::WrongMint)),
        case("place_order: a YES account as a buy's source", place.clone(), 6, w_yes, &w, mint()),
        case("place_order: a stranger's collateral as source", place.clone(), 6, x_col, &w, owner()),
        // force_close: [3] escrow [4] refund account
        case("force_close: another order's escrow", force1.clone(), 3, escrow_pda(&o3), &w, Ours(OutcomeError::WrongEscrow)),
        case("force_close: a YES account for a collateral refund", force1.clone(), 4, w_yes, &w, Ours(OutcomeError::WrongMint)),
        case("force_close: a stranger's collateral for the refund", force1.clone(), 4, x_col, &w, Ours(OutcomeError::NotTokenOwner)),
        // settle_fill: [5] escrow [6] custody_collateral [7] custody_outcome [8] wallet_account [10] event_authority
        case("settle_fill: another order's escrow", buy_fill.clone(), 5, escrow_pda(&o2), &bridge, Ours(OutcomeError::WrongEscrow)),
        case("settle_fill: a stranger's collateral as custody's", buy_fill.clone(), 6, x_col, &bridge, wm()),
        case("settle_fill: custody NO for a YES buy", buy_fill.clone(), 7, a.custody_no, &bridge, wm()),
        case("settle_fill: a NO account for a YES buy", buy_fill.clone(), 8, w_no, &bridge, Ours(OutcomeError::WrongMint)),
        case("settle_fill: a stranger's YES for the wallet's", buy_fill.clone(), 8, x_yes, &bridge, Ours(OutcomeError::NotTokenOwner)),
        case("settle_fill: a fake event authority", buy_fill.clone(), 10, fake_authority, &bridge, authority()),
        // close_order: [5] escrow [6] refund account [8] event_authority
        case("close_order: another order's escrow", close3.clone(), 5, escrow_pda(&o2), &bridge, Ours(OutcomeError::WrongEscrow)),
        case("close_order: a YES account for a collateral refund", close3.clone(), 6, w_yes, &bridge, Ours(OutcomeError::WrongMint)),
        case("close_order: a fake event authority", close3.clone(), 8, fake_authority, &bridge, authority()),
        // sets: [3] user_collateral [6] no_mint [7] user_yes
        case("mint_set: a YES account as collateral", mint_set.clone(), 3, w_yes, &w, mint()),
        case("mint_set: B's NO mint", mint_set.clone(), 6, b.no_mint, &w, wm()),
        case("mint_set: a NO account as YES", mint_set.clone(), 7, w_no, &w, mint()),
        // redeem: [5] no_mint [6] user_yes [7] user_no [8] user_collateral
        case("redeem: B's NO mint", redeem.clone(), 5, b.no_mint, &w, wm()),
        case("redeem: a NO account as YES", redeem.clone(), 6, fw_no, &w, mint()),
        case("redeem: a NO account as NO of another market", redeem.clone(), 7, w_no, &w, mint()),
        case("redeem: a YES account as collateral", redeem.clone(), 8, fw_yes, &w, mint()),
    ];
    for c in cases {
        let mut i = c.ix;
        i.accounts[c.index].pubkey = c.by;
        let want = match c.want {
            Ours(e) => code(e),
            Lang(e) => e as u32,
        };
        assert_eq!(env.send(&[i], &[&c.signer]).await, Err(Refusal::Custom(want)), "{}", c.what);
    }
    // nothing moved (w's other 2 YES are in its sell order's escrow)
    assert_eq!((env.balance(&x_col).await, env.balance(&x_no).await), (18 * C, 2 * C));
    assert_eq!(env.balance(&w_yes).await, 3 * C);
    env.check_invariant_1(&a).await;
}

#[tokio::test]
async fn redemption_takes_only_the_redeemers_own_tokens() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXSUBRD").await;
    let w = env.user(10 * C).await;
    let x = env.user(10 * C).await;
    env.mint_set(&w, &mk, 2 * C).await.unwrap();
    env.mint_set(&x, &mk, 2 * C).await.unwrap();
    env.resolve(&mk, 500_000).await;
    let (wk, xk) = (w.pubkey(), x.pubkey());
    let mut yes = env.redeem_ix(&wk, &mk, C, 0);
    yes.accounts[6].pubkey = ata_of(&xk, &mk.yes_mint);
    expect_anchor(env.send(&[yes], &[&w]).await, Anchor::ConstraintTokenOwner);
    let mut no = env.redeem_ix(&wk, &mk, 0, C);
    no.accounts[7].pubkey = ata_of(&xk, &mk.no_mint);
    expect_anchor(env.send(&[no], &[&w]).await, Anchor::ConstraintTokenOwner);
    assert_eq!(env.balance(&ata_of(&xk, &mk.yes_mint)).await, 2 * C);
}

#[tokio::test]
async fn initialize_refuses_a_treasury_of_another_mint() {
    let mut env = Env::bare(program_test()).await;
    let admin = env.admin.insecure_clone();
    let other = env.create_mint(&admin.pubkey(), 6).await;
    let wrong = env.ata(&admin.pubkey(), &other).await;
    let mut init = env.initialize_ix();
    init.accounts[6].pubkey = wrong; // treasury
    expect_anchor(env.send(&[init], &[&admin]).await, Anchor::ConstraintTokenMint);
    env.send(&[env.initialize_ix()], &[&admin]).await.unwrap();
}
