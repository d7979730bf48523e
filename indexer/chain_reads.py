"""The chain side of a reconciliation: every market's accounts and custody, read at one finalized slot.

Each market's six accounts (market, YES mint, NO mint, vault, custody YES, custody NO) sit in
the same getMultipleAccounts call, so invariant 1 and invariant 2 (with the market's replay
window) are judged on one state. Custody (its window and collateral account) goes in the
last call; the calls are repeated until the finalized slot stood still across all of them,
so cash backing, which depends on every stream, is judged on one state too, and the slot
reported is the slot of that state.
"""
from __future__ import annotations

from dataclasses import dataclass

from solana.rpc.commitment import Commitment, Finalized
from solders.pubkey import Pubkey
from spl.token._layouts import ACCOUNT_LAYOUT, MINT_LAYOUT

from chain import pdas
from chain.client import ChainClient
from chain.idl import load_modern
from indexer.derive import MarketInfo
from indexer.reconcile import ChainMarket, Window

MAX_ACCOUNTS = 100  # getMultipleAccounts' limit
PER_MARKET = 6
WINDOW_BITS = int(next(c["value"] for c in load_modern()["constants"] if c["name"] == "REPLAY_WINDOW_BITS"))


class InconsistentRead(Exception):
    """The calls kept answering from different slots."""


@dataclass(frozen=True)
class ChainState:
    slot: int
    markets: dict[str, ChainMarket]  # by ticker (markets whose accounts exist)
    custody_collateral: int
    custody_window: Window


def _window(w) -> Window:
    return Window(int(w.highest), tuple(int(x) for x in w.bitmap), WINDOW_BITS)


def _amount(account) -> int:
    return ACCOUNT_LAYOUT.parse(bytes(account.data)).amount if account is not None else 0


async def _slot(c: ChainClient, commitment: Commitment) -> int:
    return (await c.rpc.get_slot(commitment=commitment)).value


async def read_state(c: ChainClient, markets: list[MarketInfo], *, commitment: Commitment = Finalized, attempts: int = 20) -> ChainState:
    """Every market and custody as of one `commitment` slot. The calls are bracketed by getSlot at
    that commitment and repeated until it did not move: then every answer is that slot's state
    (a response's context slot is not enough: localnet answers with its head slot at any commitment)."""
    custody = pdas.custody(c.program_id)
    custody_collateral = pdas.custody_collateral(c.program_id)
    per_call = MAX_ACCOUNTS // PER_MARKET
    groups = [markets[i : i + per_call] for i in range(0, len(markets), per_call)]
    seen: list[tuple[int, int]] = []
    for _ in range(attempts):
        before = await _slot(c, commitment)
        out: dict[str, ChainMarket] = {}
        for group in groups:
            keys = [Pubkey.from_string(a) for m in group for a in (m.market, m.yes_mint, m.no_mint, m.vault, m.custody_yes, m.custody_no)]
            resp = await c.rpc.get_multiple_accounts(keys, commitment=commitment)
            for i, m in enumerate(group):
                market, yes, no, vault, cyes, cno = resp.value[i * PER_MARKET : (i + 1) * PER_MARKET]
                if market is None or yes is None or no is None:
                    continue  # not created at this slot
                acc = c.decode_account("Market", bytes(market.data))
                out[m.ticker] = ChainMarket(
                    ticker=m.ticker, slot=before, status=type(acc.status).__name__, sets=int(acc.sets_outstanding),
                    yes_supply=MINT_LAYOUT.parse(bytes(yes.data)).supply, no_supply=MINT_LAYOUT.parse(bytes(no.data)).supply,
                    vault=_amount(vault), yes_payout=int(acc.yes_payout), custody_yes=_amount(cyes), custody_no=_amount(cno),
                    window=_window(acc.window),
                )
        cust, coll = (await c.rpc.get_multiple_accounts([custody, custody_collateral], commitment=commitment)).value
        after = await _slot(c, commitment)
        if before == after:
            window = _window(c.decode_account("Custody", bytes(cust.data)).window) if cust is not None else Window.empty(WINDOW_BITS)
            return ChainState(before, out, _amount(coll), window)
        seen.append((before, after))
    raise InconsistentRead(f"the {commitment} slot moved during every read ({seen[-3:]} ...)")


async def read_token_accounts(c: ChainClient, accounts: list[str], *, commitment: Commitment = Finalized,
                              attempts: int = 10) -> dict[str, tuple[int, tuple[str, str, int] | None]]:
    """account -> (the `commitment` slot it was read at, (owner, mint, amount) or None when it does
    not exist), 100 per call, each call bracketed by getSlot (see `read_state`); accounts whose
    call never saw the slot stand still are left out (checked next time)."""
    out: dict[str, tuple[int, tuple[str, str, int] | None]] = {}
    for i in range(0, len(accounts), MAX_ACCOUNTS):
        chunk = accounts[i : i + MAX_ACCOUNTS]
        for _ in range(attempts):
            before = await _slot(c, commitment)
            resp = await c.rpc.get_multiple_accounts([Pubkey.from_string(a) for a in chunk], commitment=commitment)
            if await _slot(c, commitment) == before:
                break
        else:
            continue
        for address, acc in zip(chunk, resp.value):
            if acc is None or len(bytes(acc.data)) < ACCOUNT_LAYOUT.sizeof():
                out[address] = (before, None)
                continue
            parsed = ACCOUNT_LAYOUT.parse(bytes(acc.data))
            out[address] = (before, (str(Pubkey(parsed.owner)), str(Pubkey(parsed.mint)), parsed.amount))
    return out
