"""`tandem chain init`: the collateral mint (localnet), the exchange and a demo market. Idempotent.

Every step first reads the chain and only writes what is missing, so running it
again is a no-op, and running it after a partial failure finishes the job. What
already exists is checked against what this run would have created (same admin,
same collateral mint), and a mismatch is an error rather than silently reused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import instructions as ix
from chain import pdas
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.errors import ChainError
from chain.keys import load_or_create
from chain.tokens import ata, create_ata_ix, create_mint, mint_to_ix

DEMO_TICKER = "DEMO-YES"
DEMO_CLOSE_SECS = 30 * 24 * 3600  # the demo market stays open for a month
MIN_PAYER_LAMPORTS = LAMPORTS_PER_SOL


@dataclass(frozen=True)
class ExchangeSettings:
    fee_rate_bps: int = 700  # Kalshi's 0.07 × C × P × (1 − P)
    force_close_slots: int = 150  # ~1 minute of 400 ms slots
    dispute_window_secs: int = 0  # localnet: finalize right after determine


@dataclass(frozen=True)
class ChainKeys:
    """The operator keypairs, generated at run time under TANDEM_HOME/keys."""

    admin: Keypair
    bridge: Keypair
    resolver: Keypair
    collateral_mint: Keypair  # used only when the collateral mint is created here

    @classmethod
    def load(cls, keys_dir: Path) -> "ChainKeys":
        return cls(
            admin=load_or_create(keys_dir, "admin"),
            bridge=load_or_create(keys_dir, "bridge"),
            resolver=load_or_create(keys_dir, "resolver"),
            collateral_mint=load_or_create(keys_dir, "collateral-mint"),
        )


@dataclass(frozen=True)
class ChainSetup:
    keys: ChainKeys
    collateral_mint: Pubkey
    treasury: Pubkey
    demo_ticker: str | None
    created: tuple[str, ...]  # the steps that wrote something this run


Step = Callable[[str, str], None]  # (step name, outcome: "created" | "exists" | "skipped")


async def _exists(c: ChainClient, address: Pubkey) -> bool:
    return (await c.rpc.get_account_info(address)).value is not None


async def init_chain(
    c: ChainClient,
    keys: ChainKeys,
    *,
    collateral_mint: Pubkey | None = None,
    demo_ticker: str | None = DEMO_TICKER,
    settings: ExchangeSettings = ExchangeSettings(),
    airdrop: bool = True,
    on_step: Step = lambda name, outcome: None,
) -> ChainSetup:
    """Bring the chain to: collateral mint, exchange (admin/bridge/resolver = keys), demo market."""
    created: list[str] = []

    def done(name: str, wrote: bool) -> None:
        if wrote:
            created.append(name)
        on_step(name, "created" if wrote else "exists")

    # 0. the admin pays for everything; fund it where the chain has a faucet
    payer = c.payer.pubkey()
    balance = await c.balance(payer)
    if balance < MIN_PAYER_LAMPORTS:
        unfunded = ChainError(f"the admin {payer} has {balance} lamports; fund it (e.g. `solana airdrop 2 {payer}`) and run again")
        if not airdrop:
            raise unfunded
        for sol in (10, 2):  # localnet gives plenty; devnet's faucet caps a request at a few SOL
            try:
                await c.airdrop(payer, sol * LAMPORTS_PER_SOL)
                break
            except Exception as exc:  # a faucet that refuses (rate limits) or none at all (mainnet)
                failure = exc
        else:
            raise unfunded from failure
        done("fund admin", True)
    else:
        done("fund admin", False)

    # 1. the collateral mint
    exchange_account = await c.fetch("Exchange", pdas.exchange(c.program_id))
    if collateral_mint is None:
        collateral_mint = exchange_account.collateral_mint if exchange_account else keys.collateral_mint.pubkey()
    if collateral_mint == keys.collateral_mint.pubkey() and not await _exists(c, collateral_mint):
        await create_mint(c, keys.collateral_mint, authority=keys.admin.pubkey())
        done("collateral mint", True)
    else:
        info = (await c.rpc.get_account_info(collateral_mint)).value
        if info is None:
            raise ChainError(f"collateral mint {collateral_mint} does not exist on this chain")
        done("collateral mint", False)

    # 2. the treasury (the admin's collateral account) and the exchange
    treasury = ata(keys.admin.pubkey(), collateral_mint)
    if exchange_account is None:
        await c.send_and_confirm(
            [
                create_ata_ix(payer, keys.admin.pubkey(), collateral_mint),
                ix.initialize_ix(
                    c,
                    admin=keys.admin.pubkey(),
                    collateral_mint=collateral_mint,
                    treasury=treasury,
                    bridge_authority=keys.bridge.pubkey(),
                    resolver_authority=keys.resolver.pubkey(),
                    fee_rate_bps=settings.fee_rate_bps,
                    force_close_slots=settings.force_close_slots,
                    dispute_window_secs=settings.dispute_window_secs,
                ),
            ],
            [keys.admin],
        )
        done("exchange", True)
    else:
        if exchange_account.admin != keys.admin.pubkey():
            raise ChainError(
                f"the exchange exists with admin {exchange_account.admin}, not this TANDEM_HOME's admin {keys.admin.pubkey()}"
            )
        if exchange_account.collateral_mint != collateral_mint:
            raise ChainError(f"the exchange uses collateral mint {exchange_account.collateral_mint}, not {collateral_mint}")
        treasury = exchange_account.treasury
        done("exchange", False)

    # 3. the demo market
    if demo_ticker:
        if await _exists(c, pdas.market(c.program_id, demo_ticker)):
            done(f"market {demo_ticker}", False)
        else:
            await ix.create_market(
                c, keys.admin, ticker=demo_ticker, close_time=await c.chain_time() + DEMO_CLOSE_SECS, collateral_mint=collateral_mint
            )
            done(f"market {demo_ticker}", True)
    return ChainSetup(keys, collateral_mint, treasury, demo_ticker, tuple(created))


async def fund_collateral(c: ChainClient, keys: ChainKeys, owner: Pubkey, amount: int, collateral_mint: Pubkey | None = None) -> Pubkey:
    """Localnet faucet: mint collateral to `owner`'s associated account (the admin is the mint authority)."""
    mint = collateral_mint or keys.collateral_mint.pubkey()
    dest = ata(owner, mint)
    await c.send_and_confirm([create_ata_ix(c.payer.pubkey(), owner, mint), mint_to_ix(mint, dest, keys.admin.pubkey(), amount)], [keys.admin])
    return dest


async def init_from_settings(settings, *, demo_ticker: str | None = DEMO_TICKER, on_step: Step = lambda n, o: None) -> ChainSetup:
    """`tandem chain init` with RPC_URL, TANDEM_HOME, TANDEM_PROGRAM_ID and TANDEM_COLLATERAL_MINT from `settings`."""
    keys = ChainKeys.load(settings.keys_dir)
    program_id = Pubkey.from_string(settings.program_id) if settings.program_id else None
    collateral = Pubkey.from_string(settings.collateral_mint) if settings.collateral_mint else None
    async with ChainClient(settings.rpc_url, keys.admin, program_id=program_id) as c:
        return await init_chain(c, keys, collateral_mint=collateral, demo_ticker=demo_ticker, on_step=on_step)
