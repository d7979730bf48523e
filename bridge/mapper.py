"""Outbox records -> program instructions (DESIGN.md, "What the bridge mirrors").

One record becomes one program instruction, sometimes with a helper instruction in front
(the withdrawal's destination token account, created idempotently; collateral minted to
the bridge's float on localnet). What an instruction needs beyond the record (a wallet
order's owner, for its token accounts) is read from the chain once and cached: an order's
owner and side never change.
"""
from __future__ import annotations

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
SEQUENCED = {"custody_mint_set", "custody_merge_set", "settle_fill", "close_order", "custody_withdraw", "custody_fund"}
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


@dataclass
class Built:
    """The instructions of one record, and who must sign them besides the fee payer."""

    instructions: list[Instruction]
    signers: list[Keypair]


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


def split_key(wallet_order: str) -> tuple[str, int]:
    """(order PDA, program order id) of a record's `wallet_order` ("PDA:order_id"; a bare PDA: id 0)."""
    pda, sep, order_id = wallet_order.rpartition(":")
    if not sep:
        return wallet_order, 0
    return pda, int(order_id)


class OrderUnknown(Exception):
    """A settle_fill/close_order names a wallet order the chain does not have (any more)."""
