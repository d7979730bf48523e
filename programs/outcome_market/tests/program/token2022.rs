//! Token-2022 mints and accounts are refused everywhere: the program works with SPL Token
//! (its mints have no transfer hooks, fees or confidential balances that would break the
//! 1:1 backing arithmetic). Token-2022 is loaded beside SPL Token in program-test, so these
//! are real Token-2022 accounts, not look-alikes.
#![allow(deprecated)]
use anchor_lang::error::ErrorCode as Anchor;
use anchor_lang::prelude::Pubkey;
use anchor_spl::token_2022::spl_token_2022;
use crate::common::*;
use outcome_market::instruction as ixd;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::system_instruction;

/// A Token-2022 mint with 6 decimals and `authority`, and `owner`'s token account of it
/// holding `amount`.
async fn token_2022_mint_and_account(env: &mut Env, authority: &Keypair, owner: &Pubkey, amount: u64) -> (Pubkey, Pubkey) {
    let (mint, account) = (Keypair::new(), Keypair::new());
    let payer = env.payer();
    let rent = env.ctx.banks_client.get_rent().await.unwrap();
    let id = spl_token_2022::ID;
    let ixs = [
        system_instruction::create_account(&payer.pubkey(), &mint.pubkey(), rent.minimum_balance(82), 82, &id),
        spl_token_2022::instruction::initialize_mint2(&id, &mint.pubkey(), &authority.pubkey(), None, 6).unwrap(),
        system_instruction::create_account(&payer.pubkey(), &account.pubkey(), rent.minimum_balance(165), 165, &id),
        spl_token_2022::instruction::initialize_account3(&id, &account.pubkey(), &mint.pubkey(), owner).unwrap(),
        spl_token_2022::instruction::mint_to(&id, &mint.pubkey(), &account.pubkey(), &authority.pubkey(), &[], amount).unwrap(),
    ];
    env.send(&ixs, &[&mint, &account, authority]).await.expect("token-2022 set-up");
    (mint.pubkey(), account.pubkey())
}

#[tokio::test]
async fn a_token_2022_collateral_mint_is_refused_at_initialize() {
    let mut env = Env::bare(program_test()).await;
    let admin = env.admin.insecure_clone();
    let (mint, account) = token_2022_mint_and_account(&mut env, &admin, &admin.pubkey(), 0).await;
    let mut init = env.initialize_ix();
    init.accounts[4].pubkey = mint; // collateral_mint
    expect_anchor(env.send(&[init], &[&admin]).await, Anchor::AccountOwnedByWrongProgram);
    let mut init = env.initialize_ix();
    init.accounts[6].pubkey = account; // treasury
    expect_anchor(env.send(&[init], &[&admin]).await, Anchor::AccountOwnedByWrongProgram);
    // the token program itself cannot be swapped for Token-2022 either
    let mut init = env.initialize_ix();
    let token_program = init.accounts.len() - 4; // before system_program, event_authority, program
    init.accounts[token_program].pubkey = spl_token_2022::ID;
    expect_anchor(env.send(&[init], &[&admin]).await, Anchor::InvalidProgramId);
    env.send(&[env.initialize_ix()], &[&admin]).await.unwrap();
}

#[tokio::test]
async fn token_2022_accounts_are_refused_as_wallet_and_custody_accounts() {
    let mut env = Env::new().await;
    let mk = env.create_market("KX2022").await;
    let w = env.user(10 * C).await;
    let wk = w.pubkey();
    env.outcome_atas(&wk, &mk).await;
    let authority = Keypair::new();
    let (_, t22) = token_2022_mint_and_account(&mut env, &authority, &wk, 10 * C).await;
    // paying a set with Token-2022 "collateral"
    let mut accounts = env.set_op_accounts(&wk, &mk);
    accounts.user_collateral = t22;
    expect_anchor(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&w]).await, Anchor::AccountOwnedByWrongProgram);
    // depositing it into custody
    let mut deposit = env.deposit_collateral_ix(&wk, C, [5; 16]);
    deposit.accounts[3].pubkey = t22; // source
    expect_anchor(env.send(&[deposit], &[&w]).await, Anchor::AccountOwnedByWrongProgram);
    // escrowing it in an order
    let mut place = env.place_order_ix(&wk, &mk, 1, outcome_market::state::OrderSide::BuyYes, 500_000, C, 0);
    place.accounts[6].pubkey = t22; // source
    expect_anchor(env.send(&[place], &[&w]).await, Anchor::AccountOwnedByWrongProgram);
    // a set operation through the Token-2022 program
    let mut accounts = env.set_op_accounts(&wk, &mk);
    accounts.token_program = spl_token_2022::ID;
    expect_anchor(env.send(&[ix(accounts, ixd::MintSet { amount: C })], &[&w]).await, Anchor::InvalidProgramId);
    assert_eq!(env.balance(&env.collateral_ata(&wk)).await, 10 * C);
    env.check_invariant_1(&mk).await;
}
