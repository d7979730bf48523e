"""Every typed builder against the committed IDL, offline: the right accounts in the right
places, and every PDA the IDL can derive (its `pda.seeds`) equal to the one chain/pdas.py derives."""
from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import instructions as ix
from chain import pdas
from chain.client import ChainClient
from chain.idl import load_modern
from chain.instructions import OrderSide, Outcome

TICKER = "PDA-CHECK"
NONCE = 77
OWNER = Keypair().pubkey()
KEY = Pubkey.new_unique


@pytest.fixture(scope="module")
def client():
    # a client object only: building instructions sends nothing
    return ChainClient("http://127.0.0.1:9", Keypair())


def sample_calls(c: ChainClient) -> dict[str, dict]:
    market = pdas.market(c.program_id, TICKER)
    order = pdas.wallet_order(c.program_id, market, OWNER, NONCE)
    collateral = KEY()
    return {
        "initialize": dict(admin=KEY(), collateral_mint=collateral, treasury=KEY(), bridge_authority=KEY(), resolver_authority=KEY()),
        "update_settings": dict(admin=KEY(), treasury=KEY(), fee_rate_bps=1, force_close_slots=2, dispute_window_secs=3),
        "set_authorities": dict(admin=KEY(), new_admin=KEY(), new_bridge_authority=KEY(), new_resolver_authority=KEY()),
        "accept_authorities": dict(pending_admin=KEY()),
        "pause": dict(admin=KEY()),
        "unpause": dict(admin=KEY()),
        "create_market": dict(admin=KEY(), ticker=TICKER, close_time=2_000_000_000, collateral_mint=collateral),
        "halt": dict(admin=KEY(), ticker=TICKER),
        "resume": dict(admin=KEY(), ticker=TICKER),
        "close_market": dict(closer=KEY(), ticker=TICKER),
        "determine": dict(resolver=KEY(), ticker=TICKER, yes_payout=1),
        "finalize": dict(resolver=KEY(), ticker=TICKER),
        "mint_set": dict(user=OWNER, ticker=TICKER, amount=1, user_collateral=KEY()),
        "merge_set": dict(user=OWNER, ticker=TICKER, amount=1, user_collateral=KEY()),
        "redeem": dict(user=OWNER, ticker=TICKER, yes_amount=1, no_amount=0, user_collateral=KEY()),
        "custody_mint_set": dict(bridge=KEY(), ticker=TICKER, seq=1, amount=1),
        "custody_merge_set": dict(bridge=KEY(), ticker=TICKER, seq=1, amount=1),
        "custody_redeem": dict(bridge=KEY(), ticker=TICKER, seq=1, yes_amount=1, no_amount=1),
        "custody_withdraw": dict(bridge=KEY(), ticker=TICKER, seq=1, outcome=Outcome.NO, amount=1, destination=KEY()),
        "custody_withdraw_collateral": dict(bridge=KEY(), seq=1, amount=1, destination=KEY()),
        "custody_sweep": dict(bridge=KEY(), seq=1, amount=1, treasury=KEY()),
        "custody_fund": dict(bridge=KEY(), seq=1, amount=1, source=KEY()),
        "deposit_collateral": dict(depositor=KEY(), amount=1, account_ref=b"r" * 16, source=KEY()),
        "deposit_tokens": dict(depositor=KEY(), ticker=TICKER, outcome=Outcome.YES, amount=1, account_ref=b"r" * 16),
        "place_order": dict(owner=OWNER, ticker=TICKER, nonce=NONCE, side=OrderSide.SELL_NO, limit_price=1, size=1, max_fee=0, collateral_mint=collateral),
        "request_cancel": dict(owner=OWNER, order=order),
        "force_close": dict(owner=OWNER, order=order, refund_account=KEY()),
        "settle_fill": dict(bridge=KEY(), ticker=TICKER, order=order, order_id=1, side=OrderSide.BUY_YES, seq=1, size=1, price=1, fee=0, wallet_account=KEY()),
        "custody_mint_sets": dict(bridge=KEY(), ticker=TICKER, records=[(1, 1), (2, 3)]),
        "custody_merge_sets": dict(bridge=KEY(), ticker=TICKER, records=[(1, 1)]),
        "settle_fills": dict(bridge=KEY(), ticker=TICKER, order=order, order_id=1, side=OrderSide.BUY_YES, fills=[(1, 1, 1, 0), (2, 1, 1, 0)], wallet_account=KEY()),
        "close_order": dict(bridge=KEY(), ticker=TICKER, order=order, order_id=1, owner=OWNER, seq=1, refund_account=KEY()),
    }


def flat_accounts(items: list[dict]) -> list[dict]:
    out = []
    for item in items:
        out.extend(flat_accounts(item["accounts"]) if "accounts" in item else [item])
    return out


def seed_bytes(seed: dict, by_name: dict[str, Pubkey], c: ChainClient) -> bytes | None:
    """One IDL seed as bytes; None when it needs account data we only know by construction."""
    if seed["kind"] == "const":
        return bytes(seed["value"])
    path = seed["path"]
    known = {
        "ticker": TICKER.encode(), "market.ticker": TICKER.encode(), "nonce": NONCE.to_bytes(8, "little"),
        "order.nonce": NONCE.to_bytes(8, "little"), "order.owner": bytes(OWNER),
        "order.market": bytes(pdas.market(c.program_id, TICKER)),
    }
    if path in known:
        return known[path]
    if seed["kind"] == "account" and path in by_name:
        return bytes(by_name[path])
    return None


MODERN = load_modern()


@pytest.mark.parametrize("idl_ix", MODERN["instructions"], ids=lambda i: i["name"])
def test_builder_accounts_and_pdas_match_the_idl(client, idl_ix):
    c = client
    built = ix.BUILDERS[idl_ix["name"]](c, **sample_calls(c)[idl_ix["name"]])
    idl_accounts = flat_accounts(idl_ix["accounts"])
    assert len(built.accounts) == len(idl_accounts)
    by_name = {a["name"]: meta.pubkey for a, meta in zip(idl_accounts, built.accounts)}
    for a, meta in zip(idl_accounts, built.accounts):
        assert meta.is_signer == bool(a.get("signer")) and meta.is_writable == bool(a.get("writable")), a["name"]
        if "address" in a:
            assert str(meta.pubkey) == a["address"], a["name"]
        if a["name"] == "program":  # `#[event_cpi]`: the program itself, for its self-CPI events
            assert meta.pubkey == c.program_id
        if "pda" in a:
            seeds = [seed_bytes(s, by_name, c) for s in a["pda"]["seeds"]]
            assert None not in seeds, f"{a['name']}: unresolvable seed"
            # `seeds::program`: a PDA of another program (the ProgramData of the BPF upgradeable loader)
            program = a["pda"].get("program")
            owner = Pubkey(bytes(program["value"])) if program else c.program_id
            expected = Pubkey.find_program_address(seeds, owner)[0]
            assert meta.pubkey == expected, f"{idl_ix['name']}.{a['name']}"
    assert list(built.data[:8]) == idl_ix["discriminator"]
