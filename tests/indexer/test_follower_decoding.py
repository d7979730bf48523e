"""Top-level instruction indexes from logs as validators and program-test's native mode write them."""
from __future__ import annotations

from chain.follower import _top_level_segments

P, T = "Prog1111111111111111111111111111111111111111", "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"


def test_one_segment_per_top_level_instruction():
    logs = [f"Program {T} invoke [1]", f"Program {T} success",
            f"Program {P} invoke [1]", f"Program {T} invoke [2]", f"Program {T} success", "Program data: x", f"Program {P} success",
            f"Program {P} invoke [1]", f"Program {P} invoke [2]", f"Program {P} success", f"Program {P} success"]  # a self-CPI
    segments = _top_level_segments(logs)
    assert [s[0] for s in segments] == [f"Program {T} invoke [1]", f"Program {P} invoke [1]", f"Program {P} invoke [1]"]
    assert "Program data: x" in segments[1] and len(segments[2]) == 4


def test_native_modes_doubled_invoke_line_is_one_instruction():
    logs = [f"Program {P} invoke [1]", f"Program {P} invoke [1]", "Program data: a", f"Program {P} success", f"Program {P} success",
            f"Program {P} invoke [1]", f"Program {P} invoke [1]", "Program data: b", f"Program {P} success", f"Program {P} success"]
    segments = _top_level_segments(logs)
    assert len(segments) == 2 and "Program data: a" in segments[0] and "Program data: b" in segments[1]
