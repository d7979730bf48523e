"""Wallet orders in the CLOB: what the bridge's relay saw on chain, as ledger and book changes.

A wallet order is escrowed on chain (`place_order`); the CLOB trades it as an order of its own
ledger account, and the bridge settles its fills against custody (`settle_fill`) and refunds
the rest (`close_order`). The ledger side, one account per wallet order:

- OrderPlaced (seen at confirmed) -> ONE transaction: the escrow comes in (movement kind
  `escrow`, EXTERNAL -> the order's account, exactly what the program escrowed: collateral
  for buys, the YES/NO tokens for sells) and the CLOB order is placed (client_order_id =
  wallet_order = the order PDA), its count limited so that its worst-case fees fit the fee
  budget the wallet signed (`max_fee`) and its hold fits the escrow. Seen twice -> once.
  An order the CLOB refuses (market closed, off the tick, ...) is refunded at once: the
  same transaction writes its `close_order` and releases the escrow.
- What a fill gives the wallet goes to the wallet on chain, so it leaves the ledger in the
  fill's own journal (movement kind `release`, the order's account -> EXTERNAL); what is
  left when the order closes leaves with its `close_order` (`release`, closed=True). The
  account therefore holds exactly the order's remaining escrow, and nothing once it closed.
- CancelRequested -> CLOB cancel (the service writes the close_order); OrderClosed by
  force_close -> CLOB cancel with no close_order (the order is gone), escrow released.

Why one account per order rather than per wallet: Kalshi netting in one account would net a
wallet's sell-YES escrow against its own buy-NO order (an ask closes YES first); alone in its
account an order can only ever spend its own escrow. The wallet's own user
(`ExchangeService.ensure_wallet`) stays its identity for deposits. Wallet accounts have
users.kind = "wallet": they are never custodial (invariant 2).

Fees: the program caps each fill's fee at Kalshi's taker formula at the fill price and the
order's total at `max_fee`. A buy fills at or below its limit, a sell at or above, and
C × P × (1 − P) peaks at P = 0.5, so the worst total fee of `count` is the formula at the
price in that range closest to 0.5 (`worst_fee`); the API asks the wallet to sign that plus
one cent (`fee_budget`: the cent the service's fee hold adds for per-order rounding).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, func, select

from exchange import errors
from exchange import outbox as OB
from exchange.fees import CENT, ONE, FeeRates, ceil_to_cent, fee_units
from exchange.holds import market_hold
from exchange.journal import Journal
from exchange.models import LedgerAccount, LedgerBalance, LedgerEntry, Order, User
from exchange.models import ledger as L
from exchange.models._base import now_ms
from exchange.schemas import OrderRequest

if TYPE_CHECKING:  # the service imports this module's hooks; no cycle at run time
    from exchange.service import ExchangeService

log = logging.getLogger(__name__)

ESCROW = "escrow"  # movement kind: what the program escrowed, into the order's account
RELEASE = "release"  # movement kind: out of the order's account to the wallet on chain
WALLET_KIND = "wallet"  # users.kind of wallet accounts (never custodial)
ORDER_USER_PREFIX = "wallet-order:"
REFUSED = "refused by the CLOB"  # the reason is logged; the order's escrow went back with its close_order

_entries = LedgerEntry.__table__
_balances = LedgerBalance.__table__
_accounts = LedgerAccount.__table__
_orders = Order.__table__
_users = User.__table__

Side = Literal["yes", "no"]
Action = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """An `OrderPlaced` event, in plain types (the relay decodes it; the API route carries it)."""

    order: str  # the order PDA, base58
    ticker: str
    owner: str  # the wallet, base58
    side: Side
    action: Action
    limit_price: int  # in the side's own terms (a NO buy's limit is a NO price)
    size: int  # contract base units
    max_fee: int  # collateral base units
    escrowed: int  # what the program escrowed: collateral (buys) or tokens (sells)
    slot: int = 0
    order_id: int = 0  # the program's id of the order (v1.1; 0 from an older program)

    @property
    def key(self) -> str:
        return wallet_order_key(self.order, self.order_id)


@dataclass(frozen=True, slots=True)
class WalletOrderState:
    """What the ledger knows of a wallet order (None fields: not seen yet)."""

    order: str
    ticker: str | None
    user_id: int | None  # the order's account
    order_id: str | None  # its CLOB order, None if the CLOB refused it
    count: int  # the size the wallet signed
    clob_count: int  # what the CLOB took (<= count)
    filled_count: int
    status: str | None  # the CLOB order's: resting | canceled | executed; None: refused/not seen
    refused: str | None = None  # why the CLOB did not take it
    key: str = ""  # PDA:order_id (wallet_order_key)


# ---------------------------------------------------------------------------------- pure
def market_rates(service: ExchangeService, ticker: str) -> FeeRates:
    """The fee rates a market charges (what the fee budget of its wallet orders must cover)."""
    return service.books.market(ticker).rates


def book_terms(side: Side, action: Action, limit_price: int) -> tuple[str, int]:
    """(book side, YES price) of an order in its side's terms (DESIGN.md, Matching)."""
    if side == "yes":
        return ("bid" if action == "buy" else "ask"), limit_price
    return ("ask" if action == "buy" else "bid"), ONE - limit_price


def side_price(side: Side, yes_price: int) -> int:
    """A YES book price in the order's own side terms (the settle_fill price)."""
    return yes_price if side == "yes" else ONE - yes_price


def fee_rate(rates: FeeRates) -> int:
    return max(rates.taker_rate_ppm, rates.maker_rate_ppm)


def worst_fee(count: int, limit_price: int, action: Action, rates: FeeRates) -> int:
    """The most the CLOB can charge an order of `count` at `limit_price` (side terms) in fees:
    per-order rounding charges ceil(sum of the fills' exact fees) (exchange/fees.py)."""
    half = ONE // 2
    worst = min(limit_price, half) if action == "buy" else max(limit_price, half)
    return ceil_to_cent(fee_units(count, worst, fee_rate(rates)))


def fee_budget(count: int, limit_price: int, action: Action, rates: FeeRates) -> int:
    """The `max_fee` the API has a wallet sign: the worst fee plus the service's rounding cent."""
    fee = worst_fee(count, limit_price, action, rates)
    return fee + CENT if fee else 0


def escrow_of(action: Action, size: int, limit_price: int, max_fee: int) -> int:
    """What the program escrows (programs/outcome_market/src/math.rs buy_escrow; sells: size)."""
    if action == "buy":
        return size * limit_price // ONE + max_fee
    return size


def clob_count(placed: PlacedOrder, rates: FeeRates, lot: int) -> int:
    """The largest whole-lot count <= size whose fees fit `max_fee` and, for buys, whose hold
    (exchange/holds.py, what the service checks) fits the escrow. Both grow with the count."""
    book_side, yes_price = book_terms(placed.side, placed.action, placed.limit_price)

    def fits(count: int) -> bool:
        fee = worst_fee(count, placed.limit_price, placed.action, rates)
        if placed.action == "sell":
            return fee <= placed.max_fee
        if fee + (CENT if fee else 0) > placed.max_fee:
            return False
        orders = [(yes_price, count)]
        hold = market_hold(0, orders if book_side == "bid" else [], orders if book_side == "ask" else [], rates)
        return hold <= placed.escrowed

    lots = placed.size // lot
    low, high = 0, lots  # fits(low * lot) holds (0 always fits)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid * lot):
            low = mid
        else:
            high = mid - 1
    return low * lot


def received_asset(ticker: str, side: Side, action: Action) -> str:
    """What a fill gives the wallet: the outcome for buys, collateral for sells."""
    if action == "sell":
        return L.CASH
    return L.yes_asset(ticker) if side == "yes" else L.no_asset(ticker)


def escrow_asset(ticker: str, side: Side, action: Action) -> str:
    if action == "buy":
        return L.CASH
    return L.yes_asset(ticker) if side == "yes" else L.no_asset(ticker)


def wallet_order_key(order: str, order_id: int) -> str:
    """What orders.wallet_order and the settle_fill / close_order records carry: the PDA and
    the program's order id (a PDA can come back after a close; the pair cannot)."""
    return f"{order}:{order_id}"


def split_wallet_order(key: str) -> tuple[str, int]:
    """(PDA, program order id) of a `wallet_order` value (the bridge builds its instructions so)."""
    pda, _, order_id = key.rpartition(":")
    if not pda or not order_id.isdigit():
        raise ValueError(f"not a wallet order key: {key!r}")
    return pda, int(order_id)


def order_user_name(key: str) -> str:
    return f"{ORDER_USER_PREFIX}{key}"


# ---------------------------------------------------------------------------------- service hook
def release(conn: Connection, journal: Journal, *, order_account: int, external: int, wallet_order: str, ticker: str,
            side: Side, action: Action, closed: bool) -> None:
    """Move out of a wallet order's account (to EXTERNAL: the wallet on chain) what its fills
    gave it, and, once `closed`, everything left. Call inside the command's transaction,
    after its movements are in `journal` and before `journal.flush` (balances are what is
    committed plus the journal's deltas)."""
    assets = [L.CASH, L.yes_asset(ticker), L.no_asset(ticker)] if closed else [received_asset(ticker, side, action)]
    held = dict(conn.execute(select(_balances.c.asset, _balances.c.amount).where(
        _balances.c.account_id == order_account, _balances.c.asset.in_(assets))).all())
    for asset in assets:
        amount = held.get(asset, 0) + journal.delta(order_account, asset)
        if amount > 0:
            journal.move(RELEASE, wallet_order.split(":", 1)[0], asset, order_account, external, amount)
        elif amount < 0:  # a fee above a sell's proceeds; the chain refuses that fill (FeeExceedsProceeds)
            log.error("wallet order %s account %d would hold %d %s", wallet_order, order_account, amount, asset)


def after_fills(service: ExchangeService, conn: Connection, cmd, taker, taker_closed: bool) -> None:
    """The service's hook at the end of an order command, before its flush: every wallet
    order the command filled releases what its fills gave it, and one that is done (filled
    out, or the taker's IOC rest) releases the rest of its escrow with its close_order
    (written here for the ones that COMPLETED; the service writes the taker's partial one)."""
    touched = {row["order_id"] for row in cmd.fill_rows}
    if taker.wallet_order:
        touched.add(taker.order_id)
    orders = [taker if oid == taker.order_id else service.books.open.get(oid) for oid in touched]
    orders = [o for o in orders if o is not None and o.wallet_order]
    if not orders:
        return
    external = service.accounts.get(conn, L.EXTERNAL)
    closing = {r.order_id for r in cmd.outbox if isinstance(r, OB.CloseOrder)}
    for order in orders:
        closed = taker_closed if order is taker else order.remaining <= 0
        if closed and order.order_id not in closing:  # filled out: the leftover escrow goes back
            cmd.outbox.append(OB.CloseOrder(order.ticker, order.wallet_order, order.order_id, max(order.remaining, 0)))
        release(conn, cmd.journal, order_account=service.holdings.user_account(conn, order.user_id), external=external,
                wallet_order=order.wallet_order, ticker=order.ticker, side=order.side, action=order.action, closed=closed)


def release_cancelled(service: ExchangeService, conn: Connection, orders: list, ts: int) -> None:
    """The service's hook in a cancel: cancelled wallet orders release what they still hold."""
    journal = Journal(str(uuid.uuid4()), ts)
    external = service.accounts.get(conn, L.EXTERNAL)
    for order in orders:
        release(conn, journal, order_account=service.holdings.user_account(conn, order.user_id), external=external,
                wallet_order=order.wallet_order, ticker=order.ticker, side=order.side, action=order.action, closed=True)
    journal.flush(conn)


# ---------------------------------------------------------------------------------- commands
def _order_user(service: ExchangeService, key: str) -> tuple[int, bool]:
    """(the order's account, whether it existed). Inside `place`'s transaction: a new account
    is part of the one transaction that also escrows and places (only this process places)."""
    name = order_user_name(key)
    user = service.get_user_by_name(name)
    if user is not None:
        return user.id, True
    return service.create_user(name, kind=WALLET_KIND).id, False


def _seen(conn: Connection, account: int, order: str) -> bool:
    return conn.execute(select(func.count()).select_from(_entries).where(
        _entries.c.account_id == account, _entries.c.kind == ESCROW, _entries.c.ref == order)).scalar_one() > 0


def place(service: ExchangeService, placed: PlacedOrder) -> WalletOrderState:
    """OrderPlaced -> escrow in + CLOB order, in one transaction; idempotent on the order PDA."""
    from exchange.service.unit_of_work import GroupAbort, GroupCommit

    if placed.side not in ("yes", "no") or placed.action not in ("buy", "sell"):
        raise errors.InvalidRequest("side must be yes|no and action buy|sell")
    for name in ("limit_price", "size", "max_fee", "escrowed"):
        value = getattr(placed, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= OB.MAX_U64:
            raise errors.InvalidRequest(f"{name} must be an unsigned 64-bit integer")
    if placed.escrowed != escrow_of(placed.action, placed.size, placed.limit_price, placed.max_fee):
        raise errors.InvalidRequest("escrowed is not what the program escrows for this order")
    state = service.books.market(placed.ticker)  # NotFound: a market the exchange does not list
    book_side, yes_price = book_terms(placed.side, placed.action, placed.limit_price)
    ts = now_ms()
    events: list = []
    result: WalletOrderState | None = None
    with service.unit_of_work.lock:
        group = service.unit_of_work.group = GroupCommit()
        try:
            with service.unit_of_work.transaction() as conn:
                group.conn = conn  # from here every write of the service joins this one transaction
                user_id, existed = _order_user(service, placed.key)
                account = service.holdings.user_account(conn, user_id)
                if existed and _seen(conn, account, placed.order):
                    return get(service, placed.order, placed.order_id)
                service.ensure_wallet(placed.owner)  # the wallet's identity (deposits, listings)
                external = service.accounts.get(conn, L.EXTERNAL)
                asset = escrow_asset(placed.ticker, placed.side, placed.action)
                j = Journal(str(uuid.uuid4()), ts)
                j.move(ESCROW, placed.order, asset, external, account, placed.escrowed)
                j.flush(conn)
                count = clob_count(placed, state.rates, state.row["lot"])
                refused: str | None = None
                if count <= 0:
                    refused = "fee budget or escrow too small for one lot"
                else:
                    request = OrderRequest(ticker=placed.ticker, book_side=book_side, price=yes_price, count=count,
                                           side=placed.side, action=placed.action, client_order_id=placed.order,
                                           wallet_order=placed.key)
                    try:
                        view, _fills, events = service._place(user_id, request)
                        result = WalletOrderState(placed.order, placed.ticker, user_id, view.order_id, 0, view.initial_count,
                                                  view.fill_count, view.status, key=placed.key)
                    except errors.ExchangeError as exc:  # refused before anything changed
                        refused = f"{exc.code}: {exc.message}"
                if refused is not None:
                    log.info("wallet order %s refused by the CLOB (%s): refunded", placed.order, refused)
                    out = Journal(str(uuid.uuid4()), ts)
                    release(conn, out, order_account=account, external=external, wallet_order=placed.key,
                            ticker=placed.ticker, side=placed.side, action=placed.action, closed=True)
                    out.flush(conn)
                    service.outbox.write(conn, [OB.CloseOrder(placed.ticker, placed.key, "", placed.size)], ts,
                                          group=out.journal_id)
                    result = WalletOrderState(placed.order, None, user_id, None, 0, 0, 0, None, refused=REFUSED,
                                              key=placed.key)
        except GroupAbort as exc:  # the book changed and then something failed: rebuild it
            for ticker, book_seq in group.touched().items():
                service.books.load_market(ticker, book_seq)
            raise exc.__cause__ or exc
        except BaseException:
            for ticker, book_seq in group.touched().items():
                service.books.load_market(ticker, book_seq)
            raise
        finally:
            service.unit_of_work.group = None
    service.events.publish(events + group.events)
    return result


def _order_user_of(service: ExchangeService, order: str, order_id: int | None):
    """The account of a wallet order (with `order_id` None: the newest one at that PDA)."""
    if order_id is not None:
        return service.get_user_by_name(order_user_name(wallet_order_key(order, order_id)))
    with service.db.reader.connect() as conn:
        name = conn.execute(select(_users.c.name).where(_users.c.name.like(order_user_name(f"{order}:%")))
                            .order_by(_users.c.id.desc()).limit(1)).scalar_one_or_none()
    return service.get_user_by_name(name) if name else None


def _clob_order(service: ExchangeService, order: str, order_id: int | None) -> dict | None:
    user = _order_user_of(service, order, order_id)
    if user is None:
        return None
    with service.db.reader.connect() as conn:
        row = conn.execute(select(_orders).where(_orders.c.user_id == user.id,
                                                 _orders.c.client_order_id == order)).mappings().first()
    return dict(row) if row else {"user_id": user.id}


def cancel_requested(service: ExchangeService, order: str, order_id: int | None = None) -> WalletOrderState:
    """CancelRequested -> CLOB cancel; the service writes the order's close_order. Idempotent:
    an order no longer resting (filled, cancelled, refused) has nothing left to cancel."""
    row = _clob_order(service, order, order_id)
    if row and row.get("status") == "resting":
        try:
            service.cancel_order(row["user_id"], row["order_id"])
        except errors.InvalidRequest:  # it stopped resting meanwhile (a fill, a market close)
            pass
    return get(service, order, order_id)


def force_closed(service: ExchangeService, order: str, order_id: int | None = None) -> WalletOrderState:
    """OrderClosed by force_close -> CLOB cancel without a close_order (the order account is
    gone: the owner already has the escrow back), and whatever the account holds released."""
    row = _clob_order(service, order, order_id)
    if row is not None and row.get("status") == "resting":
        with service.unit_of_work.lock:
            _views, events = service._cancel_many([row["order_id"]], reason="force_closed", close_wallet_orders=False)
        service.events.publish(events)
    return get(service, order, order_id)


def get(service: ExchangeService, order: str, order_id: int | None = None) -> WalletOrderState:
    """The ledger's view of a wallet order (`order_id` None: the newest at that PDA); NotFound
    if the relay has not seen it."""
    user = _order_user_of(service, order, order_id)
    if user is None:
        raise errors.NotFound(f"wallet order {order} not seen yet", code="order_not_found")
    with service.db.reader.connect() as conn:
        account = conn.execute(select(_accounts.c.id).where(_accounts.c.kind == L.USER,
                                                            _accounts.c.ref == str(user.id))).scalar_one_or_none()
        escrow = conn.execute(select(_entries.c.amount, _entries.c.asset).where(
            _entries.c.account_id == account, _entries.c.kind == ESCROW, _entries.c.ref == order)).first()
        row = conn.execute(select(_orders).where(_orders.c.user_id == user.id,
                                                 _orders.c.client_order_id == order)).mappings().first()
    if escrow is None:
        raise errors.NotFound(f"wallet order {order} not seen yet", code="order_not_found")
    key = user.name[len(ORDER_USER_PREFIX):]
    if row is None:
        return WalletOrderState(order, None, user.id, None, 0, 0, 0, None, refused=REFUSED, key=key)
    return WalletOrderState(order, row["ticker"], user.id, row["order_id"], 0, row["initial_count"],
                            row["fill_count"], row["status"], key=key)


@dataclass(frozen=True, slots=True)
class WalletFill:
    count: int
    price: int  # in the order's side terms
    fee: int
    signature: str | None  # the settle_fill's transaction, once the bridge applied it
    reverted: str | None  # why the ledger reversed it (the chain refused it for good), else None


def fills(service: ExchangeService, state: WalletOrderState) -> list[WalletFill]:
    """The order's fills, oldest first, with the signatures of their settle_fills."""
    if state.order_id is None or state.ticker is None:
        return []
    from exchange.models import Fill, OutboxEvent

    f, o = Fill.__table__, OutboxEvent.__table__
    with service.db.reader.connect() as conn:
        rows = conn.execute(select(f).where(f.c.order_id == state.order_id).order_by(f.c.id)).mappings().all()
        records = conn.execute(select(o.c.payload, o.c.signature).where(
            o.c.stream == state.ticker, o.c.kind == OB.SettleFill.kind,
            o.c.payload.like(f'%"wallet_order":"{state.key}"%'))).all()
    signatures = {}
    for payload, signature in records:
        record = OB.decode(OB.SettleFill.kind, payload)
        signatures[record.fill_id] = signature
    side = rows[0]["side"] if rows else "yes"
    return [WalletFill(r["count"], side_price(side, r["price"]), r["fee"], signatures.get(r["fill_id"]),
                       (r.get("revert_reason") or "reverted") if r.get("reverted_ms") else None) for r in rows]
