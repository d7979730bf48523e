"""The custodial exchange: the pure matching engine (no I/O) and the double-entry ledger."""
