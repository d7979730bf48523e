"""Malformed and refused requests get a validator's JSON-RPC errors, and never hurt the chain.

Raw HTTP posts (httpx), so the exact wire shapes are checked: parse error -32700,
invalid request -32600, method not found -32601, invalid params -32602,
preflight failure -32002 (with the simulation's err and logs), signature
verification failure -32003.
"""
from __future__ import annotations

import asyncio
import base64
import os

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

pytestmark = pytest.mark.localnet


@pytest.fixture
async def http(rpc_url):
    async with httpx.AsyncClient(base_url=rpc_url, timeout=30) as c:
        yield c


async def call(http: httpx.AsyncClient, method: str, params=None, id_=1) -> dict:
    body = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        body["params"] = params
    resp = await http.post("/", json=body)
    return resp.json()


async def raw(http: httpx.AsyncClient, content: bytes | str):
    resp = await http.post("/", content=content, headers={"content-type": "application/json"})
    return resp.json()


async def funded(http: httpx.AsyncClient, lamports: int = 2_000_000_000) -> Keypair:
    kp = Keypair()
    reply = await call(http, "requestAirdrop", [str(kp.pubkey()), lamports])
    sig = reply["result"]
    for _ in range(200):
        status = (await call(http, "getSignatureStatuses", [[sig]]))["result"]["value"][0]
        if status and status["confirmationStatus"] in ("confirmed", "finalized"):
            return kp
        await asyncio.sleep(0.05)
    raise AssertionError("airdrop not confirmed")


async def blockhash(http) -> str:
    return (await call(http, "getLatestBlockhash", [{"commitment": "confirmed"}]))["result"]["value"]["blockhash"]


def signed_transfer(payer: Keypair, lamports: int, recent: str) -> bytes:
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=lamports))
    return bytes(Transaction([payer], Message([ix], payer.pubkey()), Hash.from_string(recent)))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_parse_error(http):
    reply = await raw(http, "{this is not json")
    assert reply["jsonrpc"] == "2.0" and reply["error"]["code"] == -32700 and reply["id"] is None


@pytest.mark.parametrize("body", ['{"jsonrpc":"2.0","id":3}', '"just a string"', '{"jsonrpc":"2.0","id":3,"method":12}'])
async def test_invalid_request(http, body):
    reply = await raw(http, body)
    assert reply["error"]["code"] == -32600


async def test_method_not_found_keeps_the_id(http):
    reply = await call(http, "getEverything", [], id_=77)
    assert reply["error"]["code"] == -32601 and reply["id"] == 77


@pytest.mark.parametrize(
    "method, params",
    [
        ("getBalance", ["not-a-pubkey"]),
        ("getBalance", []),
        ("getAccountInfo", [12345]),
        ("getSignaturesForAddress", [str(Keypair().pubkey()), {"limit": 5000}]),
        ("getSignatureStatuses", ["not-a-list"]),
        ("getTransaction", ["xyz"]),
        ("getMinimumBalanceForRentExemption", ["many"]),
        ("getProgramAccounts", [str(Keypair().pubkey()), {"filters": [{"memcmp": {"offset": 0}}]}]),
        ("sendTransaction", ["!!!!not-base58!!!!"]),
        ("sendTransaction", [b64(os.urandom(200)), {"encoding": "base64"}]),
        ("sendTransaction", [b64(b"\x01" + os.urandom(1400)), {"encoding": "base64"}]),
        ("sendTransaction", ["AAAA", {"encoding": "klingon"}]),
    ],
)
async def test_invalid_params(http, method, params):
    reply = await call(http, method, params)
    assert "error" in reply, reply
    assert reply["error"]["code"] == -32602, reply


async def test_oversize_transaction_is_refused_with_its_size(http):
    reply = await call(http, "sendTransaction", [b64(os.urandom(1300)), {"encoding": "base64"}])
    assert reply["error"]["code"] == -32602
    assert "too large" in reply["error"]["message"]


async def test_preflight_failure_carries_err_and_logs(http):
    payer = await funded(http, 1_000_000_000)
    tx = signed_transfer(payer, 50_000_000_000, await blockhash(http))
    reply = await call(http, "sendTransaction", [b64(tx), {"encoding": "base64"}])
    error = reply["error"]
    assert error["code"] == -32002
    assert error["message"].startswith("Transaction simulation failed")
    assert error["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]}  # system program: insufficient funds
    assert any("insufficient lamports" in line or "failed: custom program error: 0x1" in line for line in error["data"]["logs"])
    balance = (await call(http, "getBalance", [str(payer.pubkey()), {"commitment": "confirmed"}]))["result"]["value"]
    assert balance == 1_000_000_000


async def test_unknown_blockhash_is_a_preflight_failure(http):
    payer = await funded(http)
    tx = signed_transfer(payer, 1, str(Hash.new_unique()))
    reply = await call(http, "sendTransaction", [b64(tx), {"encoding": "base64"}])
    assert reply["error"]["code"] == -32002
    assert reply["error"]["data"]["err"] == "BlockhashNotFound"


async def test_bad_signature_is_refused(http):
    payer = await funded(http)
    tx = bytearray(signed_transfer(payer, 1, await blockhash(http)))
    tx[10] ^= 0xFF  # inside the signature
    reply = await call(http, "sendTransaction", [b64(bytes(tx)), {"encoding": "base64"}])
    assert reply["error"]["code"] == -32003


async def test_skip_preflight_lands_a_failing_transaction_with_its_error(http):
    payer = await funded(http, 1_000_000_000)
    tx = signed_transfer(payer, 50_000_000_000, await blockhash(http))
    sig = (await call(http, "sendTransaction", [b64(tx), {"encoding": "base64", "skipPreflight": True}]))["result"]
    for _ in range(200):
        status = (await call(http, "getSignatureStatuses", [[sig]]))["result"]["value"][0]
        if status and status["confirmationStatus"] in ("confirmed", "finalized"):
            break
        await asyncio.sleep(0.05)
    assert status["err"] == {"InstructionError": [0, {"Custom": 1}]}
    got = (await call(http, "getTransaction", [sig, {"commitment": "confirmed", "encoding": "json"}]))["result"]
    assert got["meta"]["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert got["meta"]["fee"] == 5000
    assert got["meta"]["preBalances"][0] - got["meta"]["postBalances"][0] == 5000, "a failed transaction still pays its fee"


async def test_blockhash_validity(http):
    recent = await blockhash(http)
    assert (await call(http, "isBlockhashValid", [recent, {"commitment": "processed"}]))["result"]["value"] is True
    assert (await call(http, "isBlockhashValid", [str(Hash.new_unique())]))["result"]["value"] is False


async def test_health_and_batch(http):
    assert (await call(http, "getHealth"))["result"] == "ok"
    resp = await http.post("/", json=[
        {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
    ])
    replies = {r["id"]: r for r in resp.json()}
    assert isinstance(replies[1]["result"], int) and replies[2]["error"]["code"] == -32601


async def test_chain_keeps_serving_after_garbage(http):
    before = (await call(http, "getSlot", [{"commitment": "processed"}]))["result"]
    for junk in [b"\x00\xff" * 100, b"[" * 1000, b"{}", b"null", os.urandom(3000)]:
        await http.post("/", content=junk, headers={"content-type": "application/json"})
    payer = await funded(http)
    assert (await call(http, "getBalance", [str(payer.pubkey()), {"commitment": "confirmed"}]))["result"]["value"] == 2_000_000_000
    # with no commitment a validator answers at `finalized`, which trails: eventually the same
    for _ in range(200):
        if (await call(http, "getBalance", [str(payer.pubkey())]))["result"]["value"] == 2_000_000_000:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the airdrop never reached finalized")
    after = (await call(http, "getSlot", [{"commitment": "processed"}]))["result"]
    assert after > before
