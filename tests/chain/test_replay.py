"""chain.replay: the three-way read of a replay window, against a model of every accepted number."""
from __future__ import annotations

import random

from chain.idl import constant, load_modern
from chain.replay import REPLAY_WINDOW_BITS, SeqState, Window, window_status


class Model:
    """The program's ReplayWindow rules, written from its doc comment (state/replay_window.rs)."""

    def __init__(self) -> None:
        self.highest, self.accepted = 0, set()

    def accept(self, seq: int) -> bool:
        if seq == 0 or seq in self.accepted:
            return False
        if seq > self.highest:
            if seq - self.highest > REPLAY_WINDOW_BITS:
                return False
            self.highest = seq
        elif self.highest - seq >= REPLAY_WINDOW_BITS:
            return False
        self.accepted.add(seq)
        return True

    def window(self) -> Window:
        bitmap = [0, 0, 0, 0]
        for seq in self.accepted:
            offset = self.highest - seq
            if offset < REPLAY_WINDOW_BITS:
                bitmap[offset // 64] |= 1 << (offset % 64)
        return Window(self.highest, tuple(bitmap))


def test_window_size_comes_from_the_idl():
    assert REPLAY_WINDOW_BITS == constant("REPLAY_WINDOW_BITS")
    assert {c["name"] for c in load_modern()["constants"]} >= {"REPLAY_WINDOW_BITS", "MAX_FORCE_CLOSE_SLOTS", "MAX_DISPUTE_WINDOW_SECS"}


def test_status_matches_the_model():
    rng = random.Random(8)
    model = Model()
    for _ in range(5_000):
        base = model.highest
        seq = max(0, base + rng.randint(-300, 300))
        model.accept(seq)
        window = model.window()
        for probe in {seq, max(0, base - 255), base + 1, max(0, window.highest - REPLAY_WINDOW_BITS)}:
            state = window_status(window, probe)
            in_window = 0 < probe <= window.highest and window.highest - probe < REPLAY_WINDOW_BITS
            if probe in model.accepted and in_window:
                assert state is SeqState.APPLIED
            elif probe == 0 or (probe <= window.highest and not in_window):
                assert state is SeqState.EXPIRED, "below the window nothing is known: never APPLIED"
            else:
                assert state is SeqState.OPEN and probe not in model.accepted


def test_expired_is_never_read_as_applied():
    w = Window(1_000, (2**64 - 1,) * 4)  # every bit set
    assert window_status(w, 1_000 - REPLAY_WINDOW_BITS + 1) is SeqState.APPLIED
    assert window_status(w, 1_000 - REPLAY_WINDOW_BITS) is SeqState.EXPIRED
    assert window_status(w, 1_001) is SeqState.OPEN and w.max_acceptable == 1_000 + REPLAY_WINDOW_BITS
