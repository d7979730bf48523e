"""Outbox records -> program instructions (DESIGN.md, "What the bridge mirrors").

One record becomes one program instruction, sometimes with a helper instruction in front
(the withdrawal's destination token account, created idempotently; collateral minted to
the bridge's float on localnet). What an instruction needs beyond the record (a wallet
order's owner, for its token accounts) is read from the chain once and cached: an order's
owner and side never change.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from solana.rpc.commitment import Confirmed, Processed
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import TransferCheckedParams, transfer_checked

from chain import instructions as ix
from chain.client import ChainClient
from chain.instructions import OrderSide, Outcome
from chain.pdas import MarketAddresses, custody_collateral
from chain.setup import ChainKeys
from chain.tokens import DECIMALS, ata, create_ata_ix, mint_to_ix
from exchange import outbox as O

# Kinds the program sequences in the stream's replay window (SequenceReplayed proves them applied).
SEQUENCED = {"custody_mint_set", "custody_merge_set", "custody_redeem", "settle_fill", "close_order", "custody_withdraw",
             "custody_fund"}
# Kinds sent alone, after everything before them in the stream has landed and before anything
# after them is sent: the market must exist before its first fill, and the lifecycle's order matters.
BARRIERS = {"create_market", "halt", "resume", "close_market", "determine", "finalize"}

FLOAT_TOP_UP = 1_000_000 * 1_000_000  # localnet: $1M of collateral minted to the float when it runs short

_SIDES = {("yes", "buy"): OrderSide.BUY_YES, ("no", "buy"): OrderSide.BUY_NO,
          ("yes", "sell"): OrderSide.SELL_YES, ("no", "sell"): OrderSide.SELL_NO}


@dataclass(frozen=True)
class WalletOrderInfo:
    owner: Pubkey
    side: OrderSide
    order_id: int | None  # the program's id of the order (hardened program), None before it existed


# What each record's instruction costs of a transaction's instruction trace (the runtime's
# max_instruction_trace_length: top-level instructions, their CPIs and emit_cpi! events all
# count): the program's figures (events-cpi-interface.md, sections 5 and 8). A batched
# instruction of N records costs BATCH_TRACE + N.
TRACE_COST = {"custody_mint_set": 5, "custody_merge_set": 5, "custody_redeem": 5, "custody_withdraw": 3, "custody_fund": 3, "settle_fill": 4,
              "close_order": 4}
BATCH_TRACE = 3  # settle_fills, custody_mint_sets, custody_merge_sets of N records: 3 + N
LIFECYCLE_TRACE = 16  # sent alone anyway
# Order inside one transaction of records from several groups: a custody_mint_set before the
# fills that may hand its tokens out, merges after the fills that bring custody the tokens they
# retire, a close_order after every fill (its refund is what the fills left). Within one group
# the outbox already writes this order; minting earlier and merging later is always safe.
RANK = {"custody_mint_set": 0, "custody_merge_set": 2, "close_order": 3}


@dataclass
class Built:
    """The instructions of one record, and who must sign them besides the fee payer."""

    instructions: list[Instruction]
    signers: list[Keypair]
    trace: int = LIFECYCLE_TRACE  # its cost of the transaction's instruction trace


@dataclass
class Step:
    """Instructions of a transaction and the seqs they apply (several: one settle_fills)."""

    instructions: list[Instruction]
    seqs: list[int]
    signers: list[Keypair]
    trace: int


class Mapper:
    def __init__(self, chain: ChainClient, keys: ChainKeys, collateral_mint: Pubkey, *, mint_float: bool) -> None:
        self.c = chain
        self.keys = keys
        self.collateral_mint = collateral_mint
        # localnet: the admin is the collateral mint's authority, so a custody_fund mints what
        # the float lacks in the same transaction (atomic with the transfer)
        self.mint_float = mint_float
        self.bridge = keys.bridge.pubkey()
        self.float_account = ata(self.bridge, collateral_mint)
        self._orders: dict[str, WalletOrderInfo | None] = {}
        self._accounts_seen: set[Pubkey] = set()
        self._markets: dict[str, MarketAddresses] = {}
        args = {i.name: [a.name for a in i.args] for i in chain.idl.instructions}
        # The hardened program (v1.1) binds settle_fill/close_order to the order's id and
        # sequences custody_fund; the IDL says which program this is.
        self.order_ids = "order_id" in args.get("settle_fill", [])
        self.sequenced_fund = "custody_fund" in args
        # v1.2: settle_fills (several fills of one order in one instruction) and events by emit_cpi!
        self.batched_fills = "settle_fills" in args
        # a227d7c: custody_mint_sets / custody_merge_sets (several custody set records of a market)
        self.batched_sets = "custody_mint_sets" in args and "custody_merge_sets" in args
        self._templates: dict[tuple[str, str], Instruction] = {}
        # instructions whose arguments are all u64: discriminator ++ little-endian u64s
        self._packers = {}
        self._arg_names = {i.name: [a.name for a in i.args] for i in chain.idl.instructions}
        for i in chain.idl.instructions:
            if i.name in ("custody_mint_set", "custody_merge_set", "custody_fund", "settle_fill") and all(
                    str(a.ty) in ("u64", "IdlTypeSimple.U64") for a in i.args):
                self._packers[i.name] = _packer(chain.program.coder.instruction.sighashes[i.name], [a.name for a in i.args])
        self.sequenced = SEQUENCED if self.sequenced_fund else SEQUENCED - {"custody_fund"}

    def market(self, ticker: str) -> MarketAddresses:
        m = self._markets.get(ticker)
        if m is None:
            m = self._markets[ticker] = MarketAddresses.derive(self.c.program_id, ticker)
        return m

    # -- chain facts the instructions need ------------------------------------------------
    async def prepare(self, records: list[O.OutboxRecord]) -> None:
        """Read (once) the wallet orders these records name."""
        wanted = sorted({r.record.wallet_order for r in records if isinstance(r.record, (O.SettleFill, O.CloseOrder))} - set(self._orders))
        for start in range(0, len(wanted), 100):
            chunk = wanted[start:start + 100]
            infos = await self._read([split_key(k)[0] for k in chunk])
            for key, info in zip(chunk, infos):
                if info is not None and (info.order_id is None or info.order_id == split_key(key)[1]):
                    self._orders[key] = info  # an order's owner and side never change: cached for good

    async def _read(self, pdas_: list[str]) -> list[WalletOrderInfo | None]:
        infos = (await self.c.rpc.get_multiple_accounts([Pubkey.from_string(k) for k in pdas_], commitment=Confirmed)).value
        out: list[WalletOrderInfo | None] = []
        for info in infos:
            if info is None:
                out.append(None)
                continue
            order = self.c.decode_account("WalletOrder", bytes(info.data))
            out.append(WalletOrderInfo(order.owner, OrderSide(type(order.side).__name__), getattr(order, "order_id", None)))
        return out

    def order(self, wallet_order: str) -> WalletOrderInfo | None:
        return self._orders.get(wallet_order)

    async def order_exists(self, wallet_order: str) -> bool:
        """The order this key names is on chain (not closed, not replaced by a successor at its PDA)."""
        pda, order_id = split_key(wallet_order)
        info = (await self._read([pda]))[0]
        return info is not None and (info.order_id is None or info.order_id == order_id)

    async def setup(self, records: list[O.OutboxRecord]) -> None:
        """What these records' transaction needs first, in transactions of its own (the program
        allows nothing but its own and ComputeBudget instructions beside a bridge instruction):
        the withdrawals' destination token accounts (created idempotently), and on localnet
        collateral minted to the float for custody_fund. Both are safe to repeat."""
        wanted: dict[Pubkey, tuple[Pubkey, Pubkey]] = {}
        for rec in records:
            r = rec.record
            if isinstance(r, O.CustodyWithdraw):
                wallet = Pubkey.from_string(r.wallet)
                mint = self.collateral_mint if r.asset == "cash" else (
                    self.market(r.ticker).yes_mint if r.asset == "yes" else self.market(r.ticker).no_mint)
                address = ata(wallet, mint)
                if address not in self._accounts_seen:
                    wanted[address] = (wallet, mint)
        if wanted:
            keys = list(wanted)
            infos = (await self.c.rpc.get_multiple_accounts(keys, commitment=Processed)).value
            missing = [k for k, info in zip(keys, infos) if info is None]
            for start in range(0, len(missing), 4):
                chunk = missing[start:start + 4]
                await self.c.send_and_confirm([create_ata_ix(self.bridge, *wanted[k]) for k in chunk], commitment=Confirmed,
                                              fetch_logs=False)
            self._accounts_seen.update(keys)
        funding = sum(rec.record.amount for rec in records if isinstance(rec.record, O.CustodyFund))
        if funding and self.mint_float:
            info = (await self.c.rpc.get_token_account_balance(self.float_account, commitment=Processed)).value
            if int(info.amount) < funding:
                # localnet: the admin is the mint authority; mint plenty at once (a float is what an operator keeps)
                await self.c.send_and_confirm([mint_to_ix(self.collateral_mint, self.float_account, self.keys.admin.pubkey(),
                                                          max(funding, FLOAT_TOP_UP))], [self.keys.admin],
                                              commitment=Confirmed, fetch_logs=False)

    # -- one record -----------------------------------------------------------------------
    def build(self, rec: O.OutboxRecord) -> Built:
        built = self._from_template(rec)
        if built is None:
            built = self._build(rec)
            self._remember_template(rec, built)
        if rec.kind in TRACE_COST:
            built.trace = TRACE_COST[rec.kind] if rec.kind != "custody_fund" or self.sequenced_fund else 1
        return built

    # The frequent records' instructions differ from one another only in their data (u64
    # arguments) as long as they name the same accounts (same market; same wallet order): the
    # first is built in full (anchorpy, PDA derivations), the next ones reuse its accounts with
    # their own data packed directly. Same bytes as a full build (tests/bridge/test_packing.py).
    def _template_key(self, rec: O.OutboxRecord) -> tuple[str, str, dict[str, int]] | None:
        r = rec.record
        if isinstance(r, (O.CustodyMintSet, O.CustodyMergeSet)):
            return rec.kind, r.ticker, {"seq": rec.seq, "amount": r.amount}
        if isinstance(r, O.CustodyFund) and self.sequenced_fund:
            return "custody_fund", "", {"seq": rec.seq, "amount": r.amount}
        if isinstance(r, O.SettleFill) and self.order_ids:
            return "settle_fill", r.wallet_order, {"seq": rec.seq, "order_id": split_key(r.wallet_order)[1], "size": r.size,
                                                   "price": r.price, "fee": r.fee}
        return None

    def _from_template(self, rec: O.OutboxRecord) -> Built | None:
        key = self._template_key(rec)
        if key is None:
            return None
        name, scope, values = key
        template = self._templates.get((name, scope))
        if template is None:
            return None
        return Built([Instruction(template.program_id, self._packers[name](values), list(template.accounts))], [])

    def _remember_template(self, rec: O.OutboxRecord, built: Built) -> None:
        key = self._template_key(rec)
        if key is None or len(built.instructions) != 1 or built.signers or key[0] not in self._packers \
                or set(key[2]) != set(self._arg_names[key[0]]):
            return
        self._templates[(key[0], key[1])] = built.instructions[0]

    def plan(self, records: list[O.OutboxRecord], built: dict[int, Built]) -> list[Step]:
        """The instructions of one transaction carrying `records` (whole groups, seq order), in
        the order the program can apply them (RANK). Where the program has the batched forms,
        several fills of one wallet order become one settle_fills and several custody mints
        (merges) of the market one custody_mint_sets (custody_merge_sets), records in seq order
        (each is checked against what the previous left; all or nothing)."""
        steps: list[Step | None] = []
        batches: dict[tuple[str, str], list[O.OutboxRecord]] = {}
        slots: list[tuple[int, tuple[str, str]]] = []  # placeholders of batched steps, in order
        for r in sorted(records, key=lambda r: (RANK.get(r.kind, 1), r.seq)):
            key = self._batch_key(r)
            if key is not None:
                if key not in batches:
                    batches[key] = []
                    slots.append((len(steps), key))
                    steps.append(None)  # filled in below
                batches[key].append(r)
                continue
            b = built[r.seq]
            steps.append(Step(list(b.instructions), [r.seq], list(b.signers), b.trace))
        for index, key in slots:
            group = batches[key]
            if len(group) == 1:
                b = built[group[0].seq]
                steps[index] = Step(list(b.instructions), [group[0].seq], list(b.signers), b.trace)
            else:
                template = built[group[0].seq].instructions[-1]
                steps[index] = Step([Instruction(template.program_id, self._batch_data(key[0], group), list(template.accounts))],
                                    [r.seq for r in group], [], BATCH_TRACE + len(group))
        return steps

    def _batch_key(self, r: O.OutboxRecord) -> tuple[str, str] | None:
        """(batched instruction, what its records share: the wallet order, the market), or None."""
        if r.kind == "settle_fill" and self.batched_fills:
            return "settle_fills", r.record.wallet_order
        if r.kind in ("custody_mint_set", "custody_merge_set") and self.batched_sets:
            return r.kind + "s", r.record.ticker
        return None

    def _batch_data(self, name: str, group: list[O.OutboxRecord]) -> bytes:
        """settle_fills(order_id, Vec<FillArgs{seq, size, price, fee}>) /
        custody_*_sets(Vec<SetArgs{seq, amount}>), borsh: u64s little endian, a Vec as u32 length
        + items (tests/bridge/test_packing.py checks these bytes against anchorpy's encoder)."""
        head = self.c.program.coder.instruction.sighashes[name]
        if name == "settle_fills":
            _pda, order_id = split_key(group[0].record.wallet_order)
            body = struct.pack("<QI", order_id, len(group)) + b"".join(
                struct.pack("<QQQQ", r.seq, r.record.size, r.record.price, r.record.fee) for r in group)
        else:
            body = struct.pack("<I", len(group)) + b"".join(struct.pack("<QQ", r.seq, r.record.amount) for r in group)
        return head + body

    def _build(self, rec: O.OutboxRecord) -> Built:
        r = rec.record
        seq = rec.seq
        k = self.keys
        c = self.c
        if isinstance(r, O.CreateMarket):
            return Built([ix.create_market_ix(c, admin=k.admin.pubkey(), ticker=r.ticker, close_time=r.close_time,
                                              collateral_mint=self.collateral_mint, tick_size=r.tick_size)], [k.admin])
        if isinstance(r, O.Halt):
            return Built([ix.halt_ix(c, admin=k.admin.pubkey(), ticker=r.ticker)], [k.admin])
        if isinstance(r, O.Resume):
            return Built([ix.resume_ix(c, admin=k.admin.pubkey(), ticker=r.ticker)], [k.admin])
        if isinstance(r, O.CloseMarket):
            return Built([ix.close_market_ix(c, closer=k.admin.pubkey(), ticker=r.ticker)], [k.admin])
        if isinstance(r, O.Determine):
            return Built([ix.determine_ix(c, resolver=k.resolver.pubkey(), ticker=r.ticker, yes_payout=r.yes_payout)], [k.resolver])
        if isinstance(r, O.Finalize):
            return Built([ix.finalize_ix(c, resolver=k.resolver.pubkey(), ticker=r.ticker)], [k.resolver])
        if isinstance(r, O.CustodyMintSet):
            return Built([ix.custody_mint_set_ix(c, bridge=self.bridge, ticker=r.ticker, seq=seq, amount=r.amount)], [])
        if isinstance(r, O.CustodyMergeSet):
            return Built([ix.custody_merge_set_ix(c, bridge=self.bridge, ticker=r.ticker, seq=seq, amount=r.amount)], [])
        if isinstance(r, O.CustodyRedeem):
            return Built([ix.custody_redeem_ix(c, bridge=self.bridge, ticker=r.ticker, seq=seq, yes_amount=r.yes_amount,
                                               no_amount=r.no_amount)], [])
        if isinstance(r, O.CustodyFund):
            if self.sequenced_fund:
                return Built([ix.custody_fund_ix(c, bridge=self.bridge, seq=seq, amount=r.amount, source=self.float_account)], [])
            # the program before v1.1: a plain transfer (exactly once by the send protocol alone)
            return Built([transfer_checked(TransferCheckedParams(
                program_id=TOKEN_PROGRAM_ID, source=self.float_account, mint=self.collateral_mint,
                dest=custody_collateral(c.program_id), owner=self.bridge, amount=r.amount, decimals=DECIMALS))], [])
        if isinstance(r, O.CustodyWithdraw):
            wallet = Pubkey.from_string(r.wallet)
            if r.asset == "cash":
                dest = ata(wallet, self.collateral_mint)
                return Built([ix.custody_withdraw_collateral_ix(c, bridge=self.bridge, seq=seq, amount=r.amount, destination=dest)], [])
            m = self.market(r.ticker)
            mint = m.yes_mint if r.asset == "yes" else m.no_mint
            return Built([ix.custody_withdraw_ix(c, bridge=self.bridge, ticker=r.ticker, seq=seq,
                                                 outcome=Outcome.YES if r.asset == "yes" else Outcome.NO,
                                                 amount=r.amount, destination=ata(wallet, mint))], [])
        if isinstance(r, O.SettleFill):
            side = _SIDES[(r.side, r.action)]
            info = self.order(r.wallet_order)
            if info is None:
                raise OrderUnknown(r.wallet_order)
            m = self.market(r.ticker)
            receive = ix.receive_mint_for(side, self.collateral_mint, m)
            pda, order_id = split_key(r.wallet_order)
            extra = {"order_id": order_id} if self.order_ids else {}
            return Built([ix.settle_fill_ix(c, bridge=self.bridge, ticker=r.ticker, order=Pubkey.from_string(pda),
                                            side=side, seq=seq, size=r.size, price=r.price, fee=r.fee,
                                            wallet_account=ata(info.owner, receive), **extra)], [])
        if isinstance(r, O.CloseOrder):
            info = self.order(r.wallet_order)
            if info is None:
                raise OrderUnknown(r.wallet_order)
            m = self.market(r.ticker)
            refund = ata(info.owner, ix.escrow_mint_for(info.side, self.collateral_mint, m))
            pda, order_id = split_key(r.wallet_order)
            extra = {"order_id": order_id} if self.order_ids else {}
            return Built([ix.close_order_ix(c, bridge=self.bridge, ticker=r.ticker, order=Pubkey.from_string(pda),
                                            owner=info.owner, seq=seq, refund_account=refund, **extra)], [])
        raise TypeError(f"no instruction for outbox record {r!r}")


def _packer(discriminator: bytes, names: list[str]):
    layout = struct.Struct("<" + "Q" * len(names))
    return lambda values: discriminator + layout.pack(*(values[n] for n in names))


def split_key(wallet_order: str) -> tuple[str, int]:
    """(order PDA, program order id) of a record's `wallet_order` ("PDA:order_id"; a bare PDA: id 0)."""
    pda, sep, order_id = wallet_order.rpartition(":")
    if not sep:
        return wallet_order, 0
    return pda, int(order_id)


class OrderUnknown(Exception):
    """A settle_fill/close_order names a wallet order the chain does not have (any more)."""
