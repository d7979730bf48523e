//! Events live in transaction logs, which the runtime cuts at 10 kB ("Log truncated"); an
//! attacker who could push a bridge instruction's events past that point would hide a fill,
//! a custody move or a sequence number from the indexer. The program refuses any bridge
//! transaction that is not bounded (at most MAX_BRIDGE_TX_INSTRUCTIONS instructions, of this
//! program or the compute budget program only: nobody can add a chatty instruction), and
//! these tests prove the bound: the heaviest instruction's logs, with the lines only an SBF
//! build writes, times the bound, stay under the limit. The native log is an over-estimate of
//! a validator's: program-test logs a builtin's invocation twice (its processor wrapper and
//! the runtime) and each CPI twice (its syscall stub's "invoke [1]" and the runtime's
//! "invoke [2]"); only the two lines an SBF build adds are missing, and they are added.
//!
//! Transactions a wallet signs can carry its own chatty instructions, but then only its own
//! events are at stake (an uncredited deposit, an order not relayed; see the README).
use crate::common::*;
use outcome_market::error::OutcomeError;
use outcome_market::state::{OrderSide, Outcome};
use outcome_market::MAX_BRIDGE_TX_INSTRUCTIONS;
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{Keypair, Signer};

/// solana-log-collector's LOG_MESSAGES_BYTES_LIMIT: the sum of the messages' lengths.
const LOG_LIMIT: usize = 10_000;

/// Lines an SBF build logs for one of our instructions that the native build does not:
/// Anchor's "Program log: Instruction: <Name>" (`msg!` goes to stdout natively) and the
/// runtime's compute-units line, with the largest numbers it can print.
fn sbf_only_bytes(name: &str) -> usize {
    "Program log: Instruction: ".len()
        + name.len()
        + format!("Program {} consumed 1400000 of 1400000 compute units", outcome_market::ID).len()
}

/// The bytes our top-level instruction logged: from its "invoke [1]" to its "success".
fn instruction_log_bytes(logs: &[String]) -> usize {
    let start = logs.iter().position(|l| *l == format!("Program {} invoke [1]", outcome_market::ID)).expect("our instruction ran");
    let end = logs.iter().rposition(|l| *l == format!("Program {} success", outcome_market::ID)).expect("it succeeded");
    logs[start..=end].iter().map(|l| l.len()).sum()
}

fn total_bytes(logs: &[String]) -> usize {
    logs.iter().map(|l| l.len()).sum()
}

async fn measured(env: &mut Env, name: &str, ix_: Instruction, signer: &Keypair) -> usize {
    let (r, logs) = env.send_logged(&[ix_], &[signer]).await;
    assert_eq!(r, Ok(()), "{name}");
    if std::env::var_os("SHOW_LOGS").is_some() {
        println!("{name}:\n{}", logs.iter().map(|l| format!("{:4} {l}", l.len())).collect::<Vec<_>>().join("\n"));
    }
    instruction_log_bytes(&logs) + sbf_only_bytes(name)
}

#[tokio::test]
async fn the_heaviest_bounded_bridge_transaction_logs_less_than_the_limit() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXLOG").await;
    let bridge = env.bridge.insecure_clone();
    env.stock_custody(&mk, 1, 50 * C).await;
    let w = env.user(50 * C).await;
    let wk = w.pubkey();
    let (w_yes, _) = env.outcome_atas(&wk, &mk).await;
    env.mint_set(&w, &mk, 5 * C).await.unwrap();
    // custodial cash: what custody's own mints and the sell fill's proceeds are paid from
    env.send(&[env.deposit_collateral_ix(&wk, 10 * C, [4; 16])], &[&w]).await.unwrap();
    let (buy, sell) = (order_pda(&mk.market, &wk, 1), order_pda(&mk.market, &wk, 2));
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 5 * C, 500_000)], &[&w]).await.unwrap();
    env.send(&[env.place_order_ix(&wk, &mk, 2, OrderSide::SellNo, 300_000, 5 * C, 500_000)], &[&w]).await.unwrap();
    env.fund(&bridge.pubkey(), 5 * C).await;

    let w_col = env.collateral_ata(&wk);
    // (instruction name as Anchor logs it, the instruction): built first, then sent and measured
    macro_rules! measure {
        ($name:expr, $ix:expr) => {{
            let instruction = $ix;
            ($name, measured(&mut env, $name, instruction, &bridge).await)
        }};
    }
    let mut sizes = vec![
        measure!("CustodyMintSet", env.custody_mint_set_ix(&mk, 2, C)),
        measure!("CustodyMergeSet", env.custody_merge_set_ix(&mk, 3, C)),
        measure!("CustodyWithdraw", env.custody_withdraw_ix(&mk, 4, Outcome::Yes, C, &w_yes)),
        measure!("SettleFill", env.settle_fill_ix(&mk, &buy, &wk, OrderSide::BuyYes, 5, C, 500_000, 20_000)),
        measure!("SettleFill", env.settle_fill_ix(&mk, &sell, &wk, OrderSide::SellNo, 6, C, 300_000, 20_000)),
        measure!("CloseOrder", env.close_order_ix(&mk, &buy, &wk, OrderSide::BuyYes, 7)),
        measure!("CloseOrder", env.close_order_ix(&mk, &sell, &wk, OrderSide::SellNo, 8)),
        measure!("CustodyFund", env.custody_fund_ix(1, C)),
        measure!("CustodySweep", env.custody_sweep_ix(2, 40_000)),
        measure!("CustodyWithdrawCollateral", env.custody_withdraw_collateral_ix(3, C, &w_col)),
    ];
    env.resolve(&mk, 500_000).await;
    sizes.push(measure!("CustodyRedeem", env.custody_redeem_ix(&mk, 9, C, C)));

    // the compute budget program's two lines, as a validator logs them
    let compute_budget = ["invoke [1]", "success"].iter().map(|s| format!("Program ComputeBudget111111111111111111111111111111 {s}").len()).sum::<usize>();
    let heaviest = sizes.iter().map(|(_, n)| *n).max().unwrap().max(compute_budget);
    let bound = heaviest * MAX_BRIDGE_TX_INSTRUCTIONS as usize;
    assert!(bound < LOG_LIMIT, "{MAX_BRIDGE_TX_INSTRUCTIONS} × {heaviest} bytes = {bound} >= {LOG_LIMIT}: {sizes:?}");
    println!("heaviest bridge instruction logs {heaviest} bytes; bound {bound} < {LOG_LIMIT}: {sizes:?}");
}

#[tokio::test]
async fn a_full_bridge_transaction_keeps_every_event_and_a_larger_one_is_refused() {
    let mut env = Env::new().await;
    let mk = env.create_market("KXLOGFULL").await;
    let bridge = env.bridge.insecure_clone();
    env.stock_custody(&mk, 1, 50 * C).await;
    let w = env.user(50 * C).await;
    let wk = w.pubkey();
    env.outcome_atas(&wk, &mk).await;
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 20 * C, C)], &[&w]).await.unwrap();
    // 1.75 cents per contract: within the cumulative cap however many fills
    let fill = |env: &Env, seq: u64| env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, seq, C, 500_000, 17_500);
    // Env::send puts a compute budget instruction first: with it the transaction holds the bound
    let n = MAX_BRIDGE_TX_INSTRUCTIONS - 1;
    let full: Vec<Instruction> = (0..n).map(|i| fill(&env, 2 + i)).collect();
    let (r, logs) = env.send_logged(&full, &[&bridge]).await;
    assert_eq!(r, Ok(()));
    assert!(!logs.iter().any(|l| l == "Log truncated"));
    assert_eq!(logs.iter().filter(|l| l.starts_with("Program data: ")).count() as u64, n, "every FillSettled is in the log");
    assert!(total_bytes(&logs) < LOG_LIMIT);
    // one instruction more is refused, and so is any other program's instruction in a bridge transaction
    let over: Vec<Instruction> = (0..=n).map(|i| fill(&env, 100 + i)).collect();
    expect_refused(env.send(&over, &[&bridge]).await, OutcomeError::UnboundedBridgeTransaction);
    let chatty = solana_sdk::system_instruction::transfer(&bridge.pubkey(), &wk, 1);
    expect_refused(env.send(&[chatty, fill(&env, 200)], &[&bridge]).await, OutcomeError::UnboundedBridgeTransaction);
    assert_eq!(env.order(&order).await.unwrap().filled, n * C);
    // and a substituted "instructions sysvar" is refused
    let mut forged = fill(&env, 300);
    let last = forged.accounts.len() - 1;
    forged.accounts[last].pubkey = anchor_lang::prelude::Pubkey::new_unique();
    expect_anchor(env.send(&[forged], &[&bridge]).await, anchor_lang::error::ErrorCode::ConstraintAddress);
}
