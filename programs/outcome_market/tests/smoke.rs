use anchor_lang::{InstructionData, ToAccountMetas};
use solana_program_test::{processor, ProgramTest};
use solana_sdk::{instruction::Instruction, signature::Signer, transaction::Transaction};

// Anchor's generated `entry` ties the accounts slice lifetime to its items,
// which `processor!` cannot express; leaking the slice is the known workaround.
fn entry(
    program_id: &anchor_lang::prelude::Pubkey,
    accounts: &[anchor_lang::prelude::AccountInfo],
    data: &[u8],
) -> anchor_lang::solana_program::entrypoint::ProgramResult {
    let accounts = Box::leak(Box::new(accounts.to_vec()));
    outcome_market::entry(program_id, accounts, data)
}

#[tokio::test]
async fn smoke_initialize_runs_natively() {
    let pt = ProgramTest::new("outcome_market", outcome_market::ID, processor!(entry));
    let (banks, payer, blockhash) = pt.start().await;
    let ix = Instruction {
        program_id: outcome_market::ID,
        accounts: outcome_market::accounts::Initialize { payer: payer.pubkey() }.to_account_metas(None),
        data: outcome_market::instruction::Initialize {}.data(),
    };
    let tx = Transaction::new_signed_with_payer(&[ix], Some(&payer.pubkey()), &[&payer], blockhash);
    banks.process_transaction(tx).await.unwrap();
}
