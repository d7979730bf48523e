"""The IDL converter (modern Anchor IDL -> the legacy format anchorpy 0.21 reads).

Two halves: unit tests of the converter on a small synthetic IDL that uses every
construct, and the proof on the committed, generated `idl/outcome_market.json`
that `anchorpy.Program` builds every instruction and decodes every account and
event (encode -> decode round trips).
"""
from __future__ import annotations

import base64
import copy
import json

import pytest
from anchorpy import Context
from anchorpy.program.common import NamedInstruction
from anchorpy.program.event import EventParser
from anchorpy_core.idl import IdlAccounts
from solders.pubkey import Pubkey

from chain.idl import IDL_PATH, IdlConversionError, convert_type, idl_from_modern, load_modern, to_legacy

from .samples import SampleMaker, program_for, synthetic, to_plain


def assert_anchorpy_roundtrips(modern: dict, *, only: str | None = None) -> int:
    """Build every instruction and encode/decode every account and event; returns how many were checked."""
    idl = idl_from_modern(modern)
    program = program_for(idl, modern["address"])
    samples = SampleMaker(idl, program.type)
    modern_disc = {("ix", i["name"]): i["discriminator"] for i in modern["instructions"]}
    modern_disc |= {("account", a["name"]): a["discriminator"] for a in modern.get("accounts", [])}
    modern_disc |= {("event", e["name"]): e["discriminator"] for e in modern.get("events", [])}
    checked = 0

    for idl_ix in idl.instructions:
        if only and only != idl_ix.name:
            continue
        metas: list[tuple[Pubkey, bool, bool]] = []

        def accounts_for(items) -> dict:
            out = {}
            for item in items:
                if isinstance(item, IdlAccounts):
                    out[item.name] = accounts_for(item.accounts)
                else:
                    key = Pubkey.new_unique()
                    out[item.name] = key
                    metas.append((key, item.is_mut, item.is_signer))
            return out

        accounts = accounts_for(idl_ix.accounts)
        args = samples.fields(idl_ix.args)
        ix = program.instruction[idl_ix.name](*args.values(), ctx=Context(accounts=accounts))
        assert ix.program_id == program.program_id
        assert [(m.pubkey, m.is_writable, m.is_signer) for m in ix.accounts] == metas
        assert list(ix.data[:8]) == modern_disc[("ix", idl_ix.name)]
        decoded = program.coder.instruction.parse(ix.data)
        assert decoded.name == idl_ix.name
        assert to_plain(decoded.data) == to_plain(args)
        checked += 1

    for acc in idl.accounts:
        if only and only != acc.name:
            continue
        value = samples.fields(acc.ty.fields)
        raw = program.coder.accounts.build(NamedInstruction(name=acc.name, data=value))
        assert list(raw[:8]) == modern_disc[("account", acc.name)]
        assert to_plain(program.coder.accounts.decode(raw)) == to_plain(value)
        checked += 1

    pid = str(program.program_id)
    for event in idl.events or []:
        if only and only != event.name:
            continue
        value = samples.fields(event.fields)
        raw = bytes(modern_disc[("event", event.name)]) + program.coder.events.layouts[event.name].build(value)
        logs = [f"Program {pid} invoke [1]", "Program data: " + base64.b64encode(raw).decode(), f"Program {pid} success"]
        seen = []
        EventParser(program.program_id, program.coder).parse_logs(logs, seen.append)
        assert [e.name for e in seen] == [event.name]
        assert to_plain(seen[0].data) == to_plain(value)
        checked += 1
    return checked


# -- converter unit tests ----------------------------------------------------------------


def test_primitive_and_compound_types():
    assert convert_type("pubkey") == "publicKey"
    assert convert_type("u128") == "u128"
    assert convert_type({"vec": {"option": "pubkey"}}) == {"vec": {"option": "publicKey"}}
    assert convert_type({"array": [{"array": ["u8", 2]}, 3]}) == {"array": [{"array": ["u8", 2]}, 3]}
    assert convert_type({"defined": {"name": "Side"}}) == {"defined": "Side"}
    assert convert_type({"defined": {"name": "Side", "generics": []}}) == {"defined": "Side"}


@pytest.mark.parametrize(
    "ty",
    [
        "u256",
        "i256",
        {"defined": {"name": "Wrapper", "generics": [{"kind": "type", "type": "u8"}]}},
        {"array": ["u8", {"generic": "N"}]},
        {"generic": "T"},
        {"hashMap": ["u8", "u8"]},
        {"vec": "u8", "option": "u8"},
    ],
)
def test_types_without_faithful_legacy_form_are_refused(ty):
    with pytest.raises(IdlConversionError):
        convert_type(ty)


def test_instruction_accounts_flags_groups_and_optional():
    legacy = to_legacy(synthetic())
    place = legacy["instructions"][0]
    assert place["name"] == "place_order" and place["docs"] == ["Escrow funds into a wallet order."]
    assert place["accounts"] == [
        {"name": "owner", "isMut": True, "isSigner": True},
        {"name": "market", "isMut": False, "isSigner": False, "relations": ["exchange"]},
        {"name": "order", "isMut": True, "isSigner": False},
        {"name": "referrer", "isMut": False, "isSigner": False, "isOptional": True},
        {"name": "token", "accounts": [{"name": "token_program", "isMut": False, "isSigner": False}]},
        {"name": "system_program", "isMut": False, "isSigner": False},
    ]
    assert place["args"][1] == {"name": "params", "type": {"defined": "OrderParams"}}
    assert place["args"][4] == {"name": "extra", "type": {"vec": "publicKey"}}


def test_accounts_and_events_are_inlined_and_leave_types_unless_referenced():
    legacy = to_legacy(synthetic())
    assert [a["name"] for a in legacy["accounts"]] == ["Market", "Order"]
    assert legacy["accounts"][0]["type"]["fields"][2] == {"name": "yes_mint", "type": "publicKey"}
    event = legacy["events"][0]
    assert event["name"] == "OrderPlaced"
    assert event["fields"][0] == {"name": "order", "type": "publicKey", "index": False}
    names = [t["name"] for t in legacy["types"]]
    assert names == ["MarketStatus", "OrderParams", "Side", "Price"]
    assert legacy["types"][1]["docs"] == ["What the wallet signs."]


def test_account_type_referenced_by_another_type_stays_in_types():
    modern = synthetic()
    modern["types"].append({"name": "Holder", "type": {"kind": "struct", "fields": [{"name": "order", "type": {"defined": {"name": "Order"}}}]}})
    names = [t["name"] for t in to_legacy(modern)["types"]]
    assert "Order" in names and "Holder" in names


def test_enum_variants_alias_errors_constants_metadata():
    legacy = to_legacy(synthetic())
    status = next(t for t in legacy["types"] if t["name"] == "MarketStatus")
    assert status["type"] == {"kind": "enum", "variants": [
        {"name": "Open"},
        {"name": "Determined", "fields": [{"name": "yes_payout", "type": "u64"}]},
        {"name": "Pair", "fields": ["u8", "i64"]},
    ]}
    assert next(t for t in legacy["types"] if t["name"] == "Price")["type"] == {"kind": "alias", "value": "u64"}
    assert legacy["errors"] == [{"code": 6000, "name": "Paused", "msg": "exchange paused"}, {"code": 6001, "name": "NoMessage"}]
    assert legacy["constants"] == [{"name": "MARKET_SEED", "type": "bytes", "value": "[109, 97, 114, 107, 101, 116]"}]
    assert legacy["metadata"] == {"address": "GbKiJPjzhfbkvdEU48mCz38ykst9L4SgFvcgsTRN7DUb"}
    assert (legacy["name"], legacy["version"]) == ("sample", "0.1.0")


def test_converter_does_not_modify_its_input():
    modern = synthetic()
    before = copy.deepcopy(modern)
    to_legacy(modern)
    assert modern == before


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m["types"][2].update(serialization="bytemuck"), "not Borsh"),
        (lambda m: m["types"][2].update(generics=[{"kind": "type", "name": "T"}]), "generic"),
        (lambda m: m["types"][2]["type"].update(fields=["u8", "u64"]), "tuple structs"),
        (lambda m: m["types"].pop(0), "Market: no type definition"),
        (lambda m: m["types"][6]["type"].update(kind="union"), "unknown"),
        (lambda m: m.pop("address"), "not a modern Anchor IDL"),
        (lambda m: m["metadata"].update(spec="0.2.0"), "spec 0.2.0"),
    ],
)
def test_unsupported_idls_are_refused(mutate, message):
    modern = synthetic()
    mutate(modern)
    with pytest.raises(IdlConversionError, match=message):
        to_legacy(modern)


@pytest.mark.parametrize(
    "mutate, what",
    [
        (lambda m: m["instructions"][1].update(discriminator=[1, 2, 3, 4, 5, 6, 7, 8]), "instruction halt"),
        (lambda m: m["accounts"][1].update(discriminator=[9] * 8), "account Order"),
        (lambda m: m["events"][0].update(discriminator=[1]), "event OrderPlaced"),
    ],
)
def test_custom_discriminators_fail_loudly(mutate, what):
    modern = synthetic()
    mutate(modern)
    with pytest.raises(IdlConversionError, match=what):
        idl_from_modern(modern)


def test_synthetic_idl_roundtrips_through_anchorpy():
    # 2 instructions + 2 accounts + 1 event
    assert assert_anchorpy_roundtrips(synthetic()) == 5


def test_legacy_output_is_plain_json():
    legacy = to_legacy(synthetic())
    assert json.loads(json.dumps(legacy)) == legacy


# -- the committed, generated IDL ---------------------------------------------------------

COMMITTED = load_modern() if IDL_PATH.exists() else None


def test_committed_idl_is_present_and_modern():
    assert COMMITTED is not None, f"{IDL_PATH} is missing (generated by the program's idl-build)"
    assert COMMITTED["metadata"]["name"] == "outcome_market"
    assert COMMITTED["metadata"]["spec"].startswith("0.1.")


def _names(kind: str) -> list[str]:
    return [item["name"] for item in (COMMITTED or {}).get(kind, [])]


@pytest.mark.parametrize("name", _names("instructions"))
def test_committed_instruction_builds_and_decodes(name):
    assert assert_anchorpy_roundtrips(COMMITTED, only=name) == 1


@pytest.mark.parametrize("name", _names("accounts"))
def test_committed_account_roundtrips(name):
    assert assert_anchorpy_roundtrips(COMMITTED, only=name) == 1


@pytest.mark.parametrize("name", _names("events"))
def test_committed_event_roundtrips(name):
    assert assert_anchorpy_roundtrips(COMMITTED, only=name) == 1


def test_committed_idl_checked_as_a_whole():
    total = len(_names("instructions")) + len(_names("accounts")) + len(_names("events"))
    assert total > 0
    assert assert_anchorpy_roundtrips(COMMITTED) == total
