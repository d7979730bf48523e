"""The outbox contract, exchange -> bridge (DESIGN.md, "The outbox contract"). Pure: no I/O.

One frozen dataclass per record kind, named after the program instruction the bridge sends
for it; every amount is an integer in base units (1_000_000 = one contract = $1). The
exchange builds these to write the outbox; the bridge gets them back, typed, from the
outbox reader (`ExchangeService.outbox_reader()`, exchange/outbox_reader.py).

Streams: a record that names a market (`ticker` not None) goes to that market's stream
(the stream IS the ticker, sequenced on chain by the market's replay window); the others
(`custody_fund`, a cash `custody_withdraw`) go to `EXCHANGE_STREAM` (custody's window).
Each stored record carries its stream, its gapless `seq` in that stream, its `group` and
`created_ms` (`OutboxRecord`).

Groups: `group` is one id per ledger transaction (journal) that wrote the records; the
bridge never splits a group across chain transactions, and applies a group's records in
seq order, which is the order the program needs:

    custody_mint_set (net sets this command created, if any)
    settle_fill ... where the wallet SELLS (custody receives tokens)
    settle_fill ... where the wallet BUYS (custody hands tokens out)
    custody_merge_set (net sets this command retired, if any)

With that order custody's YES and NO balances only rise and then fall to their final
value (the custodial positions, >= 0), so no instruction of the group can run short.

Codec: `encode(record)` -> (kind, JSON text); `decode(kind, text)` -> the record. Decoding
checks every field's type (an int is never a bool or a float) and refuses unknown or
missing fields, so a record that crossed the database is exactly the one written.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import ClassVar, Literal, Union

EXCHANGE_STREAM = "_exchange"
MAX_U64 = 2**64 - 1
# The program refuses settle_fill and custody_mint_set after a market's close_time, for good.
# A match made up to the exchange's close must still settle, so the chain's close_time is the
# exchange's close plus this grace; the exchange closes the market on chain itself
# (`close_market`, sequenced after every fill of the market) when it closes it.
CHAIN_CLOSE_GRACE_S = 3_600

Asset = Literal["yes", "no", "cash"]
Side = Literal["yes", "no"]
Action = Literal["buy", "sell"]

# Status of a stored record, as the bridge reports it back (exchange/outbox_reader.py).
PENDING, APPLIED, REVERTED = "pending", "applied", "reverted"


class OutboxError(ValueError):
    """A payload that does not decode to its kind's record."""


@dataclass(frozen=True, slots=True)
class CreateMarket:
    """`create_market(ticker, close_time, tick_size)`."""

    kind: ClassVar[str] = "create_market"
    ticker: str
    close_time: int  # unix seconds (the program's i64 close_time); see CHAIN_CLOSE_GRACE_S
    tick_size: int  # collateral base units per contract (10_000 = one cent)


@dataclass(frozen=True, slots=True)
class Halt:
    kind: ClassVar[str] = "halt"
    ticker: str


@dataclass(frozen=True, slots=True)
class Resume:
    kind: ClassVar[str] = "resume"
    ticker: str


@dataclass(frozen=True, slots=True)
class CloseMarket:
    kind: ClassVar[str] = "close_market"
    ticker: str


@dataclass(frozen=True, slots=True)
class Determine:
    """`determine(yes_payout)`: YES pays `yes_payout` per contract, NO the rest of 1_000_000.
    Written again when the resolver corrects the result before `finalize`."""

    kind: ClassVar[str] = "determine"
    ticker: str
    yes_payout: int


@dataclass(frozen=True, slots=True)
class Finalize:
    kind: ClassVar[str] = "finalize"
    ticker: str


@dataclass(frozen=True, slots=True)
class CustodyFund:
    """Operator cash credited to a custodial user (`tandem fund`): the bridge moves `amount`
    of collateral from the operator's float account into custody's collateral account (a
    plain token transfer), so custody's collateral always backs custodial cash."""

    kind: ClassVar[str] = "custody_fund"
    amount: int  # collateral base units
    user_id: int  # the custodial user it backs
    journal_id: str  # the ledger journal that credited it
    ticker: ClassVar[None] = None  # exchange stream


@dataclass(frozen=True, slots=True)
class CustodyMintSet:
    """`custody_mint_set(amount)`: custody creates `amount` sets (net over one command)."""

    kind: ClassVar[str] = "custody_mint_set"
    ticker: str
    amount: int  # contract base units
    journal_id: str


@dataclass(frozen=True, slots=True)
class CustodyMergeSet:
    """`custody_merge_set(amount)`: custody retires `amount` sets (net over one command)."""

    kind: ClassVar[str] = "custody_merge_set"
    ticker: str
    amount: int  # contract base units
    journal_id: str


@dataclass(frozen=True, slots=True)
class CustodyRedeem:
    """`custody_redeem(yes_amount, no_amount)` after `finalize`: custody burns the custodial YES
    and NO the ledger settled and receives their payout from the vault, so custody's collateral
    backs the cash the settlement credited (the ledger pays each holder its payout rounded down;
    the program pays custody the payout of the sum, rounded down once: never less)."""

    kind: ClassVar[str] = "custody_redeem"
    ticker: str
    yes_amount: int  # contract base units: the custodial YES positions settled
    no_amount: int
    payout: int  # collateral base units the program pays custody for them (math::redemption)
    journal_id: str  # the settlement's journal


@dataclass(frozen=True, slots=True)
class SettleFill:
    """`settle_fill(size, price, fee)` of one fill of a wallet order against custody.

    PRICE CONVENTION: `price` is in the order's OWN side terms, like the program's
    `limit_price`: for an order on YES (buy or sell YES) it is the YES price; for an order
    on NO it is the NO price, ONE - the YES price of the single book. So a buy-NO order that
    matched at book (YES) price 0.40 settles at price 600_000. The program checks it against
    the order's limit (buy: price <= limit, sell: price >= limit).
    `size` in contract base units, `fee` the collateral base units this fill charges the
    wallet order (within its fee budget)."""

    kind: ClassVar[str] = "settle_fill"
    ticker: str
    wallet_order: str  # "PDA:order_id": the order's address (base58) and the program's order id
    side: Side  # the order's outcome
    action: Action  # buy: the wallet receives tokens; sell: it hands them over
    size: int
    price: int
    fee: int
    trade_id: str
    fill_id: str  # the wallet order's fill (fills.fill_id); revert_settle_fill reverses it
    order_id: str  # the CLOB order of the wallet order (client_order_id = wallet_order)


@dataclass(frozen=True, slots=True)
class CloseOrder:
    """`close_order`: refund a wallet order's unfilled rest after the CLOB cancelled it."""

    kind: ClassVar[str] = "close_order"
    ticker: str
    wallet_order: str  # "PDA:order_id", as in SettleFill
    order_id: str  # its CLOB order ("" when the CLOB refused the wallet order outright)
    unfilled: int  # contract base units left unfilled


@dataclass(frozen=True, slots=True)
class CustodyWithdraw:
    """`custody_withdraw(outcome, amount)` (asset yes|no, market stream) or
    `custody_withdraw_collateral(amount)` (asset cash, `ticker` None, exchange stream):
    a custodial position or cash moved out to `wallet` (base58)."""

    kind: ClassVar[str] = "custody_withdraw"
    ticker: str | None
    asset: Asset
    amount: int  # contract base units (yes/no) or collateral base units (cash)
    wallet: str
    withdrawal_id: str  # custody_withdrawals.withdrawal_id; its status follows the bridge
    user_id: int


Record = Union[CreateMarket, Halt, Resume, CloseMarket, Determine, Finalize, CustodyFund, CustodyMintSet,
               CustodyMergeSet, CustodyRedeem, SettleFill, CloseOrder, CustodyWithdraw]

RECORD_TYPES: tuple[type, ...] = typing.get_args(Record)
KINDS: dict[str, type] = {t.kind: t for t in RECORD_TYPES}


def stream_of(record: Record) -> str:
    """The stream a record is sequenced in: its market's ticker, else the exchange stream."""
    ticker = getattr(record, "ticker", None)
    return ticker if ticker is not None else EXCHANGE_STREAM


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A record as stored: where it sits in its stream, its group, and what the bridge said."""

    stream: str
    seq: int  # gapless per stream, from 1
    group: str  # one id per ledger transaction that wrote it (see the module doc)
    created_ms: int
    record: Record
    status: str = PENDING  # pending | applied | reverted
    signature: str | None = None  # the chain transaction that applied it
    slot: int | None = None
    finalized: bool = False  # its transaction is finalized on chain

    @property
    def kind(self) -> str:
        return self.record.kind


# ---------------------------------------------------------------------------------- codec
def encode(record: Record) -> tuple[str, str]:
    """(kind, JSON) of a record; compact, keys sorted."""
    if type(record) not in KINDS.values():
        raise OutboxError(f"not an outbox record: {record!r}")
    # Fields read directly (dataclasses.asdict deep-copies; this runs on the order path).
    body = {name: getattr(record, name) for name in _hints(type(record))}
    return record.kind, json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode(kind: str, payload: str | dict) -> Record:
    """The record of `kind` from its JSON (or an already parsed dict); checks every field."""
    cls = KINDS.get(kind)
    if cls is None:
        raise OutboxError(f"unknown outbox kind {kind!r}")
    data = json.loads(payload) if isinstance(payload, str) else payload
    if not isinstance(data, dict):
        raise OutboxError(f"{kind} payload is not an object")
    hints = _hints(cls)
    if set(data) != set(hints):
        raise OutboxError(f"{kind} fields {sorted(data)} are not {sorted(hints)}")
    for name, hint in hints.items():
        if not _fits(data[name], hint):
            raise OutboxError(f"{kind}.{name} = {data[name]!r} is not {hint}")
    return cls(**data)


def stored_to_json(stored: OutboxRecord) -> dict:
    """A stored record as a JSON object (e.g. over HTTP between the API and the bridge)."""
    kind, payload = encode(stored.record)
    return {"stream": stored.stream, "seq": stored.seq, "group": stored.group, "created_ms": stored.created_ms,
            "kind": kind, "payload": json.loads(payload), "status": stored.status, "signature": stored.signature,
            "slot": stored.slot, "finalized": stored.finalized}


def stored_from_json(data: dict) -> OutboxRecord:
    """The inverse of `stored_to_json` (the payload decoded and checked like any other)."""
    try:
        return OutboxRecord(data["stream"], data["seq"], data["group"], data["created_ms"],
                            decode(data["kind"], data["payload"]), data["status"], data["signature"], data["slot"],
                            data["finalized"])
    except (KeyError, TypeError) as exc:
        raise OutboxError(f"not a stored outbox record: {exc}") from None


_HINTS: dict[type, dict[str, object]] = {}


def _hints(cls: type) -> dict[str, object]:
    hints = _HINTS.get(cls)
    if hints is None:
        every = typing.get_type_hints(cls)
        hints = _HINTS[cls] = {f.name: every[f.name] for f in dataclasses.fields(cls)}
    return hints


def _fits(value: object, hint: object) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint) and isinstance(value, str)
    if origin in (Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:  # what the program's u64 / i64 arguments can carry, never negative here
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_U64
    if hint is str:
        return isinstance(value, str)
    if hint is bool:
        return isinstance(value, bool)
    raise TypeError(f"outbox field type {hint} has no codec")
