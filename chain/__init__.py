"""The typed client of the outcome_market program: IDL, PDAs, instructions, decoding, send-and-confirm."""
