"""chain/follower.py on the session localnet: gap-free, oldest first, resumable, never past a failed read."""
from __future__ import annotations

import asyncio

import pytest
from solana.rpc.commitment import Confirmed, Finalized
from solders.keypair import Keypair
from solders.signature import Signature

from chain import instructions as ix
from chain.client import ChainClient
from chain.errors import ChainError
from chain.follower import Checkpoint, FollowError, ProgramFollower
from chain.tokens import ONE
from tests.chain.world import World
from tests.indexer.rpc_proxy import FaultyRpc

pytestmark = pytest.mark.localnet


@pytest.fixture(scope="module")
async def world(own_chain):
    localnet, setup = own_chain
    payer = Keypair()
    async with ChainClient(localnet.url, payer, poll_seconds=0.02) as client:
        await client.airdrop(payer.pubkey(), 100 * 10**9)
        yield World(client, setup)


@pytest.fixture(scope="module")
def localnet(own_chain):
    return own_chain[0]


async def newest(c: ChainClient, commitment=Confirmed) -> Checkpoint | None:
    page = (await c.rpc.get_signatures_for_address(c.program_id, limit=1, commitment=commitment)).value
    return Checkpoint(page[0].slot, str(page[0].signature)) if page else None


async def collect(follower: ProgramFollower, after: Checkpoint | None):
    txs, synced = [], None
    async for batch in follower.pass_once(after):
        txs.extend(batch.txs)
        synced = batch.synced_slot if batch.synced_slot is not None else synced
    return txs, synced


async def activity(w: World):
    """A market, a user, and transactions: one with two program instructions, one that fails."""
    ticker = await w.market()
    user = await w.user(collateral=50 * ONE)
    yes, no = await w.outcome_accounts(user, ticker)
    sigs = [str((await ix.mint_set(w.c, user.kp, ticker, 3 * ONE, user_collateral=user.collateral, user_yes=yes, user_no=no)).signature)]
    m = w.addresses(ticker)
    two = await w.c.send_and_confirm(
        [
            ix.mint_set_ix(w.c, user=user.pubkey, ticker=ticker, amount=2 * ONE, user_collateral=user.collateral, user_yes=yes, user_no=no),
            ix.merge_set_ix(w.c, user=user.pubkey, ticker=ticker, amount=1 * ONE, user_collateral=user.collateral, user_yes=yes, user_no=no),
        ],
        [user.kp],
    )
    sigs.append(str(two.signature))
    # more than the user holds: fails on chain (preflight skipped), so it is listed but changes nothing
    try:
        await w.c.send_and_confirm(
            [ix.mint_set_ix(w.c, user=user.pubkey, ticker=ticker, amount=10_000 * ONE, user_collateral=user.collateral, user_yes=yes, user_no=no)],
            [user.kp], skip_preflight=True,
        )
    except ChainError as exc:
        sigs.append(exc.signature)
    else:
        raise AssertionError("the oversized mint_set should have failed")
    return ticker, m, sigs


async def test_follows_oldest_first_with_instruction_indexes(world):
    w = world
    start = await newest(w.c)
    ticker, m, sigs = await activity(w)
    follower = ProgramFollower.from_client(w.c, Confirmed)
    txs, synced = await collect(follower, start)
    seen = [t.signature for t in txs]
    assert [s for s in seen if s in sigs] == sigs, "every transaction once, oldest first"
    assert len(seen) == len(set(seen))
    slots = [t.slot for t in txs]
    assert slots == sorted(slots) and synced >= slots[-1]
    by_sig = {t.signature: t for t in txs}
    first, two, failed = (by_sig[s] for s in sigs)
    assert [(e.instruction_index, e.event_index, e.name) for e in first.events] == [(0, 0, "SetMinted")]
    assert first.events[0].fields["amount"] == 3 * ONE and first.events[0].fields["market"] == str(m.market)
    assert [(e.instruction_index, e.event_index, e.name) for e in two.events] == [(0, 0, "SetMinted"), (1, 0, "SetMerged")]
    assert failed.failed and failed.events == ()
    created = [e for t in txs for e in t.events if e.name == "MarketCreated" and e.fields["ticker"] == ticker]
    assert len(created) == 1 and created[0].fields["yes_mint"] == str(m.yes_mint)


async def test_pages_with_before_and_until_like_one_page(world):
    w = world
    start = await newest(w.c)
    await activity(w)
    end = await newest(w.c)
    whole, _ = await collect(ProgramFollower.from_client(w.c, Confirmed), start)
    paged, _ = await collect(ProgramFollower.from_client(w.c, Confirmed, page_limit=2, max_batch=3), start)
    cut = lambda txs: [t.signature for t in txs][: [t.signature for t in txs].index(end.signature) + 1]  # noqa: E731
    assert cut(paged) == cut(whole) and len(cut(whole)) >= 3


async def test_resumes_from_a_checkpoint_without_repeating(world):
    w = world
    start = await newest(w.c)
    _, _, sigs = await activity(w)
    follower = ProgramFollower.from_client(w.c, Confirmed)
    everything, _ = await collect(follower, start)
    middle = next(i for i, t in enumerate(everything) if t.signature == sigs[0])
    rest, _ = await collect(follower, everything[middle].checkpoint)
    assert [t.signature for t in rest][: len(everything) - middle - 1] == [t.signature for t in everything[middle + 1 :]]


async def test_finalized_trails_confirmed_and_catches_up(world):
    w = world
    start = await newest(w.c, Finalized)
    _, _, sigs = await activity(w)
    follower = ProgramFollower.from_client(w.c, Finalized)
    seen: list[str] = []
    checkpoint = start
    for _ in range(200):
        txs, synced = await collect(follower, checkpoint)
        seen += [t.signature for t in txs]
        checkpoint = txs[-1].checkpoint if txs else checkpoint
        if sigs[-1] in seen:
            break
        await asyncio.sleep(0.05)
    assert [s for s in seen if s in sigs] == sigs and len(seen) == len(set(seen))
    status = (await w.c.rpc.get_signature_statuses([Signature.from_string(sigs[-1])])).value[0]
    assert str(status.confirmation_status).lower().endswith("finalized")


async def test_a_failed_read_stops_the_pass_and_nothing_is_skipped(world, localnet):
    w = world
    start = await newest(w.c)
    _, _, sigs = await activity(w)
    proxy = FaultyRpc(localnet.url).start()
    try:
        async with ChainClient(proxy.url, Keypair()) as via_proxy:
            follower = ProgramFollower.from_client(via_proxy, Confirmed, max_batch=1)
            proxy.fail_signatures.add(sigs[1])
            got: list[str] = []
            checkpoint = start
            with pytest.raises(FollowError, match=sigs[1]):
                async for batch in follower.pass_once(checkpoint):
                    got += [t.signature for t in batch.txs]
                    checkpoint = batch.checkpoint
            assert sigs[0] in got and sigs[1] not in got and sigs[2] not in got, "stopped at the failed read"
            assert checkpoint.signature == got[-1]
            # the node heals: the next pass resumes right after the last transaction yielded
            proxy.fail_signatures.clear()
            rest, _ = await collect(follower, checkpoint)
            after = [t.signature for t in rest]
            assert after[:2] == sigs[1:] and not set(after) & set(got)
            # a listing that fails raises before yielding anything
            proxy.fail_methods.add("getSignaturesForAddress")
            with pytest.raises(FollowError, match="listing"):
                await collect(follower, checkpoint)
    finally:
        proxy.stop()
