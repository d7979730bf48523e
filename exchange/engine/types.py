"""Value types and names the matching engine speaks (plain ints, no floats)."""
from __future__ import annotations

BID = "bid"  # buy YES / sell NO at a YES price
ASK = "ask"  # sell YES / buy NO at a YES price
SIDES = (BID, ASK)

GOOD_TILL_CANCELED = "good_till_canceled"
IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
FILL_OR_KILL = "fill_or_kill"
TIME_IN_FORCE = (GOOD_TILL_CANCELED, IMMEDIATE_OR_CANCEL, FILL_OR_KILL)

STP_TAKER_AT_CROSS = "taker_at_cross"  # the taker's unfilled rest is cancelled where it meets its own order
STP_MAKER = "maker"  # the taker's own resting orders are cancelled and matching goes on
STP_MODES = (STP_TAKER_AT_CROSS, STP_MAKER)


class EngineFill:
    """One match: the taker traded `count` with a resting maker at the maker's YES price."""

    __slots__ = ("maker_order_id", "maker_user", "price", "count")

    def __init__(self, maker_order_id: str, maker_user: int, price: int, count: int) -> None:
        self.maker_order_id = maker_order_id
        self.maker_user = maker_user
        self.price = price
        self.count = count

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EngineFill) and self.astuple() == other.astuple()

    def __hash__(self) -> int:
        return hash(self.astuple())

    def astuple(self) -> tuple[str, int, int, int]:
        return (self.maker_order_id, self.maker_user, self.price, self.count)

    def __repr__(self) -> str:
        return f"EngineFill{self.astuple()!r}"


class EngineResult:
    """What one submit did to the book.

    seq: time priority given to the order (0 if it was rejected); fills: in match order;
    resting: what the order left on the book; cancelled_makers: the taker's own resting
    orders removed by self-trade prevention ("maker" mode); expired_makers: orders found
    past their expiration at this submit's time and removed first; stp_cancelled_taker /
    cancel_reason: why an unfilled rest did not rest ("self_trade", "immediate_or_cancel",
    "fill_or_kill", "expired"); rejected / reject_code: nothing happened (post-only cross).
    """

    __slots__ = ("seq", "fills", "resting", "cancelled_makers", "expired_makers", "stp_cancelled_taker",
                 "cancel_reason", "rejected", "reject_code")

    def __init__(self) -> None:
        self.seq = 0
        self.fills: list[EngineFill] = []
        self.resting = 0
        self.cancelled_makers: list[str] = []
        self.expired_makers: list[str] = []
        self.stp_cancelled_taker = False
        self.cancel_reason: str | None = None
        self.rejected: str | None = None
        self.reject_code: str | None = None

    def __repr__(self) -> str:
        return "EngineResult(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"
