"""The ticker rule the program enforces (`create_market`: 1-32 bytes of A-Z 0-9 - _ .), so the
exchange refuses every other ticker with a 400 before it writes anything (DESIGN.md, Tickers
and units shared with the program). Pure apart from reading the committed IDL once.

The longest ticker is read from the IDL's constants (idl/outcome_market.json, generated from
the program) when the IDL exports `MAX_TICKER_LEN`; until it does, from the limit the program's
constants.rs names for it: a PDA seed, which Solana caps at 32 bytes (exchange/idl.py).
"""
from __future__ import annotations

import re

from exchange import idl
from exchange.errors import InvalidRequest

MAX_SEED_LEN = 32  # Solana's MAX_SEED_LEN: the Market PDA is seeded with the ticker's bytes
_CHARSET = re.compile(r"[A-Z0-9_.\-]+")


def max_ticker_len() -> int:
    return idl.constants().get("MAX_TICKER_LEN", MAX_SEED_LEN)


def is_valid_ticker(ticker: object) -> bool:
    return (isinstance(ticker, str) and 0 < len(ticker.encode()) <= max_ticker_len()
            and _CHARSET.fullmatch(ticker) is not None)


def check_ticker(ticker: object, field: str = "ticker") -> str:
    """`ticker` if the program would accept it; else InvalidRequest (HTTP 400)."""
    if not is_valid_ticker(ticker):
        raise InvalidRequest(f"{field} {ticker!r} is not 1-{max_ticker_len()} characters of A-Z, 0-9, '-', '_', '.'",
                             code="invalid_ticker")
    return ticker  # type: ignore[return-value]
