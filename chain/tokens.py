"""SPL Token plumbing around the program: the collateral mint, associated token accounts, minting.

Instruction builders come from solana-py's `spl.token`; these helpers only
compose them into the few transactions Tandem needs.
"""
from __future__ import annotations

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeMintParams,
    MintToParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
)

from chain.client import ChainClient, TxResult

MINT_SIZE = 82
DECIMALS = 6  # DESIGN.md, Units: collateral and outcome tokens have 6 decimals
ONE = 10**DECIMALS  # one contract / one collateral unit in base units

__all__ = [
    "ASSOCIATED_TOKEN_PROGRAM_ID",
    "TOKEN_PROGRAM_ID",
    "ata",
    "create_ata_ix",
    "create_mint",
    "ensure_ata",
    "mint_to_ix",
    "mint_tokens",
]


def ata(owner: Pubkey, mint: Pubkey) -> Pubkey:
    """The associated token account of `owner` for `mint` (off-curve owners, i.e. PDAs, included)."""
    return get_associated_token_address(owner, mint)


def create_ata_ix(payer: Pubkey, owner: Pubkey, mint: Pubkey) -> Instruction:
    # idempotent: a no-op when the account already exists, so callers never race on creation
    return create_idempotent_associated_token_account(payer, owner, mint)


def mint_to_ix(mint: Pubkey, dest: Pubkey, authority: Pubkey, amount: int) -> Instruction:
    return mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint, dest=dest, mint_authority=authority, amount=amount))


async def create_mint(client: ChainClient, mint: Keypair, authority: Pubkey, decimals: int = DECIMALS) -> TxResult:
    rent = (await client.rpc.get_minimum_balance_for_rent_exemption(MINT_SIZE)).value
    return await client.send_and_confirm(
        [
            create_account(
                CreateAccountParams(
                    from_pubkey=client.payer.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=MINT_SIZE, owner=TOKEN_PROGRAM_ID
                )
            ),
            initialize_mint(
                InitializeMintParams(decimals=decimals, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=authority)
            ),
        ],
        [mint],
    )


async def ensure_ata(client: ChainClient, owner: Pubkey, mint: Pubkey) -> Pubkey:
    address = ata(owner, mint)
    if (await client.rpc.get_account_info(address)).value is None:
        await client.send_and_confirm([create_ata_ix(client.payer.pubkey(), owner, mint)])
    return address


async def mint_tokens(client: ChainClient, mint: Pubkey, authority: Keypair, owner: Pubkey, amount: int) -> Pubkey:
    """Mint `amount` base units to `owner`'s associated account (created if needed); returns that account."""
    address = ata(owner, mint)
    await client.send_and_confirm(
        [create_ata_ix(client.payer.pubkey(), owner, mint), mint_to_ix(mint, address, authority.pubkey(), amount)], [authority]
    )
    return address
