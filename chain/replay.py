"""What a stream's replay window says about a bridge sequence number: applied, open or expired.

Each bridge stream has one window (`ReplayWindow` in programs/outcome_market/src/state/
replay_window.rs): a market's lives in its Market account, the exchange-wide stream's in
Custody; events name the stream by that account's address (`stream`). The window holds the
highest applied number and a bitmap of the `REPLAY_WINDOW_BITS` numbers ending there, so:

- APPLIED: in the window and its bit is set; its effect is on chain.
- OPEN: not applied and still acceptable (above the highest, or in the window with its bit
  clear). The program accepts at most `highest + REPLAY_WINDOW_BITS` now; a number further
  ahead is OPEN too, but refused (`SequenceTooFarAhead`) until the window moves up.
- EXPIRED: below the window (or 0). It can never be applied any more, and the window no
  longer knows whether it was: only the program's events (`stream`, `seq`) can say. A
  recovering bridge must never read EXPIRED as applied.

`window_status` is the pure rule (mirrors `ReplayWindow::status`, tested against the program's
behaviour on localnet); `seq_status` reads the stream's account over RPC.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable

from solana.rpc.commitment import Commitment
from solders.pubkey import Pubkey

from chain.idl import constant

REPLAY_WINDOW_BITS = constant("REPLAY_WINDOW_BITS")


class SeqState(str, Enum):
    APPLIED = "applied"
    OPEN = "open"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Window:
    """A decoded ReplayWindow: `highest` applied number (0: none) and its 4 × 64-bit map."""

    highest: int
    bitmap: tuple[int, ...]

    @classmethod
    def of(cls, decoded: Any) -> "Window":
        return cls(int(decoded.highest), tuple(int(w) for w in decoded.bitmap))

    @property
    def max_acceptable(self) -> int:
        """The highest number the program accepts now."""
        return self.highest + REPLAY_WINDOW_BITS


def window_status(window: Window, seq: int) -> SeqState:
    if seq <= 0:
        return SeqState.EXPIRED
    if seq > window.highest:
        return SeqState.OPEN
    offset = window.highest - seq
    if offset >= REPLAY_WINDOW_BITS:
        return SeqState.EXPIRED
    applied = window.bitmap[offset // 64] >> (offset % 64) & 1
    return SeqState.APPLIED if applied else SeqState.OPEN


async def read_window(c, stream: Pubkey, commitment: Commitment | None = None) -> Window:
    """The window of `stream`: a Market's address, or the Custody PDA (the exchange-wide stream)."""
    resp = await c.rpc.get_account_info(stream, commitment=commitment or c.commitment)
    if resp.value is None:
        raise LookupError(f"stream account {stream} does not exist")
    data = bytes(resp.value.data)
    for account_type in ("Market", "Custody"):
        if data[:8] == c.program.coder.accounts.acc_name_to_discriminator[account_type]:
            return Window.of(c.program.coder.accounts.decode(data).window)
    raise LookupError(f"{stream} is neither a Market nor the Custody account")


async def seq_status(c, stream: Pubkey, seq: int, commitment: Commitment | None = None) -> SeqState:
    """Applied, open or expired: what the chain's window for `stream` says about `seq` now."""
    return window_status(await read_window(c, stream, commitment), seq)


async def seq_statuses(c, stream: Pubkey, seqs: Iterable[int], commitment: Commitment | None = None) -> dict[int, SeqState]:
    """`seq_status` for many numbers of one stream, from one read of its window."""
    window = await read_window(c, stream, commitment)
    return {seq: window_status(window, seq) for seq in seqs}
