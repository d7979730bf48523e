"""Sample values for any IDL type, and a plain-Python view of what anchorpy decodes.

Used to prove that anchorpy builds and decodes every instruction, account and
event of an IDL: a value is made for each field from its type, encoded, decoded
and compared.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Any

from anchorpy import Idl
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


def to_plain(value: Any) -> Any:
    """Dataclasses, construct containers and sumtype variants -> dicts, lists and scalars."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (Container, dict)):
        return {k: to_plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (ListContainer, list, tuple)):
        return [to_plain(v) for v in value]
    names = getattr(type(value), "_sumtype_attribs", None)
    if names is not None:  # a sumtype (Rust enum) variant
        return {type(value).__name__: {n: to_plain(getattr(value, n)) for n, _ in names}}
    return value
