"""Follows the program on chain, reconciles with the ledger, serves the operator dashboard."""
