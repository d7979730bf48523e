"""Naming program errors and decoding events from logs (no chain needed: logs as a validator writes them)."""
from __future__ import annotations

import base64

from anchorpy.program.common import NamedInstruction
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from chain.errors import ChainError, program_error
from chain.events import EventDecoder
from chain.idl import idl_from_modern

from .samples import program_for, synthetic

PID = synthetic()["address"]
TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"


def custom(code: int, index: int = 0):
    return TransactionErrorInstructionError(index, InstructionErrorCustom(code))


def failing_logs(code: int, name: str, message: str) -> list[str]:
    return [
        f"Program {PID} invoke [1]",
        "Program log: Instruction: PlaceOrder",
        f"Program log: AnchorError occurred. Error Code: {name}. Error Number: {code}. Error Message: {message}.",
        f"Program {PID} consumed 5000 of 200000 compute units",
        f"Program {PID} failed: custom program error: {hex(code)}",
    ]


def test_program_error_is_named_from_the_idl():
    idl = idl_from_modern(synthetic())
    error = program_error(idl, PID, custom(6000), failing_logs(6000, "Paused", "exchange paused"), signature="sig")
    assert isinstance(error, ChainError)
    assert (error.code, error.name, error.program, error.signature) == (6000, "Paused", PID, "sig")
    assert error.message == "exchange paused"
    assert "Paused (6000)" in str(error)
    assert error.logs[-1].endswith("custom program error: 0x1770")


def test_error_without_message_uses_its_name():
    idl = idl_from_modern(synthetic())
    error = program_error(idl, PID, custom(6001), failing_logs(6001, "NoMessage", "NoMessage"))
    assert (error.code, error.name) == (6001, "NoMessage")


def test_anchor_framework_errors_are_named():
    idl = idl_from_modern(synthetic())
    logs = failing_logs(2006, "ConstraintSeeds", "A seeds constraint was violated")
    error = program_error(idl, PID, custom(2006), logs)
    assert (error.code, error.name) == (2006, "ConstraintSeeds")


def test_token_program_failure_inside_a_cpi_is_not_named_as_ours():
    idl = idl_from_modern(synthetic())
    logs = [
        f"Program {PID} invoke [1]",
        f"Program {TOKEN} invoke [2]",
        "Program log: Error: insufficient funds",
        f"Program {TOKEN} failed: custom program error: 0x1",
        f"Program {PID} failed: custom program error: 0x1",
    ]
    error = program_error(idl, PID, custom(1), logs)
    assert error.code == 1 and error.name is None and error.program == TOKEN


def test_non_custom_failure_keeps_the_raw_error():
    idl = idl_from_modern(synthetic())
    error = program_error(idl, PID, "AccountNotFound", [])
    assert error.code is None and error.name is None and "AccountNotFound" in str(error)


def event_bytes(program, name: str, value: dict) -> str:
    disc = next(bytes(e["discriminator"]) for e in synthetic()["events"] if e["name"] == name)
    return base64.b64encode(disc + program.coder.events.layouts[name].build(value)).decode()


def order_placed(program, n: int) -> dict:
    return {
        "order": program.program_id,
        "params": {"side": program.type["Side"].BuyYes(), "limit_price": n, "size": -n, "post_only": False},
        "reference": list(range(16)),
        "note": b"hi",
        "ratio": 0.25,
        "extras": [None, 3],
    }


def test_events_decoded_in_order_and_only_from_our_program():
    program = program_for(idl_from_modern(synthetic()), PID)
    decoder = EventDecoder(program)
    ours = [event_bytes(program, "OrderPlaced", order_placed(program, n)) for n in (1, 2)]
    logs = [
        f"Program {PID} invoke [1]",
        "Program log: Instruction: PlaceOrder",
        "Program log: AAAAAAAAAAAAAAAA",  # free text that happens to be base64
        f"Program data: {ours[0]}",
        f"Program {TOKEN} invoke [2]",
        f"Program data: {ours[1]}",  # emitted while the token program runs: not ours
        f"Program {TOKEN} success",
        f"Program data: {ours[1]}",
        "Program data: AQID",  # our data line, but not an event
        f"Program {PID} consumed 5000 of 200000 compute units",
        f"Program {PID} success",
    ]
    events = decoder.decode(logs)
    assert [e.name for e in events] == ["OrderPlaced", "OrderPlaced"]
    assert [e.data.params.limit_price for e in events] == [1, 2]
    assert events[0].data.extras == [None, 3] and events[0].data.note == b"hi"
    assert decoder.decode([]) == []


def test_account_decoding_checks_the_discriminator():
    program = program_for(idl_from_modern(synthetic()), PID)
    value = {"owner": program.program_id, "params": order_placed(program, 5)["params"], "filled": 9}
    raw = program.coder.accounts.build(NamedInstruction(name="Order", data=value))
    assert program.coder.accounts.decode(raw).filled == 9
    assert raw[:8] != program.coder.accounts.acc_name_to_discriminator["Market"]
