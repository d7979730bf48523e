"""`ChainError`: a refused or failed transaction, named the way the program names it."""
from __future__ import annotations

import re
from typing import Any

from anchorpy import Idl
from anchorpy.error import LangErrorMessage, _LangErrorCode
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

# The innermost failing program comes first in the logs ("Program X failed: custom program error: 0x1770").
_FAILED_RE = re.compile(r"Program (\w+) failed: custom program error: (0x[0-9a-fA-F]+|\d+)")
# Anchor's own report, present for every `error!`/`require!` refusal.
_ANCHOR_RE = re.compile(r"Program log: AnchorError .*Error Code: (\w+)\. Error Number: (\d+)\. Error Message: (.*)\.?$")


class ChainError(Exception):
    """A transaction the chain refused or that failed on chain.

    `code` and `name` are the program's error (e.g. 6003, "MarketHalted") when the
    failure came from outcome_market or from Anchor itself; `program` is the program
    that failed (it may be the token program, whose codes are its own); `logs` are
    the transaction's logs as the RPC node returned them.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        name: str | None = None,
        program: str | None = None,
        logs: list[str] | None = None,
        signature: str | None = None,
        err: Any = None,
    ) -> None:
        self.code = code
        self.name = name
        self.program = program
        self.logs = list(logs or [])
        self.signature = signature
        self.err = err
        label = f"{name} ({code})" if name else (f"custom error {code}" if code is not None else "")
        super().__init__(f"{label}: {message}" if label else message)
        self.message = message


class TransactionExpired(ChainError):
    """Every attempt's blockhash expired before the transaction landed."""


def _custom_code(err: Any) -> int | None:
    if isinstance(err, TransactionErrorInstructionError) and isinstance(err.err, InstructionErrorCustom):
        return err.err.code
    return None


def program_error(idl: Idl, program_id: str, err: Any, logs: list[str] | None, *, signature: str | None = None) -> ChainError:
    """Build the ChainError for a transaction error `err` (solders TransactionError) and its logs."""
    logs = list(logs or [])
    code = _custom_code(err)
    failing = None
    for line in logs:
        match = _FAILED_RE.match(line)
        if match:
            failing = match.group(1)
            code = int(match.group(2), 0) if code is None else code
            break
    name = None
    message = str(err) if err is not None else "transaction failed"
    if code is not None and (failing is None or failing == program_id):
        idl_errors = {e.code: e for e in idl.errors or []}
        if code in idl_errors:
            name, message = idl_errors[code].name, idl_errors[code].msg or idl_errors[code].name
        elif code in _LangErrorCode._value2member_map_:
            name, message = _LangErrorCode(code).name, LangErrorMessage.get(code, message)
    for line in logs:  # Anchor's log line also names errors raised by other Anchor crates
        match = _ANCHOR_RE.match(line)
        if match and name is None and (code is None or int(match.group(2)) == code):
            name, code, message = match.group(1), int(match.group(2)), match.group(3)
    return ChainError(message, code=code, name=name, program=failing, logs=logs, signature=signature, err=err)
