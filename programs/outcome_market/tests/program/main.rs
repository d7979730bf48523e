//! The program's integration tests, one test binary (one link of the Solana runtime, not
//! one per file): outcome_market running natively inside solana-program-test.
mod common;

mod amounts;
mod attacks;
mod batch;
mod events;
mod happy_paths;
mod issue8;
mod log_limit;
mod orders_and_rules;
mod pause_table;
mod property;
mod sequences;
mod substitution;
mod token2022;
mod validation;
