"""The program's IDL, converted to the format anchorpy reads.

Anchor >= 0.30 writes the "modern" IDL (spec 0.1.0: `address`, `metadata`,
discriminators listed, account and event layouts in `types`, `pubkey`,
`{"defined": {"name": ...}}`). anchorpy 0.21 only reads the legacy (< 0.30)
format. `to_legacy` converts one into the other, mechanically and without
hand edits; anything the legacy format cannot express faithfully (generics,
tuple structs, non-Borsh layouts, 256-bit integers) is refused with
`IdlConversionError` instead of being approximated.

anchorpy computes discriminators from names (sha256 of `global:<ix>`,
`account:<Name>`, `event:<Name>`); `load_idl` checks them against the ones the
modern IDL lists and refuses to load if any differ, so a custom discriminator
can never be silently mis-encoded.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from anchorpy import Coder, Idl

IDL_PATH = Path(__file__).resolve().parents[1] / "idl" / "outcome_market.json"

# Modern primitive name -> legacy name. Absent from the map (u256/i256): no anchorpy layout.
_PRIMITIVES = {
    "bool": "bool",
    "u8": "u8",
    "i8": "i8",
    "u16": "u16",
    "i16": "i16",
    "u32": "u32",
    "i32": "i32",
    "f32": "f32",
    "u64": "u64",
    "i64": "i64",
    "f64": "f64",
    "u128": "u128",
    "i128": "i128",
    "bytes": "bytes",
    "string": "string",
    "pubkey": "publicKey",
}


class IdlConversionError(ValueError):
    """The modern IDL uses something the legacy format (or anchorpy) cannot represent faithfully."""


def convert_type(ty: Any, where: str = "type") -> Any:
    """One modern IdlType -> the legacy IdlType JSON."""
    if isinstance(ty, str):
        if ty not in _PRIMITIVES:
            raise IdlConversionError(f"{where}: type {ty!r} has no legacy/anchorpy equivalent")
        return _PRIMITIVES[ty]
    if not isinstance(ty, dict) or len(ty) != 1:
        raise IdlConversionError(f"{where}: malformed type {ty!r}")
    (kind, inner), = ty.items()
    if kind == "option":
        return {"option": convert_type(inner, where)}
    if kind == "vec":
        return {"vec": convert_type(inner, where)}
    if kind == "array":
        elem, length = inner
        if not isinstance(length, int):
            raise IdlConversionError(f"{where}: array length {length!r} is generic")
        return {"array": [convert_type(elem, where), length]}
    if kind == "defined":
        # Modern: {"name": N, "generics": [...]}; a bare string is tolerated (pre-spec output).
        if isinstance(inner, str):
            return {"defined": inner}
        if inner.get("generics"):
            raise IdlConversionError(f"{where}: generic type {inner['name']} is not supported by the legacy format")
        return {"defined": inner["name"]}
    raise IdlConversionError(f"{where}: type kind {kind!r} is not supported by the legacy format")


def _convert_named_fields(fields: list[Any], where: str) -> list[dict[str, Any]]:
    out = []
    for field in fields:
        if not isinstance(field, dict) or "name" not in field:
            raise IdlConversionError(f"{where}: tuple fields are not supported here")
        converted = {"name": field["name"], "type": convert_type(field["type"], f"{where}.{field['name']}")}
        if field.get("docs"):
            converted["docs"] = field["docs"]
        out.append(converted)
    return out


def _convert_variant_fields(fields: list[Any], where: str) -> list[Any]:
    if all(isinstance(f, dict) and "name" in f and "type" in f for f in fields):
        return _convert_named_fields(fields, where)
    return [convert_type(f, where) for f in fields]  # tuple variant


def convert_typedef_ty(typedef: dict[str, Any]) -> dict[str, Any]:
    """The `type` body of a modern IdlTypeDef -> legacy (struct / enum / alias)."""
    name = typedef["name"]
    if typedef.get("generics"):
        raise IdlConversionError(f"type {name}: generic type definitions are not supported")
    serialization = typedef.get("serialization", "borsh")
    if serialization != "borsh":
        # zero-copy (bytemuck) layouts follow repr(C) with padding; anchorpy decodes Borsh only.
        raise IdlConversionError(f"type {name}: serialization {serialization!r} is not Borsh")
    body = typedef["type"]
    kind = body["kind"]
    if kind == "struct":
        fields = body.get("fields") or []
        if fields and not isinstance(fields[0], dict):
            raise IdlConversionError(f"type {name}: tuple structs are not supported by the legacy format")
        return {"kind": "struct", "fields": _convert_named_fields(fields, name)}
    if kind == "enum":
        variants = []
        for variant in body["variants"]:
            converted: dict[str, Any] = {"name": variant["name"]}
            if variant.get("fields"):
                converted["fields"] = _convert_variant_fields(variant["fields"], f"{name}::{variant['name']}")
            variants.append(converted)
        return {"kind": "enum", "variants": variants}
    if kind == "type":
        return {"kind": "alias", "value": convert_type(body["alias"], name)}
    raise IdlConversionError(f"type {name}: kind {kind!r} unknown")


def _convert_ix_accounts(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        if "accounts" in item:  # composite (nested Accounts struct)
            out.append({"name": item["name"], "accounts": _convert_ix_accounts(item["accounts"])})
            continue
        acc: dict[str, Any] = {
            "name": item["name"],
            "isMut": bool(item.get("writable", False)),
            "isSigner": bool(item.get("signer", False)),
        }
        if item.get("optional"):
            acc["isOptional"] = True
        if item.get("docs"):
            acc["docs"] = item["docs"]
        if item.get("relations"):
            acc["relations"] = item["relations"]
        # `pda` and `address` are resolution hints; anchorpy 0.21 resolves nothing, callers pass every account.
        out.append(acc)
    return out


def _referenced_names(node: Any) -> set[str]:
    """Every type name referenced through `defined` anywhere under `node`."""
    found: set[str] = set()
    if isinstance(node, dict):
        if "defined" in node:
            inner = node["defined"]
            found.add(inner if isinstance(inner, str) else inner["name"])
        for value in node.values():
            found |= _referenced_names(value)
    elif isinstance(node, list):
        for value in node:
            found |= _referenced_names(value)
    return found


def to_legacy(modern: dict[str, Any]) -> dict[str, Any]:
    """Convert a modern Anchor IDL (spec 0.1.x) dict into the legacy dict anchorpy 0.21 loads."""
    spec = modern.get("metadata", {}).get("spec")
    if "address" not in modern or spec is None:
        raise IdlConversionError("not a modern Anchor IDL (no `address` / `metadata.spec`)")
    if not spec.startswith("0.1."):
        raise IdlConversionError(f"IDL spec {spec} is not supported (expected 0.1.x)")
    typedefs = {t["name"]: t for t in modern.get("types", [])}

    def lookup(kind: str, name: str) -> dict[str, Any]:
        if name not in typedefs:
            raise IdlConversionError(f"{kind} {name}: no type definition in `types`")
        return typedefs[name]

    accounts = [{"name": a["name"], "type": convert_typedef_ty(lookup("account", a["name"]))} for a in modern.get("accounts", [])]
    events = []
    for event in modern.get("events", []):
        ty = convert_typedef_ty(lookup("event", event["name"]))
        if ty["kind"] != "struct":
            raise IdlConversionError(f"event {event['name']}: must be a struct")
        events.append(
            {"name": event["name"], "fields": [{"name": f["name"], "type": f["type"], "index": False} for f in ty["fields"]]}
        )

    instructions = []
    for ix in modern["instructions"]:
        legacy_ix: dict[str, Any] = {
            "name": ix["name"],
            "accounts": _convert_ix_accounts(ix["accounts"]),
            "args": _convert_named_fields(ix["args"], f"instruction {ix['name']}"),
        }
        if ix.get("docs"):
            legacy_ix["docs"] = ix["docs"]
        if ix.get("returns") is not None:
            legacy_ix["returns"] = convert_type(ix["returns"], f"instruction {ix['name']} returns")
        instructions.append(legacy_ix)

    # Legacy IDLs carry account and event layouts inline, not in `types`; keep such a
    # type in `types` only when something else refers to it by name.
    inline = {a["name"] for a in accounts} | {e["name"] for e in events}
    referenced = _referenced_names([modern["instructions"], [t["type"] for t in modern.get("types", [])]])
    types = []
    for name, typedef in typedefs.items():
        if name in inline and name not in referenced:
            continue
        legacy_type: dict[str, Any] = {"name": name, "type": convert_typedef_ty(typedef)}
        if typedef.get("docs"):
            legacy_type["docs"] = typedef["docs"]
        types.append(legacy_type)
    # An account used as an instruction argument would then be found twice by anchorpy.
    doubly = {a["name"] for a in accounts} & {t["name"] for t in types} & _referenced_names(modern["instructions"])
    if doubly:
        raise IdlConversionError(f"account types used as instruction arguments: {sorted(doubly)}")

    legacy: dict[str, Any] = {
        "version": modern["metadata"]["version"],
        "name": modern["metadata"]["name"],
        "instructions": instructions,
        "accounts": accounts,
        "types": types,
        "events": events,
        "errors": [
            {"code": e["code"], "name": e["name"], **({"msg": e["msg"]} if e.get("msg") else {})}
            for e in modern.get("errors", [])
        ],
        "constants": [
            {"name": c["name"], "type": convert_type(c["type"], f"constant {c['name']}"), "value": c["value"]}
            for c in modern.get("constants", [])
        ],
        "metadata": {"address": modern["address"]},
    }
    if modern.get("docs"):
        legacy["docs"] = modern["docs"]
    return legacy


def check_discriminators(modern: dict[str, Any], idl: Idl) -> None:
    """Refuse an IDL whose listed discriminators differ from the ones anchorpy will compute."""
    coder = Coder(idl)
    mismatches = []
    for ix in modern["instructions"]:
        ours = coder.instruction.sighashes.get(ix["name"])
        if ours is None or list(ours) != ix["discriminator"]:
            mismatches.append(f"instruction {ix['name']}")
    for acc in modern.get("accounts", []):
        if list(coder.accounts.acc_name_to_discriminator[acc["name"]]) != acc["discriminator"]:
            mismatches.append(f"account {acc['name']}")
    computed_events = {name: disc for disc, name in coder.events.discriminators.items()}
    for event in modern.get("events", []):
        if list(computed_events[event["name"]]) != event["discriminator"]:
            mismatches.append(f"event {event['name']}")
    if mismatches:
        raise IdlConversionError(
            "discriminators anchorpy computes differ from the IDL's (custom discriminators?): " + ", ".join(mismatches)
        )


def load_modern(path: Path | str = IDL_PATH) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def idl_from_modern(modern: dict[str, Any]) -> Idl:
    """Convert, parse with anchorpy, and verify discriminators."""
    idl = Idl.from_json(json.dumps(to_legacy(modern)))
    check_discriminators(modern, idl)
    return idl


@lru_cache
def load_idl(path: Path | str = IDL_PATH) -> Idl:
    """The committed IDL as an anchorpy `Idl` (converted and checked)."""
    return idl_from_modern(load_modern(path))


def constant(name: str, path: Path | str = IDL_PATH) -> int:
    """A numeric constant the program exports (`#[constant]`), e.g. `REPLAY_WINDOW_BITS`:
    read from the IDL so Python never retypes the program's limits."""
    for c in load_modern(path).get("constants", []):
        if c["name"] == name:
            return int(c["value"].replace("_", ""))
    raise KeyError(f"the IDL exports no constant {name}")
