"""`ChainClient`: one RPC connection, the anchorpy `Program`, a fee payer, and send-and-confirm.

Everything goes through solana-py's `AsyncClient` (JSON-RPC), so the same code
talks to localnet, devnet or mainnet; only the URL differs.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from anchorpy import Program, Provider, Wallet
from anchorpy.program.common import Event
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed, Finalized, Processed
from solana.rpc.core import RPCException, TransactionExpiredBlockheightExceededError, UnconfirmedTxError
from solana.rpc.types import MemcmpOpts, TxOpts
from solders.clock import Clock
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.signature import Signature
from solders.sysvar import CLOCK
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorFieldless

from chain.events import EventDecoder
from chain.errors import ChainError, TransactionExpired, program_error
from chain.idl import load_idl

LAMPORTS_PER_SOL = 1_000_000_000


@dataclass(frozen=True)
class TxResult:
    signature: Signature
    slot: int | None
    logs: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


class _StaleBlockhash(Exception):
    """Preflight: the blockhash is unknown or expired (sign again with a fresh one)."""


class _AlreadyProcessed(Exception):
    """Preflight: this exact transaction (same instructions, signers and blockhash) already landed."""


_RANK = {Processed: 0, Confirmed: 1, Finalized: 2}


def _rank(status: Any) -> int:
    # solders' TransactionConfirmationStatus converts to 0/1/2 (processed/confirmed/finalized)
    return int(status.confirmation_status) if status.confirmation_status is not None else 0


def _is_blockhash_error(err: Any) -> bool:
    return err in (TransactionErrorFieldless.BlockhashNotFound,) or "BlockhashNotFound" in str(err)


class ChainClient:
    """The typed entry point to the program over JSON-RPC.

    `commitment` is what reads default to and what `send_and_confirm` waits for;
    pass another per call when finality matters (the bridge and indexer do).
    """

    def __init__(
        self,
        rpc_url: str,
        payer: Keypair,
        *,
        commitment: Commitment = Confirmed,
        program_id: Pubkey | None = None,
        poll_seconds: float = 0.1,
        timeout: float = 30.0,
        blockhash_ttl: float = 1.0,
    ) -> None:
        self.rpc_url = rpc_url
        self.payer = payer
        self.commitment = commitment
        self.rpc = AsyncClient(rpc_url, commitment=commitment, timeout=timeout)
        self.idl = load_idl()
        program_id = program_id or Pubkey.from_string(self.idl.metadata["address"])
        self.program = Program(self.idl, program_id, Provider(self.rpc, Wallet(payer)))
        self.program_id = self.program.program_id
        self.poll_seconds = poll_seconds
        # One blockhash serves many transactions for `blockhash_ttl` seconds (a round trip saved
        # per send); if it expired meanwhile, the expiry path below refreshes it.
        self.blockhash_ttl = blockhash_ttl
        self._blockhash: tuple[float, Any] | None = None
        self._sent: dict[Signature, float] = {}  # signatures sent recently (while their blockhash lives)
        self._events = EventDecoder(self.program)

    async def close(self) -> None:
        await self.rpc.close()

    async def __aenter__(self) -> "ChainClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sending -------------------------------------------------------------------------
    async def send_and_confirm(
        self,
        instructions: Sequence[Instruction],
        signers: Iterable[Keypair] = (),
        *,
        commitment: Commitment | None = None,
        skip_preflight: bool = False,
        attempts: int = 3,
        fetch_logs: bool = True,
    ) -> TxResult:
        """Sign with the payer (+ signers), send, and wait for `commitment`.

        A transaction whose blockhash expired before it landed can no longer land, so it is
        re-signed with a fresh blockhash and sent again, up to `attempts` times. A program
        refusal (at preflight, or on chain when preflight is skipped) raises `ChainError`
        with the program's named error and the logs.
        """
        commitment = commitment or self.commitment
        last: Exception | None = None
        ours: set[Signature] = set()  # every attempt of this call
        avoid = None
        tries = 0
        while tries < attempts:
            latest = await self.recent_blockhash(avoid=avoid)
            tx = self.sign(instructions, signers, latest.blockhash)
            sig = tx.signatures[0]
            if sig in self._sent and sig not in ours:
                # Another call already sent these very bytes (same instructions and signers, same
                # cached blockhash); Solana would treat ours as that transaction. This call means a
                # new transaction, so sign it with a newer blockhash.
                avoid = latest.blockhash
                continue
            tries += 1
            self._remember(sig)
            try:
                await self._submit(tx, skip_preflight)
            except _StaleBlockhash as exc:
                last = exc
                continue
            except _AlreadyProcessed as exc:
                if sig not in ours:  # sent by another client (or process) with the same keys
                    last, avoid = exc, latest.blockhash
                    continue
                # else: our own earlier attempt of this call landed after all; wait for it below
            ours.add(sig)
            try:
                status = (
                    await self.rpc.confirm_transaction(
                        sig, commitment, sleep_seconds=self.poll_seconds, last_valid_block_height=latest.last_valid_block_height
                    )
                ).value[0]
            except (TransactionExpiredBlockheightExceededError, UnconfirmedTxError) as exc:
                # Past its last valid height the transaction can no longer be included; but it may
                # have landed just before without having reached `commitment` yet. Re-signing it
                # then would execute it twice, so look once more before retrying.
                status = (await self.rpc.get_signature_statuses([sig], search_transaction_history=True)).value[0]
                if status is None:
                    last, self._blockhash = exc, None
                    continue
                status = (await self.rpc.confirm_transaction(sig, commitment, sleep_seconds=self.poll_seconds)).value[0]
            if status is not None and status.err is not None:
                logs = await self.logs_of(sig, commitment)
                raise program_error(self.idl, str(self.program_id), status.err, logs, signature=str(sig))
            if not fetch_logs:
                return TxResult(sig, status.slot if status else None)
            got = await self.transaction(sig, commitment)
            meta = got.transaction.meta if got is not None else None
            return TxResult(sig, status.slot if status else None, list(meta.log_messages or []) if meta else [],
                            self.transaction_events(got))
        raise TransactionExpired(f"not landed after {attempts} blockhashes: {last}")

    def _remember(self, sig: Signature) -> None:
        now = time.monotonic()
        if len(self._sent) > 10_000:
            self._sent = {s: t for s, t in self._sent.items() if now - t < 180}
        self._sent[sig] = now

    def sign(self, instructions: Sequence[Instruction], signers: Iterable[Keypair], blockhash: Any) -> VersionedTransaction:
        """A legacy-message transaction paid by the client's payer, signed by it and `signers`."""
        keypairs = [self.payer, *[s for s in signers if s.pubkey() != self.payer.pubkey()]]
        message = Message.new_with_blockhash(list(instructions), self.payer.pubkey(), blockhash)
        return VersionedTransaction(message, keypairs)

    async def _submit(self, tx: VersionedTransaction, skip_preflight: bool) -> Signature:
        try:
            return (await self.rpc.send_transaction(tx, opts=TxOpts(skip_preflight=skip_preflight, preflight_commitment=Processed))).value
        except RPCException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, SendTransactionPreflightFailureMessage):
                if _is_blockhash_error(error.data.err):
                    self._blockhash = None
                    raise _StaleBlockhash(str(error.message)) from None
                if error.data.err == TransactionErrorFieldless.AlreadyProcessed:
                    raise _AlreadyProcessed(str(error.message)) from None
                raise program_error(self.idl, str(self.program_id), error.data.err, error.data.logs) from None
            raise ChainError(f"RPC refused the transaction: {error}") from exc

    async def send(self, instructions: Sequence[Instruction], signers: Iterable[Keypair] = (), *, skip_preflight: bool = False) -> Signature:
        """Sign and send without waiting, for pipelining many transactions (confirm with `wait_for`).

        A preflight refusal raises `ChainError`; a stale cached blockhash is refreshed once.
        """
        avoid = None
        for _ in range(3):
            latest = await self.recent_blockhash(avoid=avoid)
            tx = self.sign(instructions, signers, latest.blockhash)
            if tx.signatures[0] in self._sent:  # identical to one sent before: a new blockhash makes it new
                avoid = latest.blockhash
                continue
            self._remember(tx.signatures[0])
            try:
                return await self._submit(tx, skip_preflight)
            except (_StaleBlockhash, _AlreadyProcessed):
                avoid = latest.blockhash
        raise TransactionExpired("could not sign a fresh transaction after 3 blockhashes")

    async def wait_for(self, signatures: Sequence[Signature], commitment: Commitment | None = None, timeout: float = 60.0) -> list[Any]:
        """Wait until every signature reached `commitment`; returns their statuses (check `.err`)."""
        wanted = _RANK[commitment or self.commitment]
        statuses: dict[Signature, Any] = {}
        deadline = time.monotonic() + timeout
        pending = list(signatures)
        while pending:
            for start in range(0, len(pending), 256):  # getSignatureStatuses takes at most 256
                chunk = pending[start : start + 256]
                for sig, status in zip(chunk, (await self.rpc.get_signature_statuses(chunk)).value):
                    if status is not None and (status.err is not None or _rank(status) >= wanted):
                        statuses[sig] = status
            pending = [s for s in pending if s not in statuses]
            if pending:
                if time.monotonic() > deadline:
                    raise TransactionExpired(f"{len(pending)} of {len(signatures)} transactions not at {commitment} after {timeout}s")
                await asyncio.sleep(self.poll_seconds)
        return [statuses[s] for s in signatures]

    async def recent_blockhash(self, avoid: Any = None):
        """A recent blockhash (with its last valid block height), cached for `blockhash_ttl` seconds;
        with `avoid`, one different from that hash (waiting for the next slot's if need be)."""
        now = time.monotonic()
        if self._blockhash is None or now - self._blockhash[0] > self.blockhash_ttl or self._blockhash[1].blockhash == avoid:
            for _ in range(600):
                latest = (await self.rpc.get_latest_blockhash(commitment=Confirmed)).value
                if latest.blockhash != avoid:
                    break
                await asyncio.sleep(self.poll_seconds)
            self._blockhash = (time.monotonic(), latest)
        return self._blockhash[1]

    # -- reading -------------------------------------------------------------------------
    async def transaction(self, signature: Signature, commitment: Commitment | None = None) -> Any | None:
        """getTransaction (json, v0 allowed), waiting briefly for a node that lists it but cannot serve it yet."""
        # getTransaction serves only confirmed or finalized transactions
        commitment = Confirmed if (commitment or self.commitment) == Processed else (commitment or self.commitment)
        for _ in range(50):
            resp = await self.rpc.get_transaction(signature, commitment=commitment, max_supported_transaction_version=0)
            if resp.value is not None:
                return resp.value
            await asyncio.sleep(self.poll_seconds)
        return None

    async def logs_of(self, signature: Signature, commitment: Commitment | None = None) -> list[str]:
        tx = await self.transaction(signature, commitment)
        meta = tx.transaction.meta if tx is not None else None
        return list(meta.log_messages or []) if meta else []

    def decode_events(self, logs: list[str]) -> list[Event]:
        """The program's Anchor events that `emit!` wrote in `logs`, in emission order."""
        return self._events.decode(logs)

    def transaction_events(self, tx: Any) -> list[Event]:
        """The program's events of a getTransaction answer, in order: from its inner instructions
        (emit_cpi!) and its logs (emit!), one decoder (chain/events.py). A failed transaction has none."""
        meta = tx.transaction.meta if tx is not None else None
        if meta is None or meta.err is not None:
            return []
        return self._events.transaction_events(meta, getattr(tx.transaction.transaction, "message", None))

    async def events_of(self, signature: Signature, commitment: Commitment | None = None) -> list[Event]:
        return self.transaction_events(await self.transaction(signature, commitment))

    async def fetch(self, account_type: str, address: Pubkey, commitment: Commitment | None = None) -> Any | None:
        """Decode one program account of `account_type`; None if it does not exist."""
        resp = await self.rpc.get_account_info(address, commitment=commitment or self.commitment)
        if resp.value is None:
            return None
        return self.decode_account(account_type, bytes(resp.value.data))

    def decode_account(self, account_type: str, data: bytes) -> Any:
        expected = self.program.coder.accounts.acc_name_to_discriminator[account_type]
        if data[:8] != expected:
            raise ChainError(f"account data is not a {account_type} (discriminator {data[:8].hex()})")
        return self.program.coder.accounts.decode(data)

    async def all(self, account_type: str, *, memcmp: Sequence[tuple[int, bytes]] = ()) -> list[tuple[Pubkey, Any]]:
        """Every `account_type` account of the program (getProgramAccounts), optionally filtered."""
        filters = [MemcmpOpts(offset=offset, bytes=_b58(raw)) for offset, raw in memcmp]
        records = await self.program.account[account_type].all(filters=filters)
        return [(r.public_key, r.account) for r in records]

    async def chain_time(self, commitment: Commitment | None = None) -> int:
        """The cluster's unix time (the Clock sysvar), which the program compares close times with."""
        info = (await self.rpc.get_account_info(CLOCK, commitment=commitment or Processed)).value
        return Clock.from_bytes(bytes(info.data)).unix_timestamp

    async def balance(self, address: Pubkey, commitment: Commitment | None = None) -> int:
        return (await self.rpc.get_balance(address, commitment=commitment or self.commitment)).value

    async def token_balance(self, token_account: Pubkey, commitment: Commitment | None = None) -> int:
        """Base units held by a token account (0 if it does not exist yet)."""
        info = await self.rpc.get_account_info(token_account, commitment=commitment or self.commitment)
        if info.value is None:
            return 0
        resp = await self.rpc.get_token_account_balance(token_account, commitment=commitment or self.commitment)
        return int(resp.value.amount)

    async def token_supply(self, mint: Pubkey, commitment: Commitment | None = None) -> int:
        return int((await self.rpc.get_token_supply(mint, commitment=commitment or self.commitment)).value.amount)

    async def airdrop(self, to: Pubkey, lamports: int = 10 * LAMPORTS_PER_SOL) -> None:
        sig = (await self.rpc.request_airdrop(to, lamports)).value
        await self.rpc.confirm_transaction(sig, self.commitment, sleep_seconds=self.poll_seconds)


def _b58(raw: bytes) -> str:
    from based58 import b58encode

    return b58encode(raw).decode()
