"""The transactions the wallet endpoints hand out, as bytes (pure: no chain): an unsigned v0
message whose first account (the fee payer) is the wallet, one empty signature slot per
required signer, that a keypair alone can sign; and the address checks behind invalid_wallet."""
from __future__ import annotations

import base64

import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from api.wallet_chain import order_side, parse_address, parse_wallet, unsigned
from chain.instructions import OrderSide
from exchange.errors import InvalidRequest


def test_unsigned_v0_transaction_paid_and_signed_by_the_wallet_alone():
    wallet = Keypair()
    program = Pubkey.new_unique()
    ix = Instruction(program, b"\x01\x02", [AccountMeta(wallet.pubkey(), True, True), AccountMeta(Pubkey.new_unique(), False, True)])
    raw = base64.b64decode(unsigned(wallet.pubkey(), [ix], Hash.new_unique()))
    tx = VersionedTransaction.from_bytes(raw)
    assert isinstance(tx.message, MessageV0)
    assert tx.message.account_keys[0] == wallet.pubkey()
    assert tx.message.header.num_required_signatures == 1
    assert tx.signatures == [Signature.default()]
    signed = VersionedTransaction(tx.message, [wallet])
    assert signed.verify_with_results() == [True]


def test_wallet_addresses():
    key = Keypair().pubkey()
    assert parse_wallet(str(key)) == key
    pda = Pubkey.find_program_address([b"x"], Pubkey.new_unique())[0]
    for bad in ("", "abc", "0" * 44, str(key) + "1", str(pda)):
        with pytest.raises(InvalidRequest) as err:
            parse_wallet(bad)
        assert err.value.code == "invalid_wallet"
    assert parse_address(str(pda)) == pda  # an order is a PDA: any address is fine there
    with pytest.raises(InvalidRequest):
        parse_address("not an address")


def test_order_sides():
    assert order_side("yes", "buy") is OrderSide.BUY_YES and order_side("no", "sell") is OrderSide.SELL_NO
