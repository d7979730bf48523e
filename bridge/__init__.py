"""Mirrors ledger events onto Solana exactly once; relays on-chain wallet orders into the CLOB."""
