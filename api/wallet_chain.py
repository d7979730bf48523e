"""What the wallet endpoints read from the chain and the unsigned transactions they build.

DFlow-style: the API hands a wallet a ready-to-sign v0 transaction whose fee payer is the
wallet; the wallet signs and sends it itself, so the API never holds a wallet key. The
client here signs nothing (its keypair is a throwaway anchorpy needs to build instructions).
"""
from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass
from typing import Any

from solana.rpc.commitment import Confirmed
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from chain import instructions as ix
from chain import pdas
from chain.client import ChainClient
from chain.instructions import OrderSide, escrow_mint_for, receive_mint_for
from chain.tokens import ata, create_ata_ix

from exchange.errors import ExchangeError, InvalidRequest, NotFound

TOKEN_ACCOUNT_SIZE = 165
TX_FEE_LAMPORTS = 5_000  # one signature


class ChainUnavailable(ExchangeError):
    code = "chain_unavailable"
    status = 503


def order_side(side: str, action: str) -> OrderSide:
    return {("yes", "buy"): OrderSide.BUY_YES, ("no", "buy"): OrderSide.BUY_NO,
            ("yes", "sell"): OrderSide.SELL_YES, ("no", "sell"): OrderSide.SELL_NO}[(side, action)]


def parse_wallet(text: str, field: str = "wallet") -> Pubkey:
    """A wallet address: base58 of 32 bytes, on the ed25519 curve (a PDA cannot sign)."""
    try:
        if not isinstance(text, str) or not 32 <= len(text) <= 44:
            raise ValueError
        key = Pubkey.from_string(text)
    except ValueError:
        raise InvalidRequest(f"{field} {text!r} is not a Solana address (base58, 32 bytes)", code="invalid_wallet") from None
    if not key.is_on_curve():
        raise InvalidRequest(f"{field} {text} is a program address, not a wallet that can sign", code="invalid_wallet")
    return key


def parse_address(text: str, field: str = "order") -> Pubkey:
    try:
        if not isinstance(text, str) or not 32 <= len(text) <= 44:
            raise ValueError
        return Pubkey.from_string(text)
    except ValueError:
        raise InvalidRequest(f"{field} {text!r} is not a Solana address (base58, 32 bytes)", code="invalid_parameters") from None


def unsigned(payer: Pubkey, instructions: list[Instruction], blockhash: Hash) -> str:
    """base64 of an unsigned v0 transaction paid by `payer` (its one signature left empty)."""
    message = MessageV0.try_compile(payer, instructions, [], blockhash)
    tx = VersionedTransaction.populate(message, [Signature.default()] * message.header.num_required_signatures)
    return base64.b64encode(bytes(tx)).decode()


@dataclass(frozen=True)
class PlaceTx:
    order: Pubkey
    transaction: str
    last_valid_block_height: int
    max_fee: int
    escrow: int


class WalletChain:
    """One RPC connection of the API process for the wallet endpoints."""

    def __init__(self, rpc_url: str, program_id: str | None = None, *, timeout: float = 10.0) -> None:
        self.client = ChainClient(rpc_url, Keypair(), commitment=Confirmed,
                                  program_id=Pubkey.from_string(program_id) if program_id else None, timeout=timeout)
        self._collateral_mint: Pubkey | None = None
        self._rent: dict[int, int] = {}

    async def close(self) -> None:
        await self.client.close()

    @property
    def program_id(self) -> Pubkey:
        return self.client.program_id

    async def _rpc(self, coro) -> Any:
        try:
            return await coro
        except (OSError, asyncio.TimeoutError) as exc:
            raise ChainUnavailable(f"the chain RPC did not answer: {exc.__class__.__name__}") from None
        except Exception as exc:  # RPC errors of solana-py (httpx, JSON-RPC) surface as one refusal
            if isinstance(exc, ExchangeError):
                raise
            raise ChainUnavailable(f"the chain RPC failed: {exc}") from None

    async def collateral_mint(self) -> Pubkey:
        if self._collateral_mint is None:
            exchange = await self._rpc(self.client.fetch("Exchange", pdas.exchange(self.program_id)))
            if exchange is None:
                raise ChainUnavailable("the program's exchange is not initialized on this chain (tandem chain init)")
            self._collateral_mint = exchange.collateral_mint
        return self._collateral_mint

    async def rent(self, size: int) -> int:
        if size not in self._rent:
            self._rent[size] = (await self._rpc(self.client.rpc.get_minimum_balance_for_rent_exemption(size))).value
        return self._rent[size]

    async def market(self, ticker: str) -> Any:
        account = await self._rpc(self.client.fetch("Market", pdas.market(self.program_id, ticker)))
        if account is None:
            raise InvalidRequest(f"market {ticker} is not on chain yet (the bridge creates it)", code="market_not_on_chain")
        return account

    async def order(self, order: Pubkey) -> Any | None:
        return await self._rpc(self.client.fetch("WalletOrder", order))

    async def build_place(self, wallet: Pubkey, ticker: str, side: str, action: str, size: int, limit_price: int,
                          max_fee: int) -> PlaceTx:
        """place_order for `wallet`, paying its own fee and rent, with its token accounts
        created if missing. Refuses a wallet without the SOL or the tokens it needs."""
        m = ix.market_of(self.client, ticker)
        await self.market(ticker)
        mint = await self.collateral_mint()
        s = order_side(side, action)
        escrow_mint, receive_mint = escrow_mint_for(s, mint, m), receive_mint_for(s, mint, m)
        source, receive = ata(wallet, escrow_mint), ata(wallet, receive_mint)
        escrow = size * limit_price // 1_000_000 + max_fee if s.is_buy else size
        infos = (await self._rpc(self.client.rpc.get_multiple_accounts([wallet, source, receive]))).value
        lamports = infos[0].lamports if infos[0] is not None else 0
        missing = [a for a, info in ((source, infos[1]), (receive, infos[2])) if info is None]
        token_rent = await self.rent(TOKEN_ACCOUNT_SIZE)
        needed = (await self.rent(self.client.program.account["WalletOrder"].size) + token_rent * (1 + len(missing))
                  + TX_FEE_LAMPORTS)
        if lamports < needed:
            raise InvalidRequest(f"wallet {wallet} has {lamports} lamports; placing this order needs {needed} "
                                 "(fee, rent of the order, its escrow and token accounts)", code="insufficient_sol")
        held = 0 if infos[1] is None else await self._rpc(self.client.token_balance(source))
        if held < escrow:
            what = "collateral" if s.is_buy else f"{side.upper()} tokens"
            raise InvalidRequest(f"wallet {wallet} holds {held} base units of {what}; the order escrows {escrow}",
                                 code="insufficient_balance")
        nonce = secrets.randbits(63)
        order = pdas.wallet_order(self.program_id, m.market, wallet, nonce)
        # The receive account gets what fills pay; the source gets close_order's refund.
        instructions = [create_ata_ix(wallet, wallet, mint_) for mint_, account in ((escrow_mint, source), (receive_mint, receive))
                        if account in missing]
        instructions.append(ix.place_order_ix(self.client, owner=wallet, ticker=ticker, nonce=nonce, side=s,
                                              limit_price=limit_price, size=size, max_fee=max_fee, collateral_mint=mint,
                                              source=source))
        latest = (await self._rpc(self.client.rpc.get_latest_blockhash(commitment=Confirmed))).value
        return PlaceTx(order, unsigned(wallet, instructions, latest.blockhash), latest.last_valid_block_height, max_fee, escrow)

    async def build_cancel(self, order: Pubkey) -> str:
        """request_cancel for an open order, paid and signed by its owner."""
        account = await self.order(order)
        if account is None:
            raise NotFound(f"wallet order {order} is not open on chain", code="order_not_found")
        if type(account.status).__name__ != "Open":
            raise InvalidRequest(f"wallet order {order} already asked to cancel", code="cancel_already_requested")
        latest = (await self._rpc(self.client.rpc.get_latest_blockhash(commitment=Confirmed))).value
        instruction = ix.request_cancel_ix(self.client, owner=account.owner, order=order)
        return unsigned(account.owner, [instruction], latest.blockhash)
