"""Top-level instruction indexes from logs as validators and program-test's native mode write them."""
from __future__ import annotations

from chain.follower import _instruction_indexes, _top_level_segments

P, T = "Prog1111111111111111111111111111111111111111", "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
ED25519 = "Ed25519SigVerify111111111111111111111111111"


def test_one_segment_per_top_level_instruction_as_a_validator_logs():
    logs = [f"Program {T} invoke [1]", f"Program {T} success",
            f"Program {P} invoke [1]", f"Program {T} invoke [2]", f"Program {T} success", "Program data: x", f"Program {P} success",
            f"Program {P} invoke [1]", f"Program {P} invoke [2]", f"Program {P} success", f"Program {P} success",  # a self-CPI
            f"Program {P} invoke [1]", "Program log: no", f"Program {P} failed: custom program error: 0x1"]
    segments = _top_level_segments(logs)
    assert [p for p, _ in segments] == [T, P, P, P]
    assert "Program data: x" in segments[1][1] and len(segments[2][1]) == 4 and len(segments[3][1]) == 3


def test_native_mode_doubled_lines_and_cpis_numbered_from_one():
    """program-test's native mode: our program's invoke/success lines twice, its CPIs as "[1]"."""
    logs = [f"Program {P} invoke [1]", f"Program {P} invoke [1]",
            f"Program {T} invoke [1]", f"Program {T} invoke [2]", f"Program {T} success", f"Program {T} success",
            "Program data: a", f"Program {P} success", f"Program {P} success",
            f"Program {P} invoke [1]", f"Program {P} invoke [1]", "Program data: b", f"Program {P} success", f"Program {P} success"]
    segments = _top_level_segments(logs)
    assert len(segments) == 2 and "Program data: a" in segments[0][1] and "Program data: b" in segments[1][1]


def test_instructions_that_log_nothing_keep_their_index():
    segments = [(T, []), (P, []), (P, [])]
    assert _instruction_indexes(segments, [ED25519, T, P, ED25519, P]) == [1, 2, 4]
    assert _instruction_indexes(segments, None) == [0, 1, 2]
