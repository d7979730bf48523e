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
