//! outcome_market: Tandem's on-chain core (see ../shared/DESIGN.md).
use anchor_lang::prelude::*;

declare_id!("GbKiJPjzhfbkvdEU48mCz38ykst9L4SgFvcgsTRN7DUb");

#[program]
pub mod outcome_market {
    use super::*;

    pub fn initialize(_ctx: Context<Initialize>) -> Result<()> {
        Ok(())
    }
}

#[derive(Accounts)]
pub struct Initialize<'info> {
    #[account(mut)]
    pub payer: Signer<'info>,
}
