"""Transactions of the bridge: messages (legacy, or v0 with the market's address lookup
table), signing, size checks, and the chain reads the protocol needs (a stream's replay
window, which transaction applied a seq, whether a lifecycle record's effect is there).

The lookup table of a market holds the accounts every bridge instruction of that market
names (program, exchange, market, custody and its token accounts, mints, vault, token
program) and, as they appear, each wallet order's order, escrow and wallet token account:
then an instruction costs one byte per account instead of 32, and one transaction carries
many fills (see README, "Bridge").
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from solana.rpc.commitment import Confirmed, Processed
from solders.address_lookup_table_account import ID as ALT_PROGRAM_ID
from solders.address_lookup_table_account import AddressLookupTable, AddressLookupTableAccount, derive_lookup_table_address
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import VersionedTransaction

from bridge import store as S
from bridge.mapper import Mapper, Step
from chain import pdas
from exchange import outbox as O

PACKET_DATA_SIZE = 1232  # the most a Solana transaction may take on the wire
MAX_INSTRUCTION_TRACE = 64  # the runtime's max_instruction_trace_length (top level + CPIs + events)
MAX_TX_ACCOUNTS = 64  # the runtime's account lock limit per transaction
MAX_LOOKUP_ADDRESSES = 256
EXTEND_CHUNK = 20  # addresses per extend instruction (fits one legacy transaction)


class TooLarge(Exception):
    """The instructions do not fit one transaction."""


def create_lookup_table_ix(authority: Pubkey, payer: Pubkey, recent_slot: int) -> tuple[Instruction, Pubkey]:
    """The ALT program's CreateLookupTable (instruction 0: recent_slot u64, bump u8)."""
    table, bump = derive_lookup_table_address(authority, recent_slot)
    data = struct.pack("<IQB", 0, recent_slot, bump)
    return Instruction(ALT_PROGRAM_ID, data, [
        AccountMeta(table, False, True), AccountMeta(authority, True, False), AccountMeta(payer, True, True),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False)]), table


def extend_lookup_table_ix(table: Pubkey, authority: Pubkey, payer: Pubkey, addresses: list[Pubkey]) -> Instruction:
    """The ALT program's ExtendLookupTable (instruction 2: Vec<Pubkey>)."""
    data = struct.pack("<IQ", 2, len(addresses)) + b"".join(bytes(a) for a in addresses)
    return Instruction(ALT_PROGRAM_ID, data, [
        AccountMeta(table, False, True), AccountMeta(authority, True, False), AccountMeta(payer, True, True),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False)])


@dataclass
class _Table:
    address: Pubkey
    addresses: list[Pubkey]  # usable now (extended in an earlier slot)
    usable_from_slot: int = 0


class TxBuilder:
    def __init__(self, mapper: Mapper, store: S.Store, *, use_lookup_tables: bool = False) -> None:
        self.mapper = mapper
        self.c = mapper.c
        self.store = store
        self.payer: Keypair = mapper.keys.bridge
        self.use_lookup_tables = use_lookup_tables
        self._tables: dict[str, _Table] = {}
        self._static: dict[str, set[Pubkey]] = {}
        # The program's bound on a bridge transaction, if it has one (v1.1: instructions per
        # transaction, because its events were logs, cut at 10 kB); read from the IDL, never
        # retyped. v1.2 (events by emit_cpi!) has none: bytes, trace and accounts bound it.
        self.max_instructions = idl_constant("MAX_BRIDGE_TX_INSTRUCTIONS")

    # -- building ---------------------------------------------------------------------------
    def _compile(self, stream: str, steps: list[Step], blockhash: Hash) -> tuple[Message | MessageV0, dict[Pubkey, Keypair]]:
        """The message of these steps, or TooLarge: past the program's bound, the instruction
        trace, the account lock limit or 1232 bytes."""
        instructions = [i for p in steps for i in p.instructions]
        if self.max_instructions is not None and len(instructions) > self.max_instructions:
            raise TooLarge(f"{len(instructions)} instructions")
        trace = sum(p.trace for p in steps)
        if trace > MAX_INSTRUCTION_TRACE:
            raise TooLarge(f"instruction trace {trace}")
        signers: dict[Pubkey, Keypair] = {self.payer.pubkey(): self.payer}
        for p in steps:
            for kp in p.signers:
                signers.setdefault(kp.pubkey(), kp)
        table = self._tables.get(stream) if self.use_lookup_tables else None
        try:
            if table is not None and table.addresses:
                message = MessageV0.try_compile(self.payer.pubkey(), instructions,
                                                [AddressLookupTableAccount(table.address, table.addresses)], blockhash)
                accounts = len(message.account_keys) + sum(len(t.writable_indexes) + len(t.readonly_indexes)
                                                           for t in message.address_table_lookups)
            else:
                message = Message.new_with_blockhash(instructions, self.payer.pubkey(), blockhash)
                accounts = len(message.account_keys)
        except Exception as exc:  # too many accounts for the message format
            raise TooLarge(str(exc)) from exc
        if accounts > MAX_TX_ACCOUNTS:
            raise TooLarge(f"{accounts} accounts")
        size = 1 + 64 * message.header.num_required_signatures + len(bytes(message)) + (1 if isinstance(message, MessageV0) else 0)
        if size > PACKET_DATA_SIZE:
            raise TooLarge(f"{size} bytes")
        return message, signers

    def fits(self, stream: str, steps: list[Step]) -> bool:
        """Whether these steps fit one transaction (compiled against a placeholder blockhash:
        every blockhash is 32 bytes)."""
        try:
            self._compile(stream, steps, Hash.default())
            return True
        except TooLarge:
            return False

    async def build(self, stream: str, steps: list[Step], blockhash: Hash) -> VersionedTransaction:
        message, signers = self._compile(stream, steps, blockhash)
        keypairs = [signers[k] for k in message.account_keys[: message.header.num_required_signatures]]
        return VersionedTransaction(message, keypairs)

    # -- chain reads ---------------------------------------------------------------------
    async def replay_window(self, stream: str):
        """The stream's ReplayWindow on chain (processed), None if its account does not exist."""
        if stream == O.EXCHANGE_STREAM:
            account = await self.c.fetch("Custody", pdas.custody(self.c.program_id), commitment=Processed)
        else:
            account = await self.c.fetch("Market", self.mapper.market(stream).market, commitment=Processed)
        return None if account is None else account.window

    async def find_applying(self, stream: str, seqs: list[int]) -> dict[int, tuple[str, int]]:
        """For seqs the replay window shows consumed: the transaction whose event carries them."""
        address = pdas.custody(self.c.program_id) if stream == O.EXCHANGE_STREAM else self.mapper.market(stream).market
        wanted = set(seqs)
        found: dict[int, tuple[str, int]] = {}
        before = None
        for _ in range(10):  # the newest 10,000 transactions of the account
            page = (await self.c.rpc.get_signatures_for_address(address, before=before, limit=1000, commitment=Confirmed)).value
            if not page:
                break
            for entry in page:
                if entry.err is not None:
                    continue
                for event in await self.c.events_of(entry.signature, Confirmed):
                    seq = getattr(event.data, "seq", None)
                    if seq in wanted and seq not in found and getattr(event.data, "stream", address) == address:
                        found[seq] = (str(entry.signature), entry.slot)
            if wanted <= set(found):
                break
            before = page[-1].signature
        return found

    async def already_applied(self, record) -> bool:
        """Whether the chain already shows a lifecycle record's effect (e.g. a market `chain init` created)."""
        if isinstance(record, O.CreateMarket):
            return (await self.c.rpc.get_account_info(self.mapper.market(record.ticker).market, commitment=Confirmed)).value is not None
        market = await self.c.fetch("Market", self.mapper.market(record.ticker).market, commitment=Confirmed)
        if market is None:
            return False
        status = type(market.status).__name__
        if isinstance(record, O.Halt):
            return status == "Halted"
        if isinstance(record, O.Resume):
            return status == "Open"
        if isinstance(record, O.CloseMarket):
            return status in ("Closed", "Determined", "Finalized")
        if isinstance(record, O.Determine):
            return status in ("Determined", "Finalized") and market.yes_payout == record.yes_payout
        if isinstance(record, O.Finalize):
            return status == "Finalized"
        return False

    def seq_at(self, index: int, records: list[O.OutboxRecord]) -> int | None:
        """The seq whose record produced instruction `index` of a transaction built from
        `records` (the plan is deterministic: the same records give the same instructions); for
        a settle_fills, whose error does not say which fill, its lowest seq."""
        try:
            steps = self.mapper.plan(records, {r.seq: self.mapper.build(r) for r in records})
        except Exception:
            return None
        n = 0
        for step in steps:
            if index < n + len(step.instructions):
                return min(step.seqs)
            n += len(step.instructions)
        return None

    # -- lookup tables ---------------------------------------------------------------------
    async def ensure_table(self, stream: str, wanted: list[Pubkey]) -> None:
        """Create the stream's lookup table if needed and extend it with `wanted` (v0 only)."""
        if not self.use_lookup_tables or stream == O.EXCHANGE_STREAM:
            return
        from bridge.lookup import ensure_table  # kept apart: only v0 mode needs it

        self._tables[stream] = await ensure_table(self, stream, wanted, self._tables.get(stream))

    def static_keys(self, stream: str) -> set[Pubkey]:
        """Accounts kept out of the lookup table: the stream's own account (getSignaturesForAddress
        on it is how the indexer and the tests find every bridge transaction of the stream) and
        custody's token accounts (read at confirmed/finalized by reconciliation)."""
        keys = self._static.get(stream)
        if keys is None:
            m = self.mapper.market(stream)
            keys = self._static[stream] = {m.market, m.custody_yes, m.custody_no, pdas.custody(self.c.program_id),
                                           pdas.custody_collateral(self.c.program_id)}
        return keys

    def table_of(self, stream: str) -> _Table | None:
        return self._tables.get(stream)


def idl_constant(name: str) -> int | None:
    from chain.idl import load_modern

    for c in load_modern().get("constants", []):
        if c["name"] == name:
            return int(c["value"])
    return None


def signature_of(raw: bytes) -> Signature:
    return VersionedTransaction.from_bytes(raw).signatures[0]


def lookup_table_state(data: bytes) -> list[Pubkey]:
    return list(AddressLookupTable.deserialize(data).addresses)
