"""Reconciliation arithmetic (pure: no I/O). DESIGN.md invariants 1, 2, cash backing and the
bridge's lag, from what the chain and the ledger said at one finalized slot.

Invariant 2 compares custody with the ledger "at the bridge's applied seq": rather than
waiting for a moment when the bridge has nothing in flight (under steady traffic there may
be none), the ledger is taken back to exactly what the chain has applied. Each market's
replay window is read in the same RPC call as its custody accounts, so it says, for that
very state, which of the stream's records are on chain; the effect on custodial positions
and cash of every record NOT on chain yet is subtracted from the ledger's current sums.
Custody must then hold at least that; anything above is unattributed excess (a plain SPL
transfer into custody, a deposit not credited yet, tokens of a settled market): shown,
not a break.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from chain.invariants import redeemable
from exchange.outbox import (
    CustodyFund,
    CustodyMergeSet,
    CustodyMintSet,
    CustodyRedeem,
    CustodyWithdraw,
    OutboxRecord,
    SettleFill,
)

ONE = 1_000_000

# Break kinds (the dashboard's contract; /work/coord/indexer-interface.md).
SUPPLY, VAULT = "supply", "vault"  # invariant 1
CUSTODY_YES, CUSTODY_NO = "custody_yes", "custody_no"  # invariant 2
CASH = "cash"  # cash backing
SEQ_MISSING, SEQ_DUPLICATE, SEQ_UNKNOWN = "seq_missing", "seq_duplicate", "seq_unknown"  # invariant 3
WALLET_LIMIT = "wallet_limit"  # invariant 5
BRIDGE_LAG = "bridge_lag"

KINDS = (SUPPLY, VAULT, CUSTODY_YES, CUSTODY_NO, CASH, SEQ_MISSING, SEQ_DUPLICATE, SEQ_UNKNOWN, WALLET_LIMIT, BRIDGE_LAG)


@dataclass(frozen=True)
class Window:
    """A stream's replay window as the program keeps it (ReplayWindow)."""

    highest: int
    bitmap: tuple[int, ...]
    bits: int  # the program's REPLAY_WINDOW_BITS (read from the IDL by the caller)

    @property
    def start(self) -> int:
        """The lowest seq the window still knows about."""
        return max(1, self.highest - self.bits + 1)

    def first_unapplied(self) -> int:
        """The lowest seq the window knows is not applied (highest + 1 when it knows of none)."""
        for seq in range(self.start, self.highest + 1):
            if not self.applied(seq):
                return seq
        return self.highest + 1

    def applied(self, seq: int) -> bool | None:
        """True/False inside the window; None below it (the window no longer knows)."""
        if seq <= 0:
            return None
        if seq > self.highest:
            return False
        offset = self.highest - seq
        if offset >= self.bits:
            return None
        return bool(self.bitmap[offset // 64] >> (offset % 64) & 1)

    @classmethod
    def empty(cls, bits: int) -> "Window":
        return cls(0, (0,) * (bits // 64), bits)


@dataclass(frozen=True)
class ChainMarket:
    """One market as read at `slot` in a single getMultipleAccounts."""

    ticker: str
    slot: int
    status: str  # Open | Halted | Closed | Determined | Finalized
    sets: int
    yes_supply: int
    no_supply: int
    vault: int
    yes_payout: int
    custody_yes: int
    custody_no: int
    window: Window


@dataclass(frozen=True)
class Effect:
    """What a record changes in the custodial ledger (and, once applied, in custody)."""

    yes: int = 0
    no: int = 0
    cash: int = 0

    def __add__(self, other: "Effect") -> "Effect":
        return Effect(self.yes + other.yes, self.no + other.no, self.cash + other.cash)


def effect(record: object) -> Effect:
    """The custodial ledger's change behind one outbox record, in base units.

    Mint/merge: custodial users paid (got) one collateral unit per set for YES + NO.
    settle_fill: a wallet buying takes tokens out of custody and its custodial counterparties
    got the notional; a wallet selling hands tokens in and they paid it (fees go to the fee
    account, not to custodial cash, so they only ever add excess). Withdrawals left the ledger
    before they leave custody; funding entered it before custody receives it.
    """
    if isinstance(record, CustodyMintSet):
        return Effect(record.amount, record.amount, -record.amount)
    if isinstance(record, CustodyMergeSet):
        return Effect(-record.amount, -record.amount, record.amount)
    if isinstance(record, CustodyRedeem):  # the ledger settled these holders; custody redeems on chain
        return Effect(-record.yes_amount, -record.no_amount, record.payout)
    if isinstance(record, SettleFill):
        cost = record.size * record.price // ONE
        sign = -1 if record.action == "buy" else 1
        tokens = sign * record.size
        return Effect(tokens if record.side == "yes" else 0, tokens if record.side == "no" else 0, -sign * cost)
    if isinstance(record, CustodyWithdraw):
        if record.asset == "yes":
            return Effect(yes=-record.amount)
        if record.asset == "no":
            return Effect(no=-record.amount)
        return Effect(cash=-record.amount)
    if isinstance(record, CustodyFund):
        return Effect(cash=record.amount)
    return Effect()  # lifecycle records and close_order move nothing custodial


def pending_effect(records: Iterable[OutboxRecord], window: Window, on_chain_below_window: set[int]) -> Effect:
    """Sum of the effects of `records` not on chain: by the window where it knows, else by
    whether a finalized event carries the seq (`on_chain_below_window`). Reverted records are
    left out: the ledger already reversed them with compensating entries."""
    total = Effect()
    for r in records:
        if r.status == "reverted":
            continue
        applied = window.applied(r.seq)
        if applied is None:
            applied = r.seq in on_chain_below_window
        if not applied:
            total = total + effect(r.record)
    return total


@dataclass(frozen=True)
class Break:
    kind: str
    ticker: str | None
    detail: str

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.kind, self.ticker)


@dataclass
class MarketRow:
    ticker: str
    yes_supply: int
    no_supply: int
    sets: int
    vault: int
    custody_yes: int
    custody_no: int
    ledger_yes: int
    ledger_no: int
    outbox_seq: int
    applied_seq: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def invariant_1(m: ChainMarket) -> list[Break]:
    """YES supply == NO supply == sets; vault == sets until finalization, then >= what remains redeemable."""
    out = []
    if m.status != "Finalized":
        if not (m.yes_supply == m.no_supply == m.sets):
            out.append(Break(SUPPLY, m.ticker, f"YES supply {m.yes_supply}, NO supply {m.no_supply}, sets outstanding {m.sets} differ"))
        if m.vault != m.sets:
            out.append(Break(VAULT, m.ticker, f"vault holds {m.vault}, sets outstanding {m.sets} need exactly that"))
    else:
        owed = redeemable(m.yes_supply, m.no_supply, m.yes_payout)
        if m.vault < owed:
            out.append(Break(VAULT, m.ticker, f"vault holds {m.vault} < {owed} still redeemable"))
    return out


def invariant_2(ticker: str, custody_yes: int, custody_no: int, ledger_yes: int, ledger_no: int) -> list[Break]:
    out = []
    for kind, side, held, owed in ((CUSTODY_YES, "YES", custody_yes, ledger_yes), (CUSTODY_NO, "NO", custody_no, ledger_no)):
        if held < owed:
            out.append(Break(kind, ticker, f"custody holds {held} {side}, custodial ledger positions are {owed} at the chain's applied seq ({owed - held} short)"))
    return out


def cash_backing(custody: int, ledger: int) -> list[Break]:
    if custody < ledger:
        return [Break(CASH, None, f"custody collateral {custody} < custodial cash {ledger} at the chain's applied seq ({ledger - custody} short)")]
    return []


def bridge_lag(stream: str, outbox_seq: int, applied_seq: int, oldest_pending_ms: int | None, now_ms: int,
               *, max_seqs: int, max_age_s: float) -> list[Break]:
    lag = outbox_seq - applied_seq
    age_s = (now_ms - oldest_pending_ms) / 1000 if oldest_pending_ms is not None else 0.0
    if lag > max_seqs or (lag > 0 and age_s > max_age_s):
        ticker = None if stream.startswith("_") else stream
        return [Break(BRIDGE_LAG, ticker, f"stream {stream}: {lag} records behind (outbox {outbox_seq}, applied {applied_seq}), oldest pending {age_s:.0f} s old")]
    return []


@dataclass
class Report:
    """The body of GET /v1/reconciliation (DESIGN.md), plus what the service keeps beside it."""

    slot: int
    markets: list[MarketRow]
    cash_custody: int
    cash_ledger: int
    breaks: list[dict] = field(default_factory=list)  # [{kind, ticker, first_slot, detail}] (open ones)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def body(self) -> dict:
        return {
            "slot": self.slot,
            "ok": self.ok,
            "markets": [m.as_dict() for m in self.markets],
            "cash": {"custody": self.cash_custody, "ledger": self.cash_ledger},
            "breaks": self.breaks,
        }
