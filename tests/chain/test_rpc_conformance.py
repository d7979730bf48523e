"""localnet answers plain solana-py exactly as a validator would (no project code here on purpose).

Airdrop, system transfer, confirmation at each commitment, getTransaction logs and
balances, getSignaturesForAddress paging, SPL token set-up and getProgramAccounts
with dataSize/memcmp filters, and the token read methods.
"""
from __future__ import annotations

import asyncio

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized, Processed
from solana.rpc.types import MemcmpOpts, TokenAccountOpts, TxOpts
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import Transaction
from solders.transaction_status import TransactionConfirmationStatus
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeMintParams,
    MintToParams,
    create_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
)

pytestmark = pytest.mark.localnet

SOL = 1_000_000_000
SYSTEM_PROGRAM = "11111111111111111111111111111111"


@pytest.fixture
async def client(rpc_url):
    async with AsyncClient(rpc_url, commitment=Confirmed) as c:
        yield c


async def funded(client: AsyncClient, lamports: int = 5 * SOL) -> Keypair:
    kp = Keypair()
    sig = (await client.request_airdrop(kp.pubkey(), lamports)).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    return kp


async def send(client: AsyncClient, payer: Keypair, ixs, signers=(), commitment=Confirmed):
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction([payer, *signers], Message(ixs, payer.pubkey()), blockhash)
    sig = (await client.send_transaction(tx, opts=TxOpts(preflight_commitment=Processed))).value
    status = (await client.confirm_transaction(sig, commitment, sleep_seconds=0.05)).value[0]
    assert status is not None and status.err is None
    return sig


async def test_cluster_identity_and_health(client):
    assert (await client.is_connected()) is True
    version = (await client.get_version()).value
    assert version.solana_core
    genesis = (await client.get_genesis_hash()).value
    assert genesis == (await client.get_genesis_hash()).value and genesis != Hash.default()
    epoch = (await client.get_epoch_info()).value
    assert epoch.slots_in_epoch > 0 and epoch.absolute_slot >= epoch.slot_index


async def test_airdrop_and_balance(client):
    kp = await funded(client, 3 * SOL)
    assert (await client.get_balance(kp.pubkey())).value == 3 * SOL
    assert (await client.get_balance(Keypair().pubkey())).value == 0
    assert (await client.get_account_info(Keypair().pubkey())).value is None
    info = (await client.get_account_info(kp.pubkey())).value
    assert info.lamports == 3 * SOL and str(info.owner) == SYSTEM_PROGRAM


async def test_slots_advance_and_commitments_are_ordered(client):
    first = (await client.get_slot(Processed)).value
    await asyncio.sleep(0.5)
    # read the trailing levels first: slots keep advancing between the three reads
    finalized = (await client.get_slot(Finalized)).value
    confirmed = (await client.get_slot(Confirmed)).value
    height = (await client.get_block_height(Processed)).value
    processed = (await client.get_slot(Processed)).value
    assert processed > first, "slots advance on a clock"
    assert finalized <= confirmed <= processed
    assert finalized < processed, "finalized trails the tip"
    assert 0 < height <= processed + 1


async def test_system_transfer_confirm_and_get_transaction(client):
    sender = await funded(client)
    receiver = Keypair().pubkey()
    sig = await send(client, sender, [transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=receiver, lamports=1_234_567))])
    assert (await client.get_balance(receiver)).value == 1_234_567

    tx = (await client.get_transaction(sig, commitment=Confirmed, max_supported_transaction_version=0)).value
    assert tx is not None and tx.slot > 0
    meta = tx.transaction.meta
    assert meta.err is None
    assert f"Program {SYSTEM_PROGRAM} invoke [1]" in meta.log_messages
    assert f"Program {SYSTEM_PROGRAM} success" in meta.log_messages
    keys = [str(k) for k in tx.transaction.transaction.message.account_keys]
    s, r = keys.index(str(sender.pubkey())), keys.index(str(receiver))
    assert meta.pre_balances[s] - meta.post_balances[s] == 1_234_567 + meta.fee
    assert meta.post_balances[r] - meta.pre_balances[r] == 1_234_567
    assert meta.fee == 5000

    statuses = (await client.get_signature_statuses([sig, sig.default()])).value
    assert statuses[0] is not None and statuses[0].err is None and statuses[1] is None


async def test_transaction_reaches_finalized(client):
    sender = await funded(client)
    sig = await send(client, sender, [transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1_000_000))])
    await client.confirm_transaction(sig, Finalized, sleep_seconds=0.05)
    status = (await client.get_signature_statuses([sig])).value[0]
    assert status.confirmation_status == TransactionConfirmationStatus.Finalized
    assert (await client.get_transaction(sig, commitment=Finalized)).value is not None


async def test_get_signatures_for_address_pages_newest_first(client):
    sender = await funded(client, 5 * SOL)
    sigs = []
    for i in range(4):
        ix = transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1_000_000 + i))
        sigs.append(await send(client, sender, [ix]))
    listed = (await client.get_signatures_for_address(sender.pubkey(), commitment=Confirmed)).value
    listed_sigs = [s.signature for s in listed]
    assert listed_sigs[:4] == sigs[::-1], "newest first"
    assert len(listed_sigs) == 5  # the 4 transfers and the airdrop
    assert all(s.err is None and s.slot > 0 for s in listed)
    page = (await client.get_signatures_for_address(sender.pubkey(), limit=2)).value
    assert [s.signature for s in page] == sigs[::-1][:2]
    before = (await client.get_signatures_for_address(sender.pubkey(), before=sigs[2], limit=2)).value
    assert [s.signature for s in before] == [sigs[1], sigs[0]]
    until = (await client.get_signatures_for_address(sender.pubkey(), until=sigs[1])).value
    assert [s.signature for s in until] == [sigs[3], sigs[2]]


async def test_blockhash_fee_and_rent(client):
    latest = (await client.get_latest_blockhash()).value
    assert latest.last_valid_block_height > (await client.get_block_height()).value
    payer = Keypair().pubkey()
    msg = Message.new_with_blockhash([transfer(TransferParams(from_pubkey=payer, to_pubkey=Keypair().pubkey(), lamports=1))], payer, latest.blockhash)
    assert (await client.get_fee_for_message(msg)).value == 5000
    rent_165 = (await client.get_minimum_balance_for_rent_exemption(165)).value
    assert rent_165 == 2_039_280  # the mainnet rent schedule
    assert (await client.get_minimum_balance_for_rent_exemption(0)).value == 890_880


async def test_simulate_transaction(client):
    sender = await funded(client)
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    ok = Transaction([sender], Message([transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1_000_000))], sender.pubkey()), blockhash)
    sim = (await client.simulate_transaction(ok)).value
    assert sim.err is None and f"Program {SYSTEM_PROGRAM} success" in sim.logs
    too_much = Transaction([sender], Message([transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=100 * SOL))], sender.pubkey()), blockhash)
    sim = (await client.simulate_transaction(too_much)).value
    assert sim.err is not None
    assert (await client.get_balance(sender.pubkey())).value == 5 * SOL, "simulation changes nothing"


async def test_spl_token_accounts_and_program_account_filters(client):
    payer = await funded(client)
    mint = Keypair()
    owners = [Keypair().pubkey(), Keypair().pubkey()]
    rent = (await client.get_minimum_balance_for_rent_exemption(82)).value
    await send(
        client,
        payer,
        [
            create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=TOKEN_PROGRAM_ID)),
            initialize_mint(InitializeMintParams(decimals=6, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=payer.pubkey())),
        ],
        signers=[mint],
    )
    atas = [get_associated_token_address(o, mint.pubkey()) for o in owners]
    await send(client, payer, [create_associated_token_account(payer.pubkey(), o, mint.pubkey()) for o in owners])
    minted = await send(
        client,
        payer,
        [mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=a, mint_authority=payer.pubkey(), amount=(i + 1) * 1_000_000)) for i, a in enumerate(atas)],
    )
    meta = (await client.get_transaction(minted, max_supported_transaction_version=0)).value.transaction.meta
    pre = {b.account_index: b.ui_token_amount.amount for b in meta.pre_token_balances}
    post = {b.account_index: (b.ui_token_amount.amount, b.mint, b.owner) for b in meta.post_token_balances}
    assert sorted(pre.values()) == ["0", "0"]
    assert sorted(post.values()) == sorted([("1000000", mint.pubkey(), owners[0]), ("2000000", mint.pubkey(), owners[1])])

    assert (await client.get_token_supply(mint.pubkey())).value.amount == "3000000"
    bal = (await client.get_token_account_balance(atas[1])).value
    assert (bal.amount, bal.decimals) == ("2000000", 6)
    by_owner = (await client.get_token_accounts_by_owner(owners[0], TokenAccountOpts(mint=mint.pubkey()))).value
    assert [a.pubkey for a in by_owner] == [atas[0]]
    by_program = (await client.get_token_accounts_by_owner(owners[0], TokenAccountOpts(program_id=TOKEN_PROGRAM_ID))).value
    assert [a.pubkey for a in by_program] == [atas[0]]

    of_mint = (await client.get_program_accounts(TOKEN_PROGRAM_ID, filters=[165, MemcmpOpts(offset=0, bytes=str(mint.pubkey()))])).value
    assert sorted(str(a.pubkey) for a in of_mint) == sorted(str(a) for a in atas)
    assert all(len(a.account.data) == 165 and a.account.owner == TOKEN_PROGRAM_ID for a in of_mint)
    of_owner = (
        await client.get_program_accounts(
            TOKEN_PROGRAM_ID, filters=[165, MemcmpOpts(offset=0, bytes=str(mint.pubkey())), MemcmpOpts(offset=32, bytes=str(owners[1]))]
        )
    ).value
    assert [a.pubkey for a in of_owner] == [atas[1]]
    mints = (await client.get_program_accounts(TOKEN_PROGRAM_ID, filters=[82, MemcmpOpts(offset=0, bytes=str(mint.pubkey()))])).value
    assert mints == [], "a mint is 82 bytes and does not start with its own address"
    mints = (await client.get_program_accounts(TOKEN_PROGRAM_ID, filters=[82, MemcmpOpts(offset=4, bytes=str(payer.pubkey()))])).value
    assert [a.pubkey for a in mints] == [mint.pubkey()]

    multi = (await client.get_multiple_accounts([mint.pubkey(), atas[0], Pubkey.new_unique()])).value
    assert multi[0].owner == TOKEN_PROGRAM_ID and len(multi[1].data) == 165 and multi[2] is None


# -- v0 transactions through an address lookup table ----------------------------------------------

ALT_PROGRAM = Pubkey.from_string("AddressLookupTab1e1111111111111111111111111")


def _create_lookup_table_ix(authority: Pubkey, payer: Pubkey, recent_slot: int):
    """The lookup table program's CreateLookupTable (bincode: u32 tag 0, u64 recent_slot, u8 bump)."""
    from solders.address_lookup_table_account import derive_lookup_table_address
    from solders.instruction import AccountMeta, Instruction

    table, bump = derive_lookup_table_address(authority, recent_slot)
    data = (0).to_bytes(4, "little") + recent_slot.to_bytes(8, "little") + bytes([bump])
    metas = [AccountMeta(table, False, True), AccountMeta(authority, True, False), AccountMeta(payer, True, True),
             AccountMeta(Pubkey.from_string(SYSTEM_PROGRAM), False, False)]
    return table, Instruction(ALT_PROGRAM, data, metas)


def _extend_lookup_table_ix(table: Pubkey, authority: Pubkey, payer: Pubkey, addresses: list[Pubkey]):
    """ExtendLookupTable (bincode: u32 tag 2, u64 count, the addresses)."""
    from solders.instruction import AccountMeta, Instruction

    data = (2).to_bytes(4, "little") + len(addresses).to_bytes(8, "little") + b"".join(bytes(a) for a in addresses)
    metas = [AccountMeta(table, False, True), AccountMeta(authority, True, False), AccountMeta(payer, True, True),
             AccountMeta(Pubkey.from_string(SYSTEM_PROGRAM), False, False)]
    return Instruction(ALT_PROGRAM, data, metas)


async def test_v0_transaction_through_a_lookup_table(client):
    """Accounts a v0 message loads through a table are executed, versioned, indexed by address and
    reported (addressTableLookups, loadedAddresses, balances) as a validator does."""
    from solders.address_lookup_table_account import AddressLookupTable, AddressLookupTableAccount
    from solders.message import MessageV0
    from solders.transaction import VersionedTransaction

    payer = await funded(client)
    receivers = [Keypair().pubkey() for _ in range(3)]
    slot = (await client.get_slot(Processed)).value
    table, create = _create_lookup_table_ix(payer.pubkey(), payer.pubkey(), slot - 1)
    await send(client, payer, [create, _extend_lookup_table_ix(table, payer.pubkey(), payer.pubkey(), receivers)])
    # a table extended in a slot is usable from the next one
    target = (await client.get_slot(Processed)).value + 1
    while (await client.get_slot(Processed)).value <= target:
        await asyncio.sleep(0.05)
    state = AddressLookupTable.deserialize(bytes((await client.get_account_info(table)).value.data))
    assert list(state.addresses) == receivers
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    ixs = [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=r, lamports=SOL // 10 * (i + 1))) for i, r in enumerate(receivers)]
    message = MessageV0.try_compile(payer.pubkey(), ixs, [AddressLookupTableAccount(table, receivers)], blockhash)
    assert len(message.account_keys) == 2, "the receivers come from the table, not the static keys"
    tx = VersionedTransaction(message, [payer])
    sig = (await client.send_transaction(tx, opts=TxOpts(preflight_commitment=Processed))).value
    status = (await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)).value[0]
    assert status is not None and status.err is None
    for i, r in enumerate(receivers):
        assert (await client.get_balance(r, Confirmed)).value == SOL // 10 * (i + 1)
        listed = (await client.get_signatures_for_address(r)).value
        assert [s.signature for s in listed] == [sig], (listed, sig, i)
    got = (await client.get_transaction(sig, max_supported_transaction_version=0, commitment=Confirmed)).value
    meta = got.transaction.meta
    lookups = got.transaction.transaction.message.address_table_lookups
    assert len(lookups) == 1 and lookups[0].account_key == table and sorted(lookups[0].writable_indexes) == [0, 1, 2]
    # loaded addresses are the table's entries at the message's indexes, in that order
    loaded = [receivers[i] for i in lookups[0].writable_indexes]
    assert list(meta.loaded_addresses.writable) == loaded and list(meta.loaded_addresses.readonly) == []
    assert len(meta.pre_balances) == len(meta.post_balances) == 2 + 3
    assert meta.post_balances[2:] == [SOL // 10 * (receivers.index(r) + 1) for r in loaded]
