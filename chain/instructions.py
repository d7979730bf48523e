"""One typed builder (`*_ix`, returns a solders `Instruction`) and one async sender per
program instruction.

Builders are for composing transactions (the bridge puts `custody_mint_set` and
`settle_fill` in one); senders build, sign with the given keypair (plus the client's fee
payer), send and confirm, and return the `TxResult` with the decoded events. Account
names are the program's (`programs/outcome_market/src/instructions/`); anchorpy checks
that none is missing.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from anchorpy import Context
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.sysvar import CLOCK
from spl.token.constants import TOKEN_PROGRAM_ID

from chain import pdas
from chain.client import ChainClient, TxResult
from chain.pdas import MarketAddresses
from chain.tokens import ata


class Outcome(str, Enum):
    YES = "Yes"
    NO = "No"


class OrderSide(str, Enum):
    """A wallet order, in its own side's price terms (a NO buy's limit is a NO price)."""

    BUY_YES = "BuyYes"
    BUY_NO = "BuyNo"
    SELL_YES = "SellYes"
    SELL_NO = "SellNo"

    @property
    def outcome(self) -> Outcome:
        return Outcome.YES if self in (OrderSide.BUY_YES, OrderSide.SELL_YES) else Outcome.NO

    @property
    def is_buy(self) -> bool:
        return self in (OrderSide.BUY_YES, OrderSide.BUY_NO)


def _enum(c: ChainClient, type_name: str, value: Enum) -> Any:
    return getattr(c.program.type[type_name], value.value)()


def _ix(c: ChainClient, name: str, args: list[Any], accounts: dict[str, Pubkey]) -> Instruction:
    if "event_authority" in _account_names(c, name):
        # `#[event_cpi]` instructions (all of them): events are self-CPIs signed by this PDA
        accounts = {**accounts, "event_authority": pdas.event_authority(c.program_id), "program": c.program_id}
    return c.program.instruction[name](*args, ctx=Context(accounts=accounts))


def _account_names(c: ChainClient, name: str) -> set[str]:
    for ix in c.program.idl.instructions:
        if ix.name == name:
            return {a.name for a in ix.accounts}
    raise KeyError(name)


def market_of(c: ChainClient, ticker: str) -> MarketAddresses:
    return MarketAddresses.derive(c.program_id, ticker)


def account_ref_bytes(account_ref: bytes) -> list[int]:
    if len(account_ref) != 16:
        raise ValueError(f"account_ref must be 16 bytes, got {len(account_ref)}")
    return list(account_ref)


async def _send(c: ChainClient, ixs: list[Instruction], signers: list[Keypair], **kw: Any) -> TxResult:
    return await c.send_and_confirm(ixs, signers, **kw)


# -- exchange (admin) ---------------------------------------------------------------------


def initialize_ix(
    c: ChainClient,
    *,
    admin: Pubkey,
    collateral_mint: Pubkey,
    treasury: Pubkey,
    bridge_authority: Pubkey,
    resolver_authority: Pubkey,
    fee_rate_bps: int = 700,
    force_close_slots: int = 150,
    dispute_window_secs: int = 0,
) -> Instruction:
    # a dict, not the anchorpy dataclass: its encoder deep-copies dataclasses, which Pubkey refuses
    args = dict(
        bridge_authority=bridge_authority,
        resolver_authority=resolver_authority,
        fee_rate_bps=fee_rate_bps,
        force_close_slots=force_close_slots,
        dispute_window_secs=dispute_window_secs,
    )
    pid = c.program_id
    return _ix(c, "initialize", [args], {
        "admin": admin,  # must be the program's upgrade authority
        "program_data": pdas.program_data(pid),
        "exchange": pdas.exchange(pid),
        "custody": pdas.custody(pid),
        "collateral_mint": collateral_mint,
        "custody_collateral": pdas.custody_collateral(pid),
        "treasury": treasury,
        "token_program": TOKEN_PROGRAM_ID,
        "system_program": SYSTEM_PROGRAM_ID,
    })


async def initialize(c: ChainClient, admin: Keypair, **kw: Any) -> TxResult:
    return await _send(c, [initialize_ix(c, admin=admin.pubkey(), **kw)], [admin])


def update_settings_ix(
    c: ChainClient, *, admin: Pubkey, treasury: Pubkey, fee_rate_bps: int, force_close_slots: int, dispute_window_secs: int
) -> Instruction:
    args = dict(
        fee_rate_bps=fee_rate_bps, force_close_slots=force_close_slots, dispute_window_secs=dispute_window_secs
    )
    return _ix(c, "update_settings", [args], {"admin": admin, "exchange": pdas.exchange(c.program_id), "treasury": treasury})


async def update_settings(c: ChainClient, admin: Keypair, **kw: Any) -> TxResult:
    return await _send(c, [update_settings_ix(c, admin=admin.pubkey(), **kw)], [admin])


def set_authorities_ix(c: ChainClient, *, admin: Pubkey, new_admin: Pubkey, new_bridge_authority: Pubkey, new_resolver_authority: Pubkey) -> Instruction:
    return _ix(
        c, "set_authorities", [new_admin, new_bridge_authority, new_resolver_authority],
        {"admin": admin, "exchange": pdas.exchange(c.program_id)},
    )


async def set_authorities(c: ChainClient, admin: Keypair, **kw: Any) -> TxResult:
    return await _send(c, [set_authorities_ix(c, admin=admin.pubkey(), **kw)], [admin])


def accept_authorities_ix(c: ChainClient, *, pending_admin: Pubkey) -> Instruction:
    return _ix(c, "accept_authorities", [], {"pending_admin": pending_admin, "exchange": pdas.exchange(c.program_id)})


async def accept_authorities(c: ChainClient, pending_admin: Keypair) -> TxResult:
    return await _send(c, [accept_authorities_ix(c, pending_admin=pending_admin.pubkey())], [pending_admin])


def pause_ix(c: ChainClient, *, admin: Pubkey) -> Instruction:
    return _ix(c, "pause", [], {"admin": admin, "exchange": pdas.exchange(c.program_id)})


async def pause(c: ChainClient, admin: Keypair) -> TxResult:
    return await _send(c, [pause_ix(c, admin=admin.pubkey())], [admin])


def unpause_ix(c: ChainClient, *, admin: Pubkey) -> Instruction:
    return _ix(c, "unpause", [], {"admin": admin, "exchange": pdas.exchange(c.program_id)})


async def unpause(c: ChainClient, admin: Keypair) -> TxResult:
    return await _send(c, [unpause_ix(c, admin=admin.pubkey())], [admin])


# -- markets (admin, resolver) ------------------------------------------------------------


def create_market_ix(
    c: ChainClient, *, admin: Pubkey, ticker: str, close_time: int, collateral_mint: Pubkey, tick_size: int = 10_000
) -> Instruction:
    m = market_of(c, ticker)
    pid = c.program_id
    return _ix(c, "create_market", [ticker, close_time, tick_size], {
        "admin": admin,
        "exchange": pdas.exchange(pid),
        "market": m.market,
        "collateral_mint": collateral_mint,
        "yes_mint": m.yes_mint,
        "no_mint": m.no_mint,
        "vault": m.vault,
        "custody": pdas.custody(pid),
        "custody_yes": m.custody_yes,
        "custody_no": m.custody_no,
        "token_program": TOKEN_PROGRAM_ID,
        "system_program": SYSTEM_PROGRAM_ID,
    })


async def create_market(c: ChainClient, admin: Keypair, **kw: Any) -> TxResult:
    return await _send(c, [create_market_ix(c, admin=admin.pubkey(), **kw)], [admin])


def _market_admin_ix(c: ChainClient, name: str, admin: Pubkey, ticker: str) -> Instruction:
    return _ix(c, name, [], {"admin": admin, "exchange": pdas.exchange(c.program_id), "market": market_of(c, ticker).market})


def halt_ix(c: ChainClient, *, admin: Pubkey, ticker: str) -> Instruction:
    return _market_admin_ix(c, "halt", admin, ticker)


async def halt(c: ChainClient, admin: Keypair, ticker: str) -> TxResult:
    return await _send(c, [halt_ix(c, admin=admin.pubkey(), ticker=ticker)], [admin])


def resume_ix(c: ChainClient, *, admin: Pubkey, ticker: str) -> Instruction:
    return _market_admin_ix(c, "resume", admin, ticker)


async def resume(c: ChainClient, admin: Keypair, ticker: str) -> TxResult:
    return await _send(c, [resume_ix(c, admin=admin.pubkey(), ticker=ticker)], [admin])


def close_market_ix(c: ChainClient, *, closer: Pubkey, ticker: str) -> Instruction:
    return _ix(c, "close_market", [], {"closer": closer, "exchange": pdas.exchange(c.program_id), "market": market_of(c, ticker).market})


async def close_market(c: ChainClient, closer: Keypair, ticker: str) -> TxResult:
    return await _send(c, [close_market_ix(c, closer=closer.pubkey(), ticker=ticker)], [closer])


def determine_ix(c: ChainClient, *, resolver: Pubkey, ticker: str, yes_payout: int) -> Instruction:
    return _ix(c, "determine", [yes_payout], {"resolver": resolver, "exchange": pdas.exchange(c.program_id), "market": market_of(c, ticker).market})


async def determine(c: ChainClient, resolver: Keypair, ticker: str, yes_payout: int) -> TxResult:
    return await _send(c, [determine_ix(c, resolver=resolver.pubkey(), ticker=ticker, yes_payout=yes_payout)], [resolver])


def finalize_ix(c: ChainClient, *, resolver: Pubkey, ticker: str) -> Instruction:
    m = market_of(c, ticker)
    return _ix(c, "finalize", [], {"resolver": resolver, "exchange": pdas.exchange(c.program_id), "market": m.market, "vault": m.vault})


async def finalize(c: ChainClient, resolver: Keypair, ticker: str) -> TxResult:
    return await _send(c, [finalize_ix(c, resolver=resolver.pubkey(), ticker=ticker)], [resolver])


# -- sets (anyone) -------------------------------------------------------------------------


def _set_accounts(c: ChainClient, user: Pubkey, m: MarketAddresses, user_collateral: Pubkey, user_yes: Pubkey, user_no: Pubkey) -> dict:
    return {
        "user": user,
        "exchange": pdas.exchange(c.program_id),
        "market": m.market,
        "user_collateral": user_collateral,
        "vault": m.vault,
        "yes_mint": m.yes_mint,
        "no_mint": m.no_mint,
        "user_yes": user_yes,
        "user_no": user_no,
        "token_program": TOKEN_PROGRAM_ID,
    }


def mint_set_ix(
    c: ChainClient, *, user: Pubkey, ticker: str, amount: int, user_collateral: Pubkey, user_yes: Pubkey | None = None, user_no: Pubkey | None = None
) -> Instruction:
    """Collateral from `user_collateral` into the vault; `amount` YES and NO to the user's (or given) accounts."""
    m = market_of(c, ticker)
    return _ix(c, "mint_set", [amount], _set_accounts(
        c, user, m, user_collateral, user_yes or ata(user, m.yes_mint), user_no or ata(user, m.no_mint)
    ))


async def mint_set(c: ChainClient, user: Keypair, ticker: str, amount: int, *, user_collateral: Pubkey, **kw: Any) -> TxResult:
    return await _send(c, [mint_set_ix(c, user=user.pubkey(), ticker=ticker, amount=amount, user_collateral=user_collateral, **kw)], [user])


def merge_set_ix(
    c: ChainClient, *, user: Pubkey, ticker: str, amount: int, user_collateral: Pubkey, user_yes: Pubkey | None = None, user_no: Pubkey | None = None
) -> Instruction:
    m = market_of(c, ticker)
    return _ix(c, "merge_set", [amount], _set_accounts(
        c, user, m, user_collateral, user_yes or ata(user, m.yes_mint), user_no or ata(user, m.no_mint)
    ))


async def merge_set(c: ChainClient, user: Keypair, ticker: str, amount: int, *, user_collateral: Pubkey, **kw: Any) -> TxResult:
    return await _send(c, [merge_set_ix(c, user=user.pubkey(), ticker=ticker, amount=amount, user_collateral=user_collateral, **kw)], [user])


def redeem_ix(
    c: ChainClient, *, user: Pubkey, ticker: str, yes_amount: int, no_amount: int, user_collateral: Pubkey,
    user_yes: Pubkey | None = None, user_no: Pubkey | None = None,
) -> Instruction:
    m = market_of(c, ticker)
    return _ix(c, "redeem", [yes_amount, no_amount], _set_accounts(
        c, user, m, user_collateral, user_yes or ata(user, m.yes_mint), user_no or ata(user, m.no_mint)
    ))


async def redeem(c: ChainClient, user: Keypair, ticker: str, yes_amount: int, no_amount: int, *, user_collateral: Pubkey, **kw: Any) -> TxResult:
    ix = redeem_ix(c, user=user.pubkey(), ticker=ticker, yes_amount=yes_amount, no_amount=no_amount, user_collateral=user_collateral, **kw)
    return await _send(c, [ix], [user])


# -- custody (bridge authority, sequenced) --------------------------------------------------


def _custody_sets_accounts(c: ChainClient, bridge: Pubkey, m: MarketAddresses) -> dict:
    pid = c.program_id
    return {
        "bridge_authority": bridge,
        "exchange": pdas.exchange(pid),
        "market": m.market,
        "custody": pdas.custody(pid),
        "custody_collateral": pdas.custody_collateral(pid),
        "vault": m.vault,
        "yes_mint": m.yes_mint,
        "no_mint": m.no_mint,
        "custody_yes": m.custody_yes,
        "custody_no": m.custody_no,
        "token_program": TOKEN_PROGRAM_ID,
    }


def custody_mint_set_ix(c: ChainClient, *, bridge: Pubkey, ticker: str, seq: int, amount: int) -> Instruction:
    return _ix(c, "custody_mint_set", [seq, amount], _custody_sets_accounts(c, bridge, market_of(c, ticker)))


async def custody_mint_set(c: ChainClient, bridge: Keypair, ticker: str, seq: int, amount: int) -> TxResult:
    return await _send(c, [custody_mint_set_ix(c, bridge=bridge.pubkey(), ticker=ticker, seq=seq, amount=amount)], [bridge])


def custody_mint_sets_ix(c: ChainClient, *, bridge: Pubkey, ticker: str, records: list[tuple[int, int]]) -> Instruction:
    """Several custody mints of one market, `records` as (seq, amount) each: every record is
    checked, sequenced and evented exactly as one `custody_mint_set`; all or nothing."""
    args = [dict(seq=seq, amount=amount) for seq, amount in records]
    return _ix(c, "custody_mint_sets", [args], _custody_sets_accounts(c, bridge, market_of(c, ticker)))


def custody_merge_sets_ix(c: ChainClient, *, bridge: Pubkey, ticker: str, records: list[tuple[int, int]]) -> Instruction:
    """Several custody merges of one market, as `custody_mint_sets_ix`."""
    args = [dict(seq=seq, amount=amount) for seq, amount in records]
    return _ix(c, "custody_merge_sets", [args], _custody_sets_accounts(c, bridge, market_of(c, ticker)))


def custody_merge_set_ix(c: ChainClient, *, bridge: Pubkey, ticker: str, seq: int, amount: int) -> Instruction:
    return _ix(c, "custody_merge_set", [seq, amount], _custody_sets_accounts(c, bridge, market_of(c, ticker)))


async def custody_merge_set(c: ChainClient, bridge: Keypair, ticker: str, seq: int, amount: int) -> TxResult:
    return await _send(c, [custody_merge_set_ix(c, bridge=bridge.pubkey(), ticker=ticker, seq=seq, amount=amount)], [bridge])


def custody_redeem_ix(c: ChainClient, *, bridge: Pubkey, ticker: str, seq: int, yes_amount: int, no_amount: int) -> Instruction:
    return _ix(c, "custody_redeem", [seq, yes_amount, no_amount], _custody_sets_accounts(c, bridge, market_of(c, ticker)))


async def custody_redeem(c: ChainClient, bridge: Keypair, ticker: str, seq: int, yes_amount: int, no_amount: int) -> TxResult:
    ix = custody_redeem_ix(c, bridge=bridge.pubkey(), ticker=ticker, seq=seq, yes_amount=yes_amount, no_amount=no_amount)
    return await _send(c, [ix], [bridge])


def custody_withdraw_ix(
    c: ChainClient, *, bridge: Pubkey, ticker: str, seq: int, outcome: Outcome, amount: int, destination: Pubkey
) -> Instruction:
    m = market_of(c, ticker)
    pid = c.program_id
    return _ix(c, "custody_withdraw", [seq, _enum(c, "Outcome", outcome), amount], {
        "bridge_authority": bridge,
        "exchange": pdas.exchange(pid),
        "market": m.market,
        "custody": pdas.custody(pid),
        "source": m.custody_yes if outcome == Outcome.YES else m.custody_no,
        "destination": destination,
        "token_program": TOKEN_PROGRAM_ID,
    })


async def custody_withdraw(c: ChainClient, bridge: Keypair, ticker: str, seq: int, outcome: Outcome, amount: int, destination: Pubkey) -> TxResult:
    ix = custody_withdraw_ix(c, bridge=bridge.pubkey(), ticker=ticker, seq=seq, outcome=outcome, amount=amount, destination=destination)
    return await _send(c, [ix], [bridge])


def _collateral_out_accounts(c: ChainClient, bridge: Pubkey, destination: Pubkey) -> dict:
    pid = c.program_id
    return {
        "bridge_authority": bridge,
        "exchange": pdas.exchange(pid),
        "custody": pdas.custody(pid),
        "custody_collateral": pdas.custody_collateral(pid),
        "destination": destination,
        "token_program": TOKEN_PROGRAM_ID,
    }


def custody_withdraw_collateral_ix(c: ChainClient, *, bridge: Pubkey, seq: int, amount: int, destination: Pubkey) -> Instruction:
    """Collateral out of custody to a wallet's collateral account (the exchange-wide stream)."""
    return _ix(c, "custody_withdraw_collateral", [seq, amount], _collateral_out_accounts(c, bridge, destination))


async def custody_withdraw_collateral(c: ChainClient, bridge: Keypair, seq: int, amount: int, destination: Pubkey) -> TxResult:
    ix = custody_withdraw_collateral_ix(c, bridge=bridge.pubkey(), seq=seq, amount=amount, destination=destination)
    return await _send(c, [ix], [bridge])


def custody_sweep_ix(c: ChainClient, *, bridge: Pubkey, seq: int, amount: int, treasury: Pubkey) -> Instruction:
    return _ix(c, "custody_sweep", [seq, amount], _collateral_out_accounts(c, bridge, treasury))


async def custody_sweep(c: ChainClient, bridge: Keypair, seq: int, amount: int, treasury: Pubkey) -> TxResult:
    return await _send(c, [custody_sweep_ix(c, bridge=bridge.pubkey(), seq=seq, amount=amount, treasury=treasury)], [bridge])


def custody_fund_ix(c: ChainClient, *, bridge: Pubkey, seq: int, amount: int, source: Pubkey) -> Instruction:
    """Operator cash into custody (the outbox's `custody_fund`, exchange-wide stream): `amount`
    collateral from `source`, a collateral account whose owner is the bridge authority."""
    pid = c.program_id
    return _ix(c, "custody_fund", [seq, amount], {
        "bridge_authority": bridge,
        "exchange": pdas.exchange(pid),
        "custody": pdas.custody(pid),
        "source": source,
        "custody_collateral": pdas.custody_collateral(pid),
        "token_program": TOKEN_PROGRAM_ID,
    })


async def custody_fund(c: ChainClient, bridge: Keypair, seq: int, amount: int, source: Pubkey) -> TxResult:
    return await _send(c, [custody_fund_ix(c, bridge=bridge.pubkey(), seq=seq, amount=amount, source=source)], [bridge])


# -- deposits into custody (anyone) -----------------------------------------------------------


def deposit_collateral_ix(c: ChainClient, *, depositor: Pubkey, amount: int, account_ref: bytes, source: Pubkey) -> Instruction:
    pid = c.program_id
    return _ix(c, "deposit_collateral", [amount, account_ref_bytes(account_ref)], {
        "depositor": depositor,
        "exchange": pdas.exchange(pid),
        "custody": pdas.custody(pid),
        "source": source,
        "custody_collateral": pdas.custody_collateral(pid),
        "token_program": TOKEN_PROGRAM_ID,
    })


async def deposit_collateral(c: ChainClient, depositor: Keypair, amount: int, account_ref: bytes, source: Pubkey) -> TxResult:
    ix = deposit_collateral_ix(c, depositor=depositor.pubkey(), amount=amount, account_ref=account_ref, source=source)
    return await _send(c, [ix], [depositor])


def deposit_tokens_ix(
    c: ChainClient, *, depositor: Pubkey, ticker: str, outcome: Outcome, amount: int, account_ref: bytes, source: Pubkey | None = None
) -> Instruction:
    m = market_of(c, ticker)
    mint = m.yes_mint if outcome == Outcome.YES else m.no_mint
    return _ix(c, "deposit_tokens", [_enum(c, "Outcome", outcome), amount, account_ref_bytes(account_ref)], {
        "depositor": depositor,
        "exchange": pdas.exchange(c.program_id),
        "market": m.market,
        "source": source or ata(depositor, mint),
        "destination": m.custody_yes if outcome == Outcome.YES else m.custody_no,
        "token_program": TOKEN_PROGRAM_ID,
    })


async def deposit_tokens(c: ChainClient, depositor: Keypair, ticker: str, outcome: Outcome, amount: int, account_ref: bytes, **kw: Any) -> TxResult:
    ix = deposit_tokens_ix(c, depositor=depositor.pubkey(), ticker=ticker, outcome=outcome, amount=amount, account_ref=account_ref, **kw)
    return await _send(c, [ix], [depositor])


# -- wallet orders ------------------------------------------------------------------------------


def escrow_mint_for(side: OrderSide, collateral_mint: Pubkey, m: MarketAddresses) -> Pubkey:
    """What the order escrows: collateral for buys, the outcome token it sells for sells."""
    if side.is_buy:
        return collateral_mint
    return m.yes_mint if side.outcome == Outcome.YES else m.no_mint


def receive_mint_for(side: OrderSide, collateral_mint: Pubkey, m: MarketAddresses) -> Pubkey:
    """What a fill pays the wallet: the outcome token for buys, collateral for sells."""
    if not side.is_buy:
        return collateral_mint
    return m.yes_mint if side.outcome == Outcome.YES else m.no_mint


def place_order_ix(
    c: ChainClient,
    *,
    owner: Pubkey,
    ticker: str,
    nonce: int,
    side: OrderSide,
    limit_price: int,
    size: int,
    max_fee: int,
    collateral_mint: Pubkey,
    source: Pubkey | None = None,
) -> Instruction:
    m = market_of(c, ticker)
    order = pdas.wallet_order(c.program_id, m.market, owner, nonce)
    escrow_mint = escrow_mint_for(side, collateral_mint, m)
    return _ix(c, "place_order", [nonce, _enum(c, "OrderSide", side), limit_price, size, max_fee], {
        "owner": owner,
        "exchange": pdas.exchange(c.program_id),
        "market": m.market,
        "order": order,
        "escrow_mint": escrow_mint,
        "escrow": pdas.escrow(c.program_id, order),
        "source": source or ata(owner, escrow_mint),
        "token_program": TOKEN_PROGRAM_ID,
        "system_program": SYSTEM_PROGRAM_ID,
    })


async def place_order(c: ChainClient, owner: Keypair, ticker: str, **kw: Any) -> TxResult:
    return await _send(c, [place_order_ix(c, owner=owner.pubkey(), ticker=ticker, **kw)], [owner])


def request_cancel_ix(c: ChainClient, *, owner: Pubkey, order: Pubkey) -> Instruction:
    return _ix(c, "request_cancel", [], {"owner": owner, "exchange": pdas.exchange(c.program_id), "order": order})


async def request_cancel(c: ChainClient, owner: Keypair, order: Pubkey) -> TxResult:
    return await _send(c, [request_cancel_ix(c, owner=owner.pubkey(), order=order)], [owner])


def force_close_ix(c: ChainClient, *, owner: Pubkey, order: Pubkey, refund_account: Pubkey) -> Instruction:
    return _ix(c, "force_close", [], {
        "owner": owner,
        "exchange": pdas.exchange(c.program_id),
        "order": order,
        "escrow": pdas.escrow(c.program_id, order),
        "refund_account": refund_account,
        "clock": CLOCK,
        "token_program": TOKEN_PROGRAM_ID,
    })


async def force_close(c: ChainClient, owner: Keypair, order: Pubkey, refund_account: Pubkey) -> TxResult:
    return await _send(c, [force_close_ix(c, owner=owner.pubkey(), order=order, refund_account=refund_account)], [owner])


def settle_fill_ix(
    c: ChainClient,
    *,
    bridge: Pubkey,
    ticker: str,
    order: Pubkey,
    order_id: int,
    side: OrderSide,
    seq: int,
    size: int,
    price: int,
    fee: int,
    wallet_account: Pubkey,
) -> Instruction:
    """A fill of a wallet order against custody; `wallet_account` receives what the order asked for.

    `order_id` is the order's program-assigned id (`OrderPlaced.order_id`, `WalletOrder.order_id`):
    the program refuses the fill (`OrderIdMismatch`) if another order now lives at `order`.
    """
    return _ix(c, "settle_fill", [seq, order_id, size, price, fee], _settle_accounts(c, bridge, ticker, order, side, wallet_account))


def _settle_accounts(c: ChainClient, bridge: Pubkey, ticker: str, order: Pubkey, side: OrderSide, wallet_account: Pubkey) -> dict:
    """settle_fill's and settle_fills' accounts (the same)."""
    m = market_of(c, ticker)
    pid = c.program_id
    return {
        "bridge_authority": bridge,
        "exchange": pdas.exchange(pid),
        "market": m.market,
        "custody": pdas.custody(pid),
        "order": order,
        "escrow": pdas.escrow(pid, order),
        "custody_collateral": pdas.custody_collateral(pid),
        "custody_outcome": m.custody_yes if side.outcome == Outcome.YES else m.custody_no,
        "wallet_account": wallet_account,
        "token_program": TOKEN_PROGRAM_ID,
    }


def settle_fills_ix(
    c: ChainClient,
    *,
    bridge: Pubkey,
    ticker: str,
    order: Pubkey,
    order_id: int,
    side: OrderSide,
    fills: list[tuple[int, int, int, int]],
    wallet_account: Pubkey,
) -> Instruction:
    """Several fills of one wallet order, `fills` as (seq, size, price, fee) each: every fill is
    checked, sequenced and evented exactly as one `settle_fill`; all or nothing."""
    args = [dict(seq=seq, size=size, price=price, fee=fee) for seq, size, price, fee in fills]
    return _ix(c, "settle_fills", [order_id, args], _settle_accounts(c, bridge, ticker, order, side, wallet_account))


async def settle_fills(c: ChainClient, bridge: Keypair, **kw: Any) -> TxResult:
    return await _send(c, [settle_fills_ix(c, bridge=bridge.pubkey(), **kw)], [bridge])


async def settle_fill(c: ChainClient, bridge: Keypair, **kw: Any) -> TxResult:
    return await _send(c, [settle_fill_ix(c, bridge=bridge.pubkey(), **kw)], [bridge])


def close_order_ix(
    c: ChainClient, *, bridge: Pubkey, ticker: str, order: Pubkey, order_id: int, owner: Pubkey, seq: int, refund_account: Pubkey
) -> Instruction:
    """Refund and close the order `order_id` at `order` (refused with `OrderIdMismatch` if another order lives there)."""
    m = market_of(c, ticker)
    return _ix(c, "close_order", [seq, order_id], {
        "bridge_authority": bridge,
        "exchange": pdas.exchange(c.program_id),
        "market": m.market,
        "order": order,
        "owner": owner,
        "escrow": pdas.escrow(c.program_id, order),
        "refund_account": refund_account,
        "token_program": TOKEN_PROGRAM_ID,
    })


async def close_order(c: ChainClient, bridge: Keypair, **kw: Any) -> TxResult:
    return await _send(c, [close_order_ix(c, bridge=bridge.pubkey(), **kw)], [bridge])


# Every program instruction and its builder; a test checks this covers the IDL exactly.
BUILDERS = {
    name: globals()[f"{name}_ix"]
    for name in [
        "initialize", "update_settings", "set_authorities", "accept_authorities", "pause", "unpause",
        "create_market", "halt", "resume", "close_market", "determine", "finalize",
        "mint_set", "merge_set", "redeem",
        "custody_mint_set", "custody_merge_set", "custody_mint_sets", "custody_merge_sets", "custody_redeem", "custody_withdraw",
        "custody_withdraw_collateral", "custody_sweep", "custody_fund", "deposit_collateral", "deposit_tokens",
        "place_order", "request_cancel", "force_close", "settle_fill", "settle_fills", "close_order",
    ]
}
