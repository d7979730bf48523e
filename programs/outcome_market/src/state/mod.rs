//! Accounts of the outcome_market program.
//!
//! # PDA seeds (stable: clients derive every address from these)
//!
//! | account | seeds | owner / authority |
//! | --- | --- | --- |
//! | [`Exchange`] | `["exchange"]` | program (singleton) |
//! | [`Custody`] | `["custody"]` | program (singleton); authority of the custody token accounts |
//! | custody collateral token account | `["custody_collateral"]` | SPL Token, authority = Custody PDA |
//! | [`Market`] | `["market", ticker bytes]` (ticker ≤ 32 bytes, UTF-8) | program; mint authority of YES/NO, authority of the vault |
//! | YES mint | `["yes_mint", market]` | SPL Token, 6 decimals, mint authority = Market PDA, no freeze authority |
//! | NO mint | `["no_mint", market]` | same as YES |
//! | collateral vault | `["vault", market]` | SPL Token account of the collateral mint, authority = Market PDA |
//! | custody YES account | `["custody_yes", market]` | SPL Token account of the YES mint, authority = Custody PDA |
//! | custody NO account | `["custody_no", market]` | SPL Token account of the NO mint, authority = Custody PDA |
//! | [`WalletOrder`] | `["order", market, owner, nonce as u64 little-endian]` | program |
//! | order escrow | `["escrow", wallet_order]` | SPL Token account (collateral for buys, YES/NO for sells), authority = WalletOrder PDA |
//!
//! `market`, `owner` and `wallet_order` in seeds are the 32 bytes of those public keys.
//! All bumps are canonical (`find_program_address`).
mod custody;
mod exchange;
mod market;
mod replay_window;
mod wallet_order;

pub use custody::*;
pub use exchange::*;
pub use market::*;
pub use replay_window::*;
pub use wallet_order::*;
