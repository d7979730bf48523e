"""A test stand-in for the bridge: applies the exchange's outbox records to the chain with the
chain/ client, group by group, and reports back through the outbox reader, exactly as the
bridge does, but under the test's control: it can be stopped (the lag grows), skip a record
(a bridge bug: the chain never gets it), or claim a record applied that it never sent.

Only what custodial traffic produces is supported: lifecycle records, custody_fund,
custody_mint_set / custody_merge_set and custody_withdraw.
"""
from __future__ import annotations

from itertools import groupby

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import TransferCheckedParams, transfer_checked

from chain import instructions as ix
from chain.client import ChainClient
from chain.instructions import Outcome
from chain.pdas import custody_collateral
from chain.setup import ChainKeys
from chain.tokens import DECIMALS, ata, create_ata_ix, mint_to_ix
from exchange import outbox as O
from exchange.outbox_reader import OutboxReader


class Applier:
    def __init__(self, c: ChainClient, keys: ChainKeys, collateral_mint: Pubkey, reader: OutboxReader) -> None:
        self.c = c
        self.keys = keys
        self.mint = collateral_mint
        self.reader = reader
        self.float = ata(keys.bridge.pubkey(), collateral_mint)
        names = {i.name for i in c.idl.instructions}
        self.sequenced_fund = "custody_fund" in names
        self.skip: set[tuple[str, int]] = set()  # (stream, seq) never sent, yet marked applied

    def _prepare(self, rec: O.OutboxRecord) -> tuple[list[Instruction], list[Keypair]]:
        """What a record needs first, in its own transaction (the program refuses bridge transactions
        that hold any other program's instructions): the float's collateral, a destination account."""
        r, k, c = rec.record, self.keys, self.c
        if isinstance(r, O.CustodyFund):
            return [create_ata_ix(c.payer.pubkey(), k.bridge.pubkey(), self.mint), mint_to_ix(self.mint, self.float, k.admin.pubkey(), r.amount)], [k.admin]
        if isinstance(r, O.CustodyWithdraw):
            wallet = Pubkey.from_string(r.wallet)
            m = ix.market_of(c, r.ticker) if r.ticker else None
            mint = self.mint if r.asset == "cash" else (m.yes_mint if r.asset == "yes" else m.no_mint)
            return [create_ata_ix(c.payer.pubkey(), wallet, mint)], []
        return [], []

    def _build(self, rec: O.OutboxRecord) -> tuple[list[Instruction], list[Keypair]]:
        r, k, c, seq = rec.record, self.keys, self.c, rec.seq
        bridge = k.bridge.pubkey()
        if isinstance(r, O.CreateMarket):
            return [ix.create_market_ix(c, admin=k.admin.pubkey(), ticker=r.ticker, close_time=r.close_time,
                                        collateral_mint=self.mint, tick_size=r.tick_size)], [k.admin]
        if isinstance(r, O.CustodyMintSet):
            return [ix.custody_mint_set_ix(c, bridge=bridge, ticker=r.ticker, seq=seq, amount=r.amount)], [k.bridge]
        if isinstance(r, O.CustodyMergeSet):
            return [ix.custody_merge_set_ix(c, bridge=bridge, ticker=r.ticker, seq=seq, amount=r.amount)], [k.bridge]
        if isinstance(r, O.CustodyFund):
            if self.sequenced_fund:
                return [ix.custody_fund_ix(c, bridge=bridge, seq=seq, amount=r.amount, source=self.float)], [k.bridge]
            # the program before custody_fund existed: a plain transfer
            return [transfer_checked(TransferCheckedParams(
                program_id=TOKEN_PROGRAM_ID, source=self.float, mint=self.mint, dest=custody_collateral(c.program_id),
                owner=bridge, amount=r.amount, decimals=DECIMALS))], [k.bridge]
        if isinstance(r, O.CustodyWithdraw):
            wallet = Pubkey.from_string(r.wallet)
            if r.asset == "cash":
                return [ix.custody_withdraw_collateral_ix(c, bridge=bridge, seq=seq, amount=r.amount, destination=ata(wallet, self.mint))], [k.bridge]
            m = ix.market_of(c, r.ticker)
            mint = m.yes_mint if r.asset == "yes" else m.no_mint
            return [ix.custody_withdraw_ix(c, bridge=bridge, ticker=r.ticker, seq=seq, outcome=Outcome.YES if r.asset == "yes" else Outcome.NO,
                                           amount=r.amount, destination=ata(wallet, mint))], [k.bridge]
        raise TypeError(f"the test applier does not send {r.kind}")

    async def _send(self, recs: list[O.OutboxRecord]):
        prep, prep_signers, ixs, signers = [], [], [], []
        for r in recs:
            i, s = self._prepare(r)
            prep += i
            prep_signers += [k for k in s if k not in prep_signers]
            i, s = self._build(r)
            ixs += i
            signers += [k for k in s if k not in signers]
        if prep:
            await self.c.send_and_confirm(prep, prep_signers)
        return await self.c.send_and_confirm(ixs, signers) if ixs else None

    async def apply_all(self) -> int:
        """Apply every pending record of every stream (exchange stream first: cash before sets)."""
        n = 0
        streams = sorted(self.reader.streams(), key=lambda s: (s != O.EXCHANGE_STREAM, s))
        # a market must exist on chain before its stream's records: lifecycle first per stream, in seq order
        for stream in streams:
            while True:
                pending = self.reader.pending(stream, self.reader.applied_seq(stream), limit=64)
                pending = [r for r in pending if r.status == O.PENDING]
                if not pending:
                    break
                for _, group in groupby(pending, key=lambda r: r.group):
                    n += await self.apply_group(list(group))
        return n

    async def apply_group(self, group: list[O.OutboxRecord]) -> int:
        send = [r for r in group if (r.stream, r.seq) not in self.skip]
        result = await self._send(send) if send else None
        if result is not None:
            signature, slot = str(result.signature), result.slot or 0
        else:
            signature, slot = "skipped", (await self.c.rpc.get_slot()).value
        # what a buggy bridge would do with a skipped record: say it applied it
        self.reader.mark_applied(group[0].stream, [r.seq for r in group], signature, slot)
        return len(group)

    async def apply_seqs(self, stream: str, seqs: list[int]) -> None:
        """Send exactly these records (a healed skip), whatever their status."""
        result = await self._send([self.reader.get(stream, s) for s in seqs])
        self.reader.mark_applied(stream, seqs, str(result.signature), result.slot or 0)
