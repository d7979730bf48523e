"""The numeric constants the program exports in its IDL (idl/outcome_market.json, generated from
programs/outcome_market and committed): read here, never retyped (DESIGN.md, Tickers and units
shared with the program). exchange never imports chain/, so the JSON is read directly; once,
at import of the modules that need it."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

IDL_PATH = Path(__file__).resolve().parents[1] / "idl" / "outcome_market.json"


@cache
def constants(path: Path = IDL_PATH) -> dict[str, int]:
    """The IDL's integer constants by name."""
    with open(path, encoding="utf-8") as f:
        idl = json.load(f)
    return {c["name"]: int(c["value"]) for c in idl.get("constants", []) if str(c.get("value", "")).isdigit()}


def constant(name: str) -> int:
    """One constant; a KeyError names it if the program stopped exporting it."""
    try:
        return constants()[name]
    except KeyError:
        raise KeyError(f"the program's IDL ({IDL_PATH}) exports no constant {name}") from None
