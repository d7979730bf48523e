//! Anchor 0.32 performs every CPI through `solana-invoke`, whose host build calls an
//! `unimplemented!()` syscall. solana-program-test's native mode (`processor!`) needs
//! CPIs to reach its syscall stubs instead, which `solana_program::program` does on the
//! host; on SBF both end in the same `sol_invoke_signed_rust` syscall (via solana-cpi).
//! The workspace patches crates.io's solana-invoke with this crate.
pub use solana_program::program::{invoke, invoke_signed, invoke_signed_unchecked, invoke_unchecked};
