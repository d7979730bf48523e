//! Instruction handlers and their accounts, grouped by the object they act on.
pub mod custody;
pub mod exchange;
pub mod market;
pub mod orders;
pub mod sets;

pub use custody::*;
pub use exchange::*;
pub use market::*;
pub use orders::*;
pub use sets::*;

use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, CloseAccount, Mint, MintTo, Token, TokenAccount, Transfer};

/// SPL Token transfer, signed by `authority` (with `signer_seeds` when it is a PDA).
pub(crate) fn transfer<'info>(
    token_program: &Program<'info, Token>,
    from: &Account<'info, TokenAccount>,
    to: &Account<'info, TokenAccount>,
    authority: &AccountInfo<'info>,
    amount: u64,
    signer_seeds: &[&[&[u8]]],
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let accounts = Transfer { from: from.to_account_info(), to: to.to_account_info(), authority: authority.clone() };
    token::transfer(CpiContext::new_with_signer(token_program.to_account_info(), accounts, signer_seeds), amount)
}

pub(crate) fn mint_to<'info>(
    token_program: &Program<'info, Token>,
    mint: &Account<'info, Mint>,
    to: &Account<'info, TokenAccount>,
    authority: &AccountInfo<'info>,
    amount: u64,
    signer_seeds: &[&[&[u8]]],
) -> Result<()> {
    let accounts = MintTo { mint: mint.to_account_info(), to: to.to_account_info(), authority: authority.clone() };
    token::mint_to(CpiContext::new_with_signer(token_program.to_account_info(), accounts, signer_seeds), amount)
}

pub(crate) fn burn<'info>(
    token_program: &Program<'info, Token>,
    mint: &Account<'info, Mint>,
    from: &Account<'info, TokenAccount>,
    authority: &AccountInfo<'info>,
    amount: u64,
    signer_seeds: &[&[&[u8]]],
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let accounts = Burn { mint: mint.to_account_info(), from: from.to_account_info(), authority: authority.clone() };
    token::burn(CpiContext::new_with_signer(token_program.to_account_info(), accounts, signer_seeds), amount)
}

pub(crate) fn close_token_account<'info>(
    token_program: &Program<'info, Token>,
    account: &Account<'info, TokenAccount>,
    destination: &AccountInfo<'info>,
    authority: &AccountInfo<'info>,
    signer_seeds: &[&[&[u8]]],
) -> Result<()> {
    let accounts =
        CloseAccount { account: account.to_account_info(), destination: destination.clone(), authority: authority.clone() };
    token::close_account(CpiContext::new_with_signer(token_program.to_account_info(), accounts, signer_seeds))
}

pub(crate) fn now() -> Result<i64> {
    Ok(Clock::get()?.unix_timestamp)
}

/// The compute budget program: the only other program a bridge transaction may call.
pub(crate) const COMPUTE_BUDGET_ID: Pubkey = pubkey!("ComputeBudget111111111111111111111111111111");

/// Whether the transaction is a bounded bridge transaction: at most
/// [`crate::constants::MAX_BRIDGE_TX_INSTRUCTIONS`] instructions, each of this program or the
/// compute budget program, so its logs (events included) stay under the runtime's 10 kB limit
/// whatever it holds. Read from the instructions sysvar.
pub(crate) fn is_bounded_bridge_transaction(instructions: &AccountInfo) -> Result<bool> {
    #[allow(deprecated)] // re-exported from solana-instructions-sysvar, which the program does not depend on directly
    use anchor_lang::solana_program::sysvar::instructions::load_instruction_at_checked;
    let count = {
        let data = instructions.try_borrow_data()?;
        u16::from_le_bytes([*data.first().unwrap_or(&0), *data.get(1).unwrap_or(&0)])
    };
    if u64::from(count) > crate::constants::MAX_BRIDGE_TX_INSTRUCTIONS {
        return Ok(false);
    }
    for i in 0..usize::from(count) {
        let program = load_instruction_at_checked(i, instructions)?.program_id;
        if program != crate::ID && program != COMPUTE_BUDGET_ID {
            return Ok(false);
        }
    }
    Ok(true)
}
