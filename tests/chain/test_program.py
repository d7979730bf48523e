"""Every program instruction through the chain client, results read back over RPC.

Runs on the session localnet (tests/conftest.py): the exchange comes from
`init_chain`; every test makes its own market and users. Invariant 1 of
DESIGN.md is checked from RPC reads after every step that moves sets.
"""
from __future__ import annotations

import asyncio
import time

import pytest
from solana.rpc.commitment import Finalized
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from spl.token._layouts import ACCOUNT_LAYOUT, MINT_LAYOUT

from chain import instructions as ix
from chain import pdas
from chain.client import ChainClient
from chain.errors import ChainError
from chain.idl import load_modern
from chain.instructions import OrderSide, Outcome
from chain.invariants import check_market, market_supply, redeemable
from chain.localnet import Localnet
from chain.replay import REPLAY_WINDOW_BITS, SeqState, seq_status, seq_statuses
from chain.setup import ChainKeys, ExchangeSettings, fund_collateral, init_chain
from chain.tokens import ONE, ata, create_ata_ix

from .world import World, expect_error

pytestmark = pytest.mark.localnet


@pytest.fixture(scope="module")
async def world(localnet, chain_setup):
    payer = Keypair()
    async with ChainClient(localnet.url, payer, poll_seconds=0.05) as client:
        await client.airdrop(payer.pubkey(), 100 * 10**9)
        yield World(client, chain_setup)


async def assert_invariant(w: World, ticker: str) -> None:
    assert await check_market(w.c, ticker) == []


def event_names(result) -> list[str]:
    return [e.name for e in result.events]


# -- exchange -------------------------------------------------------------------------------


async def test_exchange_initialized_as_configured(world):
    w = world
    exchange = await w.c.fetch("Exchange", pdas.exchange(w.c.program_id))
    assert exchange.admin == w.keys.admin.pubkey()
    assert exchange.bridge_authority == w.keys.bridge.pubkey()
    assert exchange.resolver_authority == w.keys.resolver.pubkey()
    assert exchange.collateral_mint == w.mint and exchange.treasury == w.setup.treasury
    assert exchange.custody == pdas.custody(w.c.program_id)
    assert exchange.paused is False and exchange.fee_rate_bps == 700
    custody = await w.c.fetch("Custody", pdas.custody(w.c.program_id))
    assert custody.collateral_account == pdas.custody_collateral(w.c.program_id)
    token_account = ACCOUNT_LAYOUT.parse(bytes((await w.c.rpc.get_account_info(custody.collateral_account)).value.data))
    assert Pubkey(token_account.owner) == exchange.custody and Pubkey(token_account.mint) == w.mint


async def test_initialize_emits_its_event_and_cannot_run_twice(world):
    w = world
    # the session's initialize transaction is the exchange PDA's oldest signature
    oldest, page = None, None
    while page is None or len(page) == 1000:
        page = (await w.c.rpc.get_signatures_for_address(pdas.exchange(w.c.program_id), before=oldest, limit=1000)).value
        oldest = page[-1].signature if page else oldest
    events = await w.c.events_of(oldest)
    assert [e.name for e in events] == ["ExchangeInitialized"]
    assert events[0].data.collateral_mint == w.mint and events[0].data.admin == w.keys.admin.pubkey()
    with pytest.raises(ChainError) as failed:  # re-initialization: the exchange PDA is already in use
        await ix.initialize(
            w.c, w.keys.admin, collateral_mint=w.mint, treasury=w.setup.treasury,
            bridge_authority=w.keys.bridge.pubkey(), resolver_authority=w.keys.resolver.pubkey(),
        )
    assert any("already in use" in line for line in failed.value.logs)


async def test_only_the_upgrade_authority_initializes(localnet, tmp_path):
    """A fresh chain deployed by `deployer`: a stranger's initialize is refused, the deployer's lands."""
    deployer, stranger = ChainKeys.load(tmp_path / "deployer"), ChainKeys.load(tmp_path / "stranger")
    with Localnet(slot_ms=50, binary=localnet.binary, upgrade_authority=deployer.admin.pubkey(), log_path=tmp_path / "ln.log") as fresh:
        async with ChainClient(fresh.url, stranger.admin, poll_seconds=0.05) as c:
            with pytest.raises(ChainError) as refused:
                await init_chain(c, stranger, demo_ticker=None)
            assert refused.value.name == "NotUpgradeAuthority"
        async with ChainClient(fresh.url, deployer.admin, poll_seconds=0.05) as c:
            setup = await init_chain(c, deployer, demo_ticker=None)
            assert "exchange" in setup.created
            assert (await c.fetch("Exchange", pdas.exchange(c.program_id))).admin == deployer.admin.pubkey()


async def test_chain_init_is_idempotent(world, chain_keys):
    w = world
    async with ChainClient(w.c.rpc_url, chain_keys.admin) as admin_client:
        again = await init_chain(admin_client, chain_keys, demo_ticker=None, settings=ExchangeSettings())
        assert again.created == () and again.collateral_mint == w.mint and again.treasury == w.setup.treasury
        # a demo market is created once, then found
        ticker = "DEMO-" + str(int(time.time() * 1000))[-8:]
        first = await init_chain(admin_client, chain_keys, demo_ticker=ticker)
        second = await init_chain(admin_client, chain_keys, demo_ticker=ticker)
        assert first.created == (f"market {ticker}",) and second.created == ()
        # another TANDEM_HOME (another admin) must not silently reuse this exchange
        stranger = ChainKeys(Keypair(), Keypair(), Keypair(), Keypair())
        async with ChainClient(w.c.rpc_url, stranger.admin) as other:
            with pytest.raises(ChainError, match="exists with admin"):
                await init_chain(other, stranger, demo_ticker=None)


async def test_update_settings_then_restore(world):
    w = world
    res = await ix.update_settings(w.c, w.keys.admin, treasury=w.setup.treasury, fee_rate_bps=350, force_close_slots=9, dispute_window_secs=5)
    assert event_names(res) == ["SettingsUpdated"]
    exchange = await w.c.fetch("Exchange", pdas.exchange(w.c.program_id))
    assert (exchange.fee_rate_bps, exchange.force_close_slots, exchange.dispute_window_secs) == (350, 9, 5)
    await expect_error("InvalidFeeRate", ix.update_settings(w.c, w.keys.admin, treasury=w.setup.treasury, fee_rate_bps=10_001, force_close_slots=9, dispute_window_secs=5))
    await ix.update_settings(w.c, w.keys.admin, treasury=w.setup.treasury, fee_rate_bps=700, force_close_slots=5, dispute_window_secs=0)
    exchange = await w.c.fetch("Exchange", pdas.exchange(w.c.program_id))
    assert (exchange.fee_rate_bps, exchange.force_close_slots, exchange.dispute_window_secs) == (700, 5, 0)


async def test_two_step_authority_change_and_back(world):
    w = world
    new = [Keypair() for _ in range(3)]
    await w.c.airdrop(new[0].pubkey())
    await expect_error("NotAdmin", ix.set_authorities(w.c, new[0], new_admin=new[0].pubkey(), new_bridge_authority=new[1].pubkey(), new_resolver_authority=new[2].pubkey()))
    res = await ix.set_authorities(w.c, w.keys.admin, new_admin=new[0].pubkey(), new_bridge_authority=new[1].pubkey(), new_resolver_authority=new[2].pubkey())
    assert event_names(res) == ["AuthoritiesProposed"]
    exchange = await w.c.fetch("Exchange", pdas.exchange(w.c.program_id))
    assert exchange.admin == w.keys.admin.pubkey() and exchange.pending_admin == new[0].pubkey(), "nothing changes before acceptance"
    await expect_error("NotPendingAdmin", ix.accept_authorities(w.c, w.keys.bridge))
    res = await ix.accept_authorities(w.c, new[0])
    assert event_names(res) == ["AuthoritiesAccepted"]
    exchange = await w.c.fetch("Exchange", pdas.exchange(w.c.program_id))
    assert (exchange.admin, exchange.bridge_authority, exchange.resolver_authority) == tuple(k.pubkey() for k in new)
    # and back, so the rest of the session keeps its operators
    await ix.set_authorities(w.c, new[0], new_admin=w.keys.admin.pubkey(), new_bridge_authority=w.keys.bridge.pubkey(), new_resolver_authority=w.keys.resolver.pubkey())
    await ix.accept_authorities(w.c, w.keys.admin)
    exchange = await w.c.fetch("Exchange", pdas.exchange(w.c.program_id))
    assert exchange.admin == w.keys.admin.pubkey() and exchange.bridge_authority == w.keys.bridge.pubkey()
    await expect_error("NoPendingAuthorities", ix.accept_authorities(w.c, w.keys.admin))


async def test_pause_blocks_entries_not_exits(world):
    w = world
    ticker = await w.market()
    alice = await w.user()
    await w.outcome_accounts(alice, ticker)
    await ix.mint_set(w.c, alice.kp, ticker, 2 * ONE, user_collateral=alice.collateral)
    await ix.place_order(w.c, alice.kp, ticker, nonce=1, side=OrderSide.SELL_YES, limit_price=500_000, size=ONE, max_fee=0, collateral_mint=w.mint)
    order = pdas.wallet_order(w.c.program_id, w.addresses(ticker).market, alice.pubkey, 1)
    res = await ix.pause(w.c, w.keys.admin)
    try:
        assert event_names(res) == ["PauseChanged"] and res.events[0].data.paused is True
        await expect_error("ExchangePaused", ix.pause(w.c, w.keys.admin))
        await expect_error("ExchangePaused", ix.mint_set(w.c, alice.kp, ticker, ONE, user_collateral=alice.collateral))
        await expect_error("ExchangePaused", ix.place_order(w.c, alice.kp, ticker, nonce=2, side=OrderSide.SELL_YES, limit_price=500_000, size=ONE, max_fee=0, collateral_mint=w.mint))
        await expect_error("ExchangePaused", ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=1, amount=ONE))
        # exits stay open: a 1:1 merge, the owner's cancel request and the bridge's refund
        await ix.merge_set(w.c, alice.kp, ticker, ONE, user_collateral=alice.collateral)
        await ix.request_cancel(w.c, alice.kp, order)
        yes = ata(alice.pubkey, w.addresses(ticker).yes_mint)
        order_id = (await w.c.fetch("WalletOrder", order)).order_id
        res = await ix.close_order(w.c, w.keys.bridge, ticker=ticker, order=order, order_id=order_id, owner=alice.pubkey, seq=1, refund_account=yes)
        assert res.events[0].data.refunded == ONE and await w.bal(yes) == ONE
    finally:
        res = await ix.unpause(w.c, w.keys.admin)
    assert res.events[0].data.paused is False
    await expect_error("ExchangeNotPaused", ix.unpause(w.c, w.keys.admin))
    await ix.mint_set(w.c, alice.kp, ticker, ONE, user_collateral=alice.collateral)
    await assert_invariant(w, ticker)


# -- markets and sets -------------------------------------------------------------------------


async def test_market_lifecycle_sets_and_redemption_keep_invariant_1(world):
    w = world
    ticker = await w.market(tick_size=100)
    m = w.addresses(ticker)
    market = await w.market_account(ticker)
    assert market.ticker == ticker and type(market.status).__name__ == "Open" and market.tick_size == 100
    assert (market.yes_mint, market.no_mint, market.vault, market.custody_yes, market.custody_no) == (
        m.yes_mint, m.no_mint, m.vault, m.custody_yes, m.custody_no)
    for mint in (m.yes_mint, m.no_mint):
        parsed = MINT_LAYOUT.parse(bytes((await w.c.rpc.get_account_info(mint)).value.data))
        assert parsed.decimals == 6 and Pubkey(parsed.mint_authority) == m.market and parsed.freeze_authority_option == 0
    await assert_invariant(w, ticker)

    dave = await w.user(50 * ONE)
    yes, no = await w.outcome_accounts(dave, ticker)
    res = await ix.mint_set(w.c, dave.kp, ticker, 10 * ONE, user_collateral=dave.collateral)
    assert event_names(res) == ["SetMinted"] and res.events[0].data.sets_outstanding == 10 * ONE
    assert (await w.bal(dave.collateral), await w.bal(yes), await w.bal(no), await w.bal(m.vault)) == (40 * ONE, 10 * ONE, 10 * ONE, 10 * ONE)
    await assert_invariant(w, ticker)

    res = await ix.merge_set(w.c, dave.kp, ticker, 3 * ONE, user_collateral=dave.collateral)
    assert event_names(res) == ["SetMerged"]
    assert (await w.bal(dave.collateral), await w.bal(yes), await w.bal(no)) == (43 * ONE, 7 * ONE, 7 * ONE)
    supply = await market_supply(w.c, ticker)
    assert (supply.sets_outstanding, supply.yes_supply, supply.no_supply, supply.vault) == (7 * ONE,) * 4
    await expect_error("InsufficientBalance", ix.merge_set(w.c, dave.kp, ticker, 8 * ONE, user_collateral=dave.collateral))
    await expect_error("ZeroAmount", ix.mint_set(w.c, dave.kp, ticker, 0, user_collateral=dave.collateral))

    res = await ix.halt(w.c, w.keys.admin, ticker)
    assert event_names(res) == ["MarketStatusChanged"]
    await expect_error("MarketNotOpen", ix.mint_set(w.c, dave.kp, ticker, ONE, user_collateral=dave.collateral))
    await expect_error("MarketNotOpen", ix.halt(w.c, w.keys.admin, ticker))
    await ix.resume(w.c, w.keys.admin, ticker)
    await expect_error("MarketNotHalted", ix.resume(w.c, w.keys.admin, ticker))
    await ix.mint_set(w.c, dave.kp, ticker, ONE, user_collateral=dave.collateral)
    await ix.merge_set(w.c, dave.kp, ticker, ONE, user_collateral=dave.collateral)

    await expect_error("CloseTimeNotReached", ix.close_market(w.c, dave.kp, ticker))
    await ix.close_market(w.c, w.keys.admin, ticker)
    assert type((await w.market_account(ticker)).status).__name__ == "Closed"
    await expect_error("MarketNotOpen", ix.mint_set(w.c, dave.kp, ticker, ONE, user_collateral=dave.collateral))
    await expect_error("NotResolver", ix.determine(w.c, w.keys.admin, ticker, 700_000))
    await expect_error("InvalidPayout", ix.determine(w.c, w.keys.resolver, ticker, ONE + 1))
    res = await ix.determine(w.c, w.keys.resolver, ticker, 700_000)
    assert event_names(res) == ["MarketStatusChanged", "MarketDetermined"] and res.events[1].data.correction is False
    res = await ix.determine(w.c, w.keys.resolver, ticker, 650_000)  # a correction inside the dispute window
    assert event_names(res) == ["MarketDetermined"] and res.events[0].data.correction is True
    await expect_error("MarketNotFinalized", ix.redeem(w.c, dave.kp, ticker, ONE, 0, user_collateral=dave.collateral))
    await assert_invariant(w, ticker)

    res = await ix.finalize(w.c, w.keys.resolver, ticker)
    assert event_names(res) == ["MarketStatusChanged", "MarketFinalized"]
    assert res.events[1].data.yes_payout == 650_000 and res.events[1].data.vault_balance == 7 * ONE
    await expect_error("MarketFinalized", ix.merge_set(w.c, dave.kp, ticker, ONE, user_collateral=dave.collateral))

    res = await ix.redeem(w.c, dave.kp, ticker, 5 * ONE, 0, user_collateral=dave.collateral)
    assert res.events[0].name == "Redeemed" and res.events[0].data.payout == 3_250_000
    await assert_invariant(w, ticker)
    res = await ix.redeem(w.c, dave.kp, ticker, 2 * ONE, 7 * ONE, user_collateral=dave.collateral)
    assert res.events[0].data.payout == redeemable(2 * ONE, 7 * ONE, 650_000) == 3_750_000
    assert await w.bal(dave.collateral) == 50 * ONE, "7 sets redeem for exactly what they cost"
    assert await w.bal(m.vault) == 0
    await expect_error("InsufficientBalance", ix.redeem(w.c, dave.kp, ticker, ONE, 0, user_collateral=dave.collateral))
    await assert_invariant(w, ticker)


async def test_create_market_refusals(world):
    w = world
    now = await w.c.chain_time()
    await expect_error("InvalidTicker", ix.create_market(w.c, w.keys.admin, ticker="lower-case", close_time=now + 60, collateral_mint=w.mint))
    await expect_error("InvalidTickSize", ix.create_market(w.c, w.keys.admin, ticker="T-BADTICK", close_time=now + 60, collateral_mint=w.mint, tick_size=150))
    await expect_error("InvalidCloseTime", ix.create_market(w.c, w.keys.admin, ticker="T-PAST", close_time=now - 60, collateral_mint=w.mint))
    stranger = await w.user(0)
    await expect_error("NotAdmin", ix.create_market(w.c, stranger.kp, ticker="T-STRANGER", close_time=now + 60, collateral_mint=w.mint))


async def test_anyone_closes_a_market_after_its_close_time(world):
    w = world
    ticker = await w.market(close_in=2)
    close_time = (await w.market_account(ticker)).close_time
    anyone = await w.user(ONE)
    await w.outcome_accounts(anyone, ticker)
    while await w.c.chain_time() <= close_time:
        await asyncio.sleep(0.1)
    await expect_error("MarketPastCloseTime", ix.mint_set(w.c, anyone.kp, ticker, ONE, user_collateral=anyone.collateral))
    await ix.close_market(w.c, anyone.kp, ticker)
    assert type((await w.market_account(ticker)).status).__name__ == "Closed"


# -- custody ------------------------------------------------------------------------------------


async def test_custody_stream_deposits_withdrawals_and_sequence_numbers(world):
    w = world
    pid = w.c.program_id
    ticker = await w.market()
    m = w.addresses(ticker)
    custody_collateral = pdas.custody_collateral(pid)
    carol = await w.user(20 * ONE)
    yes, no = await w.outcome_accounts(carol, ticker)
    ref = bytes(range(16))

    before = await w.bal(custody_collateral)
    res = await ix.deposit_collateral(w.c, carol.kp, 10 * ONE, ref, carol.collateral)
    assert event_names(res) == ["Deposited"]
    assert bytes(res.events[0].data.account_ref) == ref and res.events[0].data.is_collateral is True
    assert await w.bal(custody_collateral) == before + 10 * ONE

    res = await ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=1, amount=4 * ONE)
    assert event_names(res) == ["CustodySetMinted"] and res.events[0].data.seq == 1
    assert (await w.bal(m.custody_yes), await w.bal(m.custody_no), await w.bal(m.vault)) == (4 * ONE,) * 3
    await assert_invariant(w, ticker)
    await expect_error("NotBridgeAuthority", ix.custody_mint_set(w.c, w.keys.admin, ticker, seq=2, amount=ONE))

    res = await ix.custody_withdraw(w.c, w.keys.bridge, ticker, 2, Outcome.YES, ONE, yes)
    assert event_names(res) == ["CustodyWithdrawn"] and res.events[0].data.destination_owner == carol.pubkey
    assert (await w.bal(m.custody_yes), await w.bal(yes)) == (3 * ONE, ONE)
    res = await ix.deposit_tokens(w.c, carol.kp, ticker, Outcome.YES, ONE, b"\x07" * 16)
    assert res.events[0].data.is_collateral is False and res.events[0].data.market == m.market
    assert (await w.bal(m.custody_yes), await w.bal(yes)) == (4 * ONE, 0)

    res = await ix.custody_merge_set(w.c, w.keys.bridge, ticker, seq=3, amount=2 * ONE)
    assert event_names(res) == ["CustodySetMerged"]
    assert (await w.bal(m.custody_yes), await w.bal(m.custody_no), await w.bal(m.vault)) == (2 * ONE,) * 3
    await assert_invariant(w, ticker)

    # sequence numbers: replay refused, several in flight accepted in any order, too old refused
    await expect_error("SequenceReplayed", ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=3, amount=ONE))
    results = await asyncio.gather(*[ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=s, amount=ONE) for s in (7, 5, 6, 4)])
    assert sorted(r.events[0].data.seq for r in results) == [4, 5, 6, 7]
    await expect_error("SequenceReplayed", ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=5, amount=ONE))
    far = 7 + REPLAY_WINDOW_BITS  # the furthest jump the window allows from 7
    await expect_error("SequenceTooFarAhead", ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=far + 1, amount=ONE))
    await ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=far, amount=ONE)
    await expect_error("SequenceTooOld", ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=7, amount=ONE))
    await ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=100, amount=ONE)  # a gap inside the window
    market = await w.market_account(ticker)
    assert market.window.highest == far
    await assert_invariant(w, ticker)

    # the exchange-wide stream (custody's own window): collateral out
    custody = await w.c.fetch("Custody", pdas.custody(pid))
    seq = custody.window.highest + 1
    res = await ix.custody_withdraw_collateral(w.c, w.keys.bridge, seq, ONE, carol.collateral)
    assert event_names(res) == ["CustodyCollateralWithdrawn"] and await w.bal(carol.collateral) == 11 * ONE
    assert res.events[0].data.stream == pdas.exchange_stream(pid) and res.events[0].data.seq == seq
    await expect_error("NotTreasury", ix.custody_sweep(w.c, w.keys.bridge, seq + 1, ONE, carol.collateral))
    # the sweep takes fees only (other tests' fills may have accrued some: take those, then one more is refused)
    fees = (await w.c.fetch("Custody", pdas.custody(pid))).fees_accrued
    await expect_error("SweepExceedsFees", ix.custody_sweep(w.c, w.keys.bridge, seq + 1, fees + 1, w.setup.treasury))
    if fees:
        treasury_before = await w.bal(w.setup.treasury)
        res = await ix.custody_sweep(w.c, w.keys.bridge, seq + 1, fees, w.setup.treasury)
        assert event_names(res) == ["CustodySwept"] and await w.bal(w.setup.treasury) == treasury_before + fees
        await expect_error("SequenceReplayed", ix.custody_sweep(w.c, w.keys.bridge, seq + 1, fees, w.setup.treasury))
    # operator cash into custody from the bridge's float, on the same stream
    float_account = await fund_collateral(w.c, w.keys, w.keys.bridge.pubkey(), 2 * ONE, w.mint)
    before = await w.bal(custody_collateral)
    res = await ix.custody_fund(w.c, w.keys.bridge, seq + 2, 2 * ONE, float_account)
    assert event_names(res) == ["CustodyFunded"] and await w.bal(custody_collateral) == before + 2 * ONE
    assert (res.events[0].data.stream, res.events[0].data.seq, res.events[0].data.amount) == (pdas.exchange_stream(pid), seq + 2, 2 * ONE)
    await expect_error("SequenceReplayed", ix.custody_fund(w.c, w.keys.bridge, seq + 2, ONE, float_account))

    # custody redeems what it holds once the market is final
    await ix.close_market(w.c, w.keys.admin, ticker)
    await ix.determine(w.c, w.keys.resolver, ticker, ONE)
    await ix.finalize(w.c, w.keys.resolver, ticker)
    held_yes, held_no = await w.bal(m.custody_yes), await w.bal(m.custody_no)
    res = await ix.custody_redeem(w.c, w.keys.bridge, ticker, far + 1, held_yes, held_no)
    assert event_names(res) == ["CustodyRedeemed"] and res.events[0].data.payout == held_yes
    await assert_invariant(w, ticker)


async def test_seq_status_reads_applied_open_expired_from_the_chain(world):
    w = world
    ticker = await w.market()
    stream = w.addresses(ticker).market
    funder = await w.user(10 * ONE)
    await ix.deposit_collateral(w.c, funder.kp, 5 * ONE, b"\x00" * 16, funder.collateral)
    assert await seq_status(w.c, stream, 1) == SeqState.OPEN
    for seq in (1, 3):
        res = await ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=seq, amount=ONE)
        assert (res.events[0].data.stream, res.events[0].data.seq) == (stream, seq)
    # one bad number far ahead is refused and bricks nothing
    await expect_error("SequenceTooFarAhead", ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=3 + REPLAY_WINDOW_BITS + 1, amount=ONE))
    await ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=3 + REPLAY_WINDOW_BITS, amount=ONE)
    statuses = await seq_statuses(w.c, stream, [0, 1, 2, 3, 4, 3 + REPLAY_WINDOW_BITS, 4 + REPLAY_WINDOW_BITS])
    assert statuses == {
        0: SeqState.EXPIRED,
        1: SeqState.EXPIRED,  # applied, but older than the window: the window cannot tell any more
        2: SeqState.EXPIRED,  # never applied, and now never can be
        3: SeqState.EXPIRED,
        4: SeqState.OPEN,
        3 + REPLAY_WINDOW_BITS: SeqState.APPLIED,
        4 + REPLAY_WINDOW_BITS: SeqState.OPEN,
    }
    await expect_error("SequenceTooOld", ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=2, amount=ONE))
    await ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=4, amount=ONE)
    assert await seq_status(w.c, stream, 4) == SeqState.APPLIED
    # the exchange-wide stream is read from Custody
    custody = await w.c.fetch("Custody", pdas.custody(w.c.program_id))
    assert await seq_status(w.c, pdas.exchange_stream(w.c.program_id), custody.window.highest) == SeqState.APPLIED or custody.window.highest == 0


async def test_a_bridge_transaction_holds_many_records_and_every_event_is_read_back(world):
    """No instruction bound any more: events are inner instructions (emit_cpi!), which the
    10 kB log cut cannot reach (tests/program/log_limit.rs cuts one). 8 custody mints beside
    another program's instruction land together; 18 fills of one order in one settle_fills (about as
    many as a legacy transaction with a separate fee payer holds) land with all 18 FillSettled."""
    w = world
    pid = w.c.program_id
    ticker = await w.market()
    m = w.addresses(ticker)
    funder = await w.user(40 * ONE)
    await ix.deposit_collateral(w.c, funder.kp, 40 * ONE, b"\x00" * 16, funder.collateral)
    mints = [ix.custody_mint_set_ix(w.c, bridge=w.keys.bridge.pubkey(), ticker=ticker, seq=s, amount=4 * ONE) for s in range(1, 9)]
    other_program = transfer(TransferParams(from_pubkey=w.c.payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=2_000_000))
    res = await w.c.send_and_confirm([other_program, *mints], [w.keys.bridge])
    assert [e.data.seq for e in res.events] == list(range(1, 9))
    assert await w.bal(m.custody_yes) == 32 * ONE

    alice = await w.user(20 * ONE)
    yes, _ = await w.outcome_accounts(alice, ticker)
    await ix.place_order(w.c, alice.kp, ticker, nonce=7, side=OrderSide.BUY_YES, limit_price=500_000, size=30 * ONE, max_fee=ONE, collateral_mint=w.mint)
    order_key = pdas.wallet_order(pid, m.market, alice.pubkey, 7)
    order = await w.c.fetch("WalletOrder", order_key)
    fills = [(seq, ONE, 500_000, 17_500) for seq in range(9, 27)]
    res = await ix.settle_fills(
        w.c, w.keys.bridge, ticker=ticker, order=order_key, order_id=order.order_id, side=OrderSide.BUY_YES, fills=fills, wallet_account=yes
    )
    assert not any(line.startswith("Program data: ") for line in res.logs), "no event is logged"
    settled = [e.data for e in res.events if e.name == "FillSettled"]
    assert [e.seq for e in settled] == list(range(9, 27))
    assert [e.filled for e in settled] == [k * ONE for k in range(1, 19)]
    assert await w.bal(yes) == 18 * ONE
    order = await w.c.fetch("WalletOrder", order_key)
    assert (order.filled, order.fees_paid) == (18 * ONE, 18 * 17_500)
    assert await seq_statuses(w.c, m.market, [9, 26, 27]) == {9: SeqState.APPLIED, 26: SeqState.APPLIED, 27: SeqState.OPEN}
    # 15 custody mints as one custody_mint_sets: one event each, the sets minted once
    sets_before = await w.bal(m.custody_yes)
    res = await w.c.send_and_confirm(
        [ix.custody_mint_sets_ix(w.c, bridge=w.keys.bridge.pubkey(), ticker=ticker, records=[(seq, ONE) for seq in range(27, 42)])], [w.keys.bridge]
    )
    assert [(e.name, e.data.seq) for e in res.events] == [("CustodySetMinted", seq) for seq in range(27, 42)]
    assert await w.bal(m.custody_yes) == sets_before + 15 * ONE
    await assert_invariant(w, ticker)


# -- wallet orders --------------------------------------------------------------------------------


async def test_buy_order_fills_against_custody_within_limit_and_closes(world):
    w = world
    pid = w.c.program_id
    ticker = await w.market()
    m = w.addresses(ticker)
    alice = await w.user(10 * ONE)
    yes, _ = await w.outcome_accounts(alice, ticker)
    funder = await w.user(10 * ONE)
    await ix.deposit_collateral(w.c, funder.kp, 5 * ONE, b"\x00" * 16, funder.collateral)
    await ix.custody_mint_set(w.c, w.keys.bridge, ticker, seq=1, amount=5 * ONE)

    res = await ix.place_order(w.c, alice.kp, ticker, nonce=42, side=OrderSide.BUY_YES, limit_price=600_000, size=5 * ONE, max_fee=100_000, collateral_mint=w.mint)
    assert event_names(res) == ["OrderPlaced"]
    order_key = pdas.wallet_order(pid, m.market, alice.pubkey, 42)
    order = await w.c.fetch("WalletOrder", order_key)
    assert (order.owner, order.nonce, order.limit_price, order.size, order.escrowed) == (alice.pubkey, 42, 600_000, 5 * ONE, 3_100_000)
    assert type(order.side).__name__ == "BuyYes" and order.escrow == pdas.escrow(pid, order_key)
    assert await w.bal(order.escrow) == 3_100_000 and await w.bal(alice.collateral) == 10 * ONE - 3_100_000
    listed = await w.c.all("WalletOrder", memcmp=[(8 + 32, bytes(alice.pubkey))])
    assert [k for k, _ in listed] == [order_key]

    custody_collateral = pdas.custody_collateral(pid)
    cc_before = await w.bal(custody_collateral)
    assert order.order_id == res.events[0].data.order_id == 1, "the market's first order"
    fill = dict(ticker=ticker, order=order_key, order_id=order.order_id, side=OrderSide.BUY_YES, wallet_account=yes)
    res = await ix.settle_fill(w.c, w.keys.bridge, seq=2, size=2 * ONE, price=550_000, fee=30_000, **fill)
    assert event_names(res) == ["FillSettled"]
    e = res.events[0].data
    assert (e.size, e.price, e.cost, e.fee, e.filled) == (2 * ONE, 550_000, 1_100_000, 30_000, 2 * ONE)
    assert await w.bal(yes) == 2 * ONE and await w.bal(m.custody_yes) == 3 * ONE
    assert await w.bal(custody_collateral) == cc_before + 1_130_000
    assert await w.bal(order.escrow) == 3_100_000 - 1_130_000

    # invariant 5: never worse than the limit, never beyond the size, never above the fee budget
    await expect_error("PriceWorseThanLimit", ix.settle_fill(w.c, w.keys.bridge, seq=3, size=ONE, price=610_000, fee=0, **fill))
    await expect_error("FillExceedsSize", ix.settle_fill(w.c, w.keys.bridge, seq=3, size=4 * ONE, price=500_000, fee=0, **fill))
    # the cap is cumulative: 0.07 × (2 × .55 × .45 + 1 × .5 × .5) = 5.215 cents → 6 cents for both fills
    await expect_error("FeeAboveCap", ix.settle_fill(w.c, w.keys.bridge, seq=3, size=ONE, price=500_000, fee=30_001, **fill))
    await expect_error("InvalidPrice", ix.settle_fill(w.c, w.keys.bridge, seq=3, size=ONE, price=505_000, fee=0, **fill))
    await expect_error("InvalidSize", ix.settle_fill(w.c, w.keys.bridge, seq=3, size=ONE + 1, price=500_000, fee=0, **fill))
    await expect_error("SequenceReplayed", ix.settle_fill(w.c, w.keys.bridge, seq=2, size=ONE, price=500_000, fee=0, **fill))
    await expect_error("NotBridgeAuthority", ix.settle_fill(w.c, w.keys.admin, seq=3, size=ONE, price=500_000, fee=0, **fill))

    await expect_error("OrderIdMismatch", ix.settle_fill(w.c, w.keys.bridge, seq=3, size=ONE, price=500_000, fee=0, **{**fill, "order_id": 2}))
    res = await ix.close_order(w.c, w.keys.bridge, ticker=ticker, order=order_key, order_id=1, owner=alice.pubkey, seq=3, refund_account=alice.collateral)
    assert event_names(res) == ["OrderClosed"] and res.events[0].data.refunded == 3_100_000 - 1_130_000
    assert await w.c.fetch("WalletOrder", order_key) is None
    assert (await w.c.rpc.get_account_info(order.escrow)).value is None
    assert await w.bal(alice.collateral) == 10 * ONE - 1_130_000
    await assert_invariant(w, ticker)


async def test_sell_order_cancel_request_and_force_close(world):
    w = world
    pid = w.c.program_id
    ticker = await w.market()
    m = w.addresses(ticker)
    bob = await w.user(10 * ONE)
    _, no = await w.outcome_accounts(bob, ticker)
    await ix.mint_set(w.c, bob.kp, ticker, 3 * ONE, user_collateral=bob.collateral)
    # the order keeps the delay in force when it is placed: 40 slots (2 s), restored right after,
    # so "too early" holds however slowly a loaded machine sends the next transaction
    settings = dict(treasury=w.setup.treasury, fee_rate_bps=700, dispute_window_secs=0)
    await ix.update_settings(w.c, w.keys.admin, force_close_slots=40, **settings)
    try:
        res = await ix.place_order(w.c, bob.kp, ticker, nonce=1, side=OrderSide.SELL_NO, limit_price=300_000, size=2 * ONE, max_fee=20_000, collateral_mint=w.mint)
    finally:
        await ix.update_settings(w.c, w.keys.admin, force_close_slots=5, **settings)
    assert res.events[0].data.force_close_slots == 40
    order_key = pdas.wallet_order(pid, m.market, bob.pubkey, 1)
    assert res.events[0].data.escrowed == 2 * ONE and await w.bal(no) == ONE

    # custody pays collateral for the NO it receives: fund it first
    await ix.deposit_collateral(w.c, bob.kp, ONE, b"\x01" * 16, bob.collateral)
    collateral_before = await w.bal(bob.collateral)
    res = await ix.settle_fill(w.c, w.keys.bridge, ticker=ticker, order=order_key, order_id=1, side=OrderSide.SELL_NO, wallet_account=bob.collateral, seq=1, size=ONE, price=350_000, fee=10_000)
    assert res.events[0].data.cost == 350_000
    assert await w.bal(bob.collateral) == collateral_before + 340_000 and await w.bal(m.custody_no) == ONE
    await expect_error("PriceWorseThanLimit", ix.settle_fill(w.c, w.keys.bridge, ticker=ticker, order=order_key, order_id=1, side=OrderSide.SELL_NO, wallet_account=bob.collateral, seq=2, size=ONE, price=290_000, fee=0))

    await expect_error("CancelNotRequested", ix.force_close(w.c, bob.kp, order_key, no))
    res = await ix.request_cancel(w.c, bob.kp, order_key)
    assert event_names(res) == ["CancelRequested"]
    assert type((await w.c.fetch("WalletOrder", order_key)).status).__name__ == "CancelRequested"
    await expect_error("CancelAlreadyRequested", ix.request_cancel(w.c, bob.kp, order_key))
    await expect_error("ForceCloseTooEarly", ix.force_close(w.c, bob.kp, order_key, no))
    force_close_slot = res.events[0].data.force_close_slot
    while (await w.c.rpc.get_slot()).value < force_close_slot:
        await asyncio.sleep(0.05)
    res = await ix.force_close(w.c, bob.kp, order_key, no)
    assert event_names(res) == ["OrderClosed"] and res.events[0].data.refunded == ONE
    assert await w.bal(no) == 2 * ONE and await w.c.fetch("WalletOrder", order_key) is None
    await assert_invariant(w, ticker)


# -- error surfacing ------------------------------------------------------------------------------


async def test_program_error_carries_code_name_message_and_logs(world):
    w = world
    ticker = await w.market()
    stranger = await w.user(0)
    error = await expect_error("NotAdmin", ix.halt(w.c, stranger.kp, ticker))
    idl_errors = {e["name"]: e for e in load_modern()["errors"]}
    assert error.code == idl_errors["NotAdmin"]["code"] and error.message == idl_errors["NotAdmin"]["msg"]
    assert error.program == str(w.c.program_id)
    assert f"Program {w.c.program_id} failed: custom program error: {hex(error.code)}" in error.logs


async def test_failure_landed_without_preflight_is_named_too(world):
    w = world
    ticker = await w.market()
    stranger = await w.user(0)
    with pytest.raises(ChainError) as failed:
        await w.c.send_and_confirm([ix.halt_ix(w.c, admin=stranger.pubkey, ticker=ticker)], [stranger.kp], skip_preflight=True)
    assert failed.value.name == "NotAdmin" and failed.value.signature is not None
    status = (await w.c.rpc.get_signature_statuses([Signature.from_string(failed.value.signature)])).value[0]
    assert status is not None and status.err is not None, "the failed transaction is on chain"


async def test_account_substitution_gets_a_named_refusal(world):
    w = world
    one, other = await w.market(), await w.market()
    eve = await w.user(5 * ONE)
    yes, no = await w.outcome_accounts(eve, one)
    bad = ix.mint_set_ix(w.c, user=eve.pubkey, ticker=one, amount=ONE, user_collateral=eve.collateral, user_yes=yes, user_no=no)
    # swap in the other market's vault
    metas = list(bad.accounts)
    vault_index = [mm.pubkey for mm in metas].index(w.addresses(one).vault)
    metas[vault_index] = type(metas[vault_index])(w.addresses(other).vault, False, True)
    tampered = type(bad)(bad.program_id, bad.data, metas)
    with pytest.raises(ChainError) as failed:
        await w.c.send_and_confirm([tampered], [eve.kp])
    assert failed.value.name == "WrongMarket"


async def test_expired_cached_blockhash_is_refreshed_and_the_transaction_lands(world):
    w = world
    c = w.c
    stale = (await c.rpc.get_latest_blockhash()).value
    while (await c.rpc.get_block_height()).value <= stale.last_valid_block_height:
        await asyncio.sleep(0.2)
    c._blockhash, c.blockhash_ttl = (time.monotonic(), stale), 3600.0
    try:
        alice = await w.user(ONE)  # this send starts with the expired blockhash
        assert await w.bal(alice.collateral) == ONE
    finally:
        c.blockhash_ttl = 1.0
    assert c._blockhash[1].blockhash != stale.blockhash


def test_every_idl_instruction_has_a_typed_builder():
    assert set(ix.BUILDERS) == {i["name"] for i in load_modern()["instructions"]}


async def test_identical_calls_are_distinct_transactions(world):
    """The same instruction twice (in a row, or at once) executes twice: Solana would merge two
    byte-identical transactions into one, so the client signs the second with a newer blockhash."""
    w = world
    ticker = await w.market()
    frank = await w.user(10 * ONE)
    yes, _ = await w.outcome_accounts(frank, ticker)
    first = await ix.mint_set(w.c, frank.kp, ticker, ONE, user_collateral=frank.collateral)
    second = await ix.mint_set(w.c, frank.kp, ticker, ONE, user_collateral=frank.collateral)
    both = await asyncio.gather(*[ix.mint_set(w.c, frank.kp, ticker, ONE, user_collateral=frank.collateral) for _ in range(2)])
    assert len({first.signature, second.signature, *(r.signature for r in both)}) == 4
    assert await w.bal(yes) == 4 * ONE and await w.bal(frank.collateral) == 6 * ONE
    await assert_invariant(w, ticker)


async def test_pipelined_send_then_wait_for_finalized(world):
    """Several transactions in flight (`send`), then all awaited at `finalized` (`wait_for`)."""
    w = world
    ticker = await w.market()
    grace = await w.user(10 * ONE)
    yes, _ = await w.outcome_accounts(grace, ticker)
    ixs = [ix.mint_set_ix(w.c, user=grace.pubkey, ticker=ticker, amount=ONE, user_collateral=grace.collateral) for _ in range(5)]
    sigs = [await w.c.send([i], [grace.kp]) for i in ixs]
    assert len(set(sigs)) == 5, "identical instructions still make five transactions"
    statuses = await w.c.wait_for(sigs, commitment=Finalized)
    assert all(s.err is None and int(s.confirmation_status) == 2 for s in statuses)
    assert await w.c.token_balance(yes, commitment=Finalized) == 5 * ONE
    failing = await w.c.send([ix.merge_set_ix(w.c, user=grace.pubkey, ticker=ticker, amount=50 * ONE, user_collateral=grace.collateral)], [grace.kp], skip_preflight=True)
    (status,) = await w.c.wait_for([failing])
    assert status.err is not None, "wait_for reports a landed failure instead of waiting forever"
