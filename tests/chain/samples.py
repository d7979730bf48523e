"""Sample values for any IDL type, and a plain-Python view of what anchorpy decodes.

Used to prove that anchorpy builds and decodes every instruction, account and
event of an IDL: a value is made for each field from its type, encoded, decoded
and compared.
"""
from __future__ import annotations

import dataclasses
import hashlib
import keyword
import random
from typing import Any

from anchorpy import Idl, Program, Provider, Wallet
from anchorpy_core.idl import (
    EnumFieldsNamed,
    IdlField,
    IdlTypeArray,
    IdlTypeDefined,
    IdlTypeDefinitionTyAlias,
    IdlTypeDefinitionTyEnum,
    IdlTypeOption,
    IdlTypeSimple,
    IdlTypeVec,
)
from construct import Container, ListContainer
from pyheck import snake
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

_INT_BITS = {
    IdlTypeSimple.U8: (False, 8), IdlTypeSimple.I8: (True, 8),
    IdlTypeSimple.U16: (False, 16), IdlTypeSimple.I16: (True, 16),
    IdlTypeSimple.U32: (False, 32), IdlTypeSimple.I32: (True, 32),
    IdlTypeSimple.U64: (False, 64), IdlTypeSimple.I64: (True, 64),
    IdlTypeSimple.U128: (False, 128), IdlTypeSimple.I128: (True, 128),
}


class SampleMaker:
    """Makes values anchorpy accepts for IDL types (struct values as dicts, enums as sumtype variants)."""

    def __init__(self, idl: Idl, types_namespace: dict[str, Any], seed: int = 7) -> None:
        self.idl = idl
        self.types_ns = types_namespace
        self.rng = random.Random(seed)
        self.defs = {t.name: t for t in list(idl.types) + list(idl.accounts)}

    def value(self, ty: Any) -> Any:
        if isinstance(ty, IdlTypeSimple):
            if ty in _INT_BITS:
                signed, bits = _INT_BITS[ty]
                # extremes catch width/sign mistakes; a random middle value catches byte order ones
                choice = self.rng.choice(["max", "min", "mid"])
                if choice == "max":
                    return (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
                if choice == "min":
                    return -(1 << (bits - 1)) if signed else 0
                return self.rng.randrange(0, 1 << (bits - 1))
            if ty == IdlTypeSimple.Bool:
                return self.rng.choice([True, False])
            if ty in (IdlTypeSimple.F32, IdlTypeSimple.F64):
                return 0.5  # exactly representable in both widths
            if ty == IdlTypeSimple.Bytes:
                return bytes(self.rng.randrange(256) for _ in range(5))
            if ty == IdlTypeSimple.String:
                return "TICKER-" + str(self.rng.randrange(1000))
            if ty == IdlTypeSimple.PublicKey:
                return Pubkey(bytes(self.rng.randrange(256) for _ in range(32)))
            raise AssertionError(f"no sample for {ty}")
        if isinstance(ty, IdlTypeVec):
            return [self.value(ty.vec) for _ in range(2)]
        if isinstance(ty, IdlTypeOption):
            return None if self.rng.random() < 0.3 else self.value(ty.option)
        if isinstance(ty, IdlTypeArray):
            elem, length = ty.array
            return [self.value(elem) for _ in range(length)]
        if isinstance(ty, IdlTypeDefined):
            return self.defined(ty.defined)
        raise AssertionError(f"no sample for {ty!r}")

    def fields(self, fields: list[IdlField]) -> dict[str, Any]:
        return {snake(f.name): self.value(f.ty) for f in fields}

    def defined(self, name: str) -> Any:
        body = self.defs[name].ty
        if isinstance(body, IdlTypeDefinitionTyAlias):
            return self.value(body.value)
        if isinstance(body, IdlTypeDefinitionTyEnum):
            enum = self.types_ns[name]
            variant = self.rng.choice(body.variants)
            ctor = getattr(enum, variant.name)
            if variant.fields is None:
                return ctor()
            if isinstance(variant.fields, EnumFieldsNamed):
                return ctor(**self.fields(variant.fields.fields))
            return ctor(tuple(self.value(t) for t in variant.fields.fields))
        return self.fields(body.fields)


def _idl_name(name: str) -> str:
    return name[:-1] if name.endswith("_") and keyword.iskeyword(name[:-1]) else name


def to_plain(value: Any) -> Any:
    """Dataclasses, construct containers and sumtype variants -> dicts, lists and scalars."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # anchorpy names a field that is a Python keyword `from_`; the IDL calls it `from`
        return {_idl_name(f.name): to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (Container, dict)):
        return {k: to_plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (ListContainer, list, tuple)):
        return [to_plain(v) for v in value]
    names = getattr(type(value), "_sumtype_attribs", None)
    if names is not None:  # a sumtype (Rust enum) variant
        return {type(value).__name__: {n: to_plain(getattr(value, n)) for n, _ in names}}
    return value


def disc(preimage: str) -> list[int]:
    return list(hashlib.sha256(preimage.encode()).digest()[:8])


def synthetic() -> dict:
    """A modern (spec 0.1.0) IDL using every construct the converter handles."""
    return {
        "address": "GbKiJPjzhfbkvdEU48mCz38ykst9L4SgFvcgsTRN7DUb",
        "metadata": {"name": "sample", "version": "0.1.0", "spec": "0.1.0", "description": "synthetic"},
        "instructions": [
            {
                "name": "place_order",
                "discriminator": disc("global:place_order"),
                "docs": ["Escrow funds into a wallet order."],
                "accounts": [
                    {"name": "owner", "writable": True, "signer": True},
                    {"name": "market", "relations": ["exchange"]},
                    {"name": "order", "writable": True, "pda": {"seeds": [{"kind": "const", "value": [111]}, {"kind": "arg", "path": "nonce"}]}},
                    {"name": "referrer", "optional": True},
                    {"name": "token", "accounts": [{"name": "token_program", "address": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"}]},
                    {"name": "system_program", "address": "11111111111111111111111111111111"},
                ],
                "args": [
                    {"name": "nonce", "type": "u64"},
                    {"name": "params", "type": {"defined": {"name": "OrderParams"}}},
                    {"name": "reference", "type": {"array": ["u8", 16]}},
                    {"name": "memo", "type": {"option": "string"}},
                    {"name": "extra", "type": {"vec": "pubkey"}},
                    {"name": "price", "type": {"defined": {"name": "Price"}}},
                ],
            },
            {"name": "halt", "discriminator": disc("global:halt"), "accounts": [{"name": "admin", "signer": True}], "args": []},
        ],
        "accounts": [
            {"name": "Market", "discriminator": disc("account:Market")},
            {"name": "Order", "discriminator": disc("account:Order")},
        ],
        "events": [{"name": "OrderPlaced", "discriminator": disc("event:OrderPlaced")}],
        "errors": [{"code": 6000, "name": "Paused", "msg": "exchange paused"}, {"code": 6001, "name": "NoMessage"}],
        "types": [
            {"name": "Market", "type": {"kind": "struct", "fields": [
                {"name": "ticker", "type": "string"},
                {"name": "status", "type": {"defined": {"name": "MarketStatus"}}},
                {"name": "yes_mint", "type": "pubkey"},
                {"name": "result", "type": {"option": "u64"}},
                {"name": "window", "type": {"array": ["u64", 4]}},
                {"name": "bump", "type": "u8"},
            ]}},
            {"name": "MarketStatus", "type": {"kind": "enum", "variants": [
                {"name": "Open"},
                {"name": "Determined", "fields": [{"name": "yes_payout", "type": "u64"}]},
                {"name": "Pair", "fields": ["u8", "i64"]},
            ]}},
            {"name": "Order", "type": {"kind": "struct", "fields": [
                {"name": "owner", "type": "pubkey"},
                {"name": "params", "type": {"defined": {"name": "OrderParams"}}},
                {"name": "filled", "type": "u128"},
            ]}},
            {"name": "OrderParams", "docs": ["What the wallet signs."], "type": {"kind": "struct", "fields": [
                {"name": "side", "type": {"defined": {"name": "Side"}}},
                {"name": "limit_price", "type": "u32"},
                {"name": "size", "type": "i128"},
                {"name": "post_only", "type": "bool"},
            ]}},
            {"name": "Side", "type": {"kind": "enum", "variants": [{"name": "BuyYes"}, {"name": "SellNo"}]}},
            {"name": "OrderPlaced", "type": {"kind": "struct", "fields": [
                {"name": "order", "type": "pubkey"},
                {"name": "params", "type": {"defined": {"name": "OrderParams"}}},
                {"name": "reference", "type": {"array": ["u8", 16]}},
                {"name": "note", "type": "bytes"},
                {"name": "ratio", "type": "f64"},
                {"name": "extras", "type": {"vec": {"option": "i16"}}},
            ]}},
            {"name": "Price", "type": {"kind": "type", "alias": "u64"}},
        ],
        "constants": [{"name": "MARKET_SEED", "type": "bytes", "value": "[109, 97, 114, 107, 101, 116]"}],
    }


def program_for(idl: Idl, address: str) -> Program:
    # No request is sent: the client only needs a URL to exist.
    provider = Provider(AsyncClient("http://127.0.0.1:9"), Wallet(Keypair()))
    return Program(idl, Pubkey.from_string(address), provider)
