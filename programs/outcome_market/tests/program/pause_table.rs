//! The pause table (README, program section): every instruction run on a paused exchange,
//! each either refused with `ExchangePaused` or carried out, exactly as the table says.
//!
//! The rule: while paused nothing new enters (sets, orders, deposits, markets), nothing leaves
//! custody on the bridge's word (fills, withdrawals, sweeps, custody's own set moves), and
//! every exit a holder controls keeps working (merge, redeem, cancel, force-close), as do
//! moves that only return value to where it belongs (close_order's refund, custody_redeem and
//! custody_fund into custody) and the admin's and resolver's work (markets still resolve).

use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::{OrderSide, Outcome};
use outcome_market::{accounts as acc, instruction as ixd, SettingsArgs};
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{Keypair, Signer};

/// (instruction, runs while paused). Mirrors the README table; `initialize` is absent (it
/// runs once, before anything can be paused).
const TABLE: &[(&str, bool)] = &[
    ("update_settings", true),
    ("set_authorities", true),
    ("accept_authorities", true),
    ("pause", false),
    ("create_market", false),
    ("halt", true),
    ("resume", true),
    ("close_market", true),
    ("determine", true),
    ("finalize", true),
    ("mint_set", false),
    ("merge_set", true),
    ("redeem", true),
    ("custody_mint_set", false),
    ("custody_mint_sets", false),
    ("custody_merge_set", false),
    ("custody_merge_sets", false),
    ("custody_redeem", true),
    ("custody_withdraw", false),
    ("custody_withdraw_collateral", false),
    ("custody_sweep", false),
    ("custody_fund", true),
    ("deposit_collateral", false),
    ("deposit_tokens", false),
    ("place_order", false),
    ("request_cancel", true),
    ("force_close", true),
    ("settle_fill", false),
    ("settle_fills", false),
    ("close_order", true),
    ("unpause", true),
];

#[tokio::test]
async fn every_instruction_on_a_paused_exchange_follows_the_table() {
    let mut env = Env::new().await;
    let (admin, bridge, resolver) = (env.admin.insecure_clone(), env.bridge.insecure_clone(), env.resolver.insecure_clone());
    // market A trades; B is closed (determine runs on it); D is determined, its dispute window
    // over (finalize runs on it); F is finalized (redemptions)
    let a = env.create_market("KXPA").await;
    let b = env.create_market("KXPB").await;
    let d = env.create_market("KXPD").await;
    let f = env.create_market("KXPF").await;
    env.stock_custody(&a, 1, 20 * C).await;
    env.stock_custody(&f, 1, 5 * C).await;
    let w = env.user(50 * C).await;
    let wk = w.pubkey();
    env.outcome_atas(&wk, &a).await;
    env.mint_set(&w, &a, 5 * C).await.unwrap();
    env.mint_set(&w, &f, 5 * C).await.unwrap();
    let (o1, o2, o3) = (order_pda(&a.market, &wk, 1), order_pda(&a.market, &wk, 2), order_pda(&a.market, &wk, 3));
    for nonce in 1..=3 {
        env.send(&[env.place_order_ix(&wk, &a, nonce, OrderSide::BuyYes, 500_000, C, 20_000)], &[&w]).await.unwrap();
    }
    env.send(&[env.request_cancel_ix(&o2, &wk)], &[&w]).await.unwrap();
    env.advance_slots(FORCE_CLOSE_SLOTS).await;
    env.send(&[env.close_market_ix(&admin.pubkey(), &b)], &[&admin]).await.unwrap();
    env.resolve(&f, 400_000).await;
    env.send(&[env.close_market_ix(&admin.pubkey(), &d)], &[&admin]).await.unwrap();
    env.send(&[env.determine_ix(&d, C)], &[&resolver]).await.unwrap();
    env.advance_time(DISPUTE_WINDOW_SECS).await;
    env.fund(&bridge.pubkey(), C).await;
    let w_yes = ata_of(&wk, &a.yes_mint);
    let settings = ix(
        acc::UpdateSettings { admin: admin.pubkey(), exchange: exchange_pda(), treasury: env.treasury, event_authority: event_authority_pda(), program: outcome_market::ID },
        ixd::UpdateSettings { args: SettingsArgs { fee_rate_bps: FEE_RATE_BPS, force_close_slots: FORCE_CLOSE_SLOTS, dispute_window_secs: DISPUTE_WINDOW_SECS } },
    );
    // proposing the current authorities again: the change is a no-op, the instructions still run
    let propose = ix(
        acc::AdminOnly { admin: admin.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID },
        ixd::SetAuthorities { new_admin: admin.pubkey(), new_bridge_authority: bridge.pubkey(), new_resolver_authority: resolver.pubkey() },
    );
    let accept = ix(acc::AcceptAuthorities { pending_admin: admin.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID }, ixd::AcceptAuthorities {});
    let close = env.now().await + 86_400;
    let new_market = env.create_market_ix(&MarketKeys::new("KXPNEW"), close, 10_000);
    let w_collateral = env.collateral_ata(&wk);

    env.send(&[env.exchange_admin_ix("pause")], &[&admin]).await.unwrap();
    assert!(env.exchange().await.paused);

    let calls: Vec<(&str, Instruction, Keypair)> = vec![
        ("update_settings", settings, admin.insecure_clone()),
        ("set_authorities", propose, admin.insecure_clone()),
        ("accept_authorities", accept, admin.insecure_clone()),
        ("pause", env.exchange_admin_ix("pause"), admin.insecure_clone()),
        ("create_market", new_market, admin.insecure_clone()),
        ("halt", env.admin_ix("halt", &a), admin.insecure_clone()),
        ("resume", env.admin_ix("resume", &a), admin.insecure_clone()),
        ("determine", env.determine_ix(&b, C), resolver.insecure_clone()),
        ("mint_set", env.mint_set_ix(&wk, &a, C), w.insecure_clone()),
        ("merge_set", env.merge_set_ix(&wk, &a, C), w.insecure_clone()),
        ("custody_mint_set", env.custody_mint_set_ix(&a, 2, C), bridge.insecure_clone()),
        ("custody_mint_sets", env.custody_mint_sets_ix(&a, &[(2, C)]), bridge.insecure_clone()),
        ("custody_merge_set", env.custody_merge_set_ix(&a, 2, C), bridge.insecure_clone()),
        ("custody_merge_sets", env.custody_merge_sets_ix(&a, &[(2, C)]), bridge.insecure_clone()),
        ("custody_withdraw", env.custody_withdraw_ix(&a, 2, Outcome::Yes, C, &w_yes), bridge.insecure_clone()),
        ("custody_withdraw_collateral", env.custody_withdraw_collateral_ix(1, C, &w_collateral), bridge.insecure_clone()),
        ("custody_sweep", env.custody_sweep_ix(1, 0), bridge.insecure_clone()),
        ("custody_fund", env.custody_fund_ix(1, C), bridge.insecure_clone()),
        ("deposit_collateral", env.deposit_collateral_ix(&wk, C, [9; 16]), w.insecure_clone()),
        ("deposit_tokens", env.deposit_tokens_ix(&wk, &a, Outcome::Yes, C), w.insecure_clone()),
        ("place_order", env.place_order_ix(&wk, &a, 4, OrderSide::BuyYes, 500_000, C, 0), w.insecure_clone()),
        ("request_cancel", env.request_cancel_ix(&o3, &wk), w.insecure_clone()),
        ("force_close", env.force_close_ix(&a, &o2, &wk, OrderSide::BuyYes), w.insecure_clone()),
        ("settle_fill", env.settle_fill_ix(&a, &o1, &wk, OrderSide::BuyYes, 2, C, 500_000, 0), bridge.insecure_clone()),
        ("settle_fills", env.settle_fills_ix(&a, &o1, &wk, OrderSide::BuyYes, &[(2, C, 500_000, 0)]), bridge.insecure_clone()),
        ("close_order", env.close_order_ix(&a, &o1, &wk, OrderSide::BuyYes, 2), bridge.insecure_clone()),
        ("close_market", env.close_market_ix(&admin.pubkey(), &a), admin.insecure_clone()),
        ("finalize", env.finalize_ix(&d), resolver.insecure_clone()),
        ("redeem", env.redeem_ix(&wk, &f, 5 * C, 5 * C), w.insecure_clone()),
        ("custody_redeem", env.custody_redeem_ix(&f, 2, 5 * C, 5 * C), bridge.insecure_clone()),
        ("unpause", env.exchange_admin_ix("unpause"), admin.insecure_clone()),
    ];
    let mut seen = Vec::new();
    for (name, instruction, signer) in calls {
        let runs = TABLE.iter().find(|(n, _)| *n == name).map(|(_, r)| *r).expect("in the table");
        let result = env.send(&[instruction], &[&signer]).await;
        if runs {
            assert_eq!(result, Ok(()), "{name} runs while paused");
        } else {
            assert_eq!(result, Err(Refusal::Custom(code(OutcomeError::ExchangePaused))), "{name} is refused while paused");
        }
        seen.push(name);
    }
    // the table names every instruction of the program but initialize
    let mut all: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
    all.sort();
    seen.sort();
    assert_eq!(seen, all);
    // the #[program] module's handlers: `pub fn` indented once, inside `pub mod outcome_market`
    let program_fns = include_str!("../../src/lib.rs").lines().filter(|l| l.starts_with("    pub fn ")).count();
    assert_eq!(all.len() + 1, program_fns, "every instruction but initialize is in the table");
    assert!(!env.exchange().await.paused);
}
