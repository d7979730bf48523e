#!/usr/bin/env python3
"""Generate the outcome_market IDL from the code, as `anchor idl build` does.

Anchor's `idl-build` feature adds a test, `__anchor_private_print_idl`, that prints
the IDL pieces between `--- IDL begin … ---` markers; this script runs it, assembles
the pieces, shortens module paths where unambiguous and sorts, exactly like
anchor-lang-idl's `IdlBuilder` (which we do not call because it sets RUSTFLAGS, and
that would rebuild the whole Solana runtime in the shared target directory).

    scripts/gen_idl.py                  # print the IDL
    scripts/gen_idl.py --write          # write idl/outcome_market.json
    scripts/gen_idl.py --check          # exit 1 if idl/outcome_market.json is stale
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "programs" / "outcome_market"
IDL_FILE = ROOT / "idl" / "outcome_market.json"


def run_print_test() -> str:
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "tandem" / "target"))
    env.update({
        "ANCHOR_IDL_BUILD_NO_DOCS": "FALSE",
        "ANCHOR_IDL_BUILD_RESOLUTION": "TRUE",
        "ANCHOR_IDL_BUILD_SKIP_LINT": "FALSE",
        "ANCHOR_IDL_BUILD_PROGRAM_PATH": str(PROGRAM),
    })
    # --workspace keeps feature unification identical to `cargo test --workspace`, so only
    # the anchor crates and ours build again with idl-build, never the Solana runtime.
    cmd = ["cargo", "test", "--workspace", "--lib", "--features", "idl-build",
           "__anchor_private_print_idl", "--", "--show-output", "--quiet"]
    out = subprocess.run(cmd, cwd=PROGRAM, env=env, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout)
        raise SystemExit(f"IDL build failed: {' '.join(cmd)}")
    return out.stdout


def assemble(stdout: str) -> dict:
    address, constants, events, errors, types, program = "", [], [], None, {}, None
    state, lines = None, []
    for line in stdout.splitlines():
        if state is None:
            m = re.fullmatch(r"--- IDL begin (\w+) ---", line)
            if m:
                state, lines = m.group(1), []
            continue
        if state == "address":
            address = re.sub(r"[^0-9A-Za-z]", "", line)
            state = None
            continue
        if line == f"--- IDL end {state} ---":
            body = json.loads("\n".join(lines))
            if state == "const":
                constants.append(body)
            elif state == "event":
                events.append(body["event"])
                types.update((t["name"], t) for t in body["types"])
            elif state == "errors":
                if errors is not None:
                    raise SystemExit("multiple error definitions")
                errors = body
            elif state == "program":
                program = body
            state = None
            continue
        lines.append(line)
    if program is None:
        raise SystemExit("the IDL print test printed no program (is the idl-build feature wired?)")
    types.update((t["name"], t) for t in program.get("types", []))
    idl = {"address": address, "metadata": program["metadata"]}
    if program.get("docs"):
        idl["docs"] = program["docs"]
    idl["instructions"] = program["instructions"]
    for key, value in (("accounts", program.get("accounts", [])), ("events", events), ("errors", errors or []),
                       ("types", list(types.values())), ("constants", constants)):
        if value:
            idl[key] = value
    return idl


def shorten_module_paths(idl: dict) -> dict:
    """`"a::b::Name"` -> `"Name"` wherever that introduces no conflict (anchor-lang-idl's rule)."""
    text = json.dumps(idl, separators=(",", ":"))
    for m in list(re.finditer(r'"(\w+::)+(\w+)"', text)):
        path, name = m.group(0), m.group(2)
        replaced = text.replace(path, f'"{name}"')
        if not re.search(rf'"(\w+::)+{name}"', replaced):
            text = replaced
    return json.loads(text)


def generate() -> str:
    idl = shorten_module_paths(assemble(run_print_test()))
    for key in ("accounts", "constants", "events", "instructions", "types"):
        if key in idl:
            idl[key].sort(key=lambda item: item["name"])
    return json.dumps(idl, indent=2) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {IDL_FILE.relative_to(ROOT)}")
    group.add_argument("--check", action="store_true", help="fail if the committed IDL is stale")
    args = parser.parse_args()
    text = generate()
    if args.write:
        IDL_FILE.parent.mkdir(exist_ok=True)
        IDL_FILE.write_text(text)
        print(f"wrote {IDL_FILE.relative_to(ROOT)}", file=sys.stderr)
    elif args.check:
        committed = IDL_FILE.read_text() if IDL_FILE.exists() else ""
        if committed != text:
            print(f"{IDL_FILE.relative_to(ROOT)} is stale: run `make idl` and commit it", file=sys.stderr)
            return 1
        print(f"{IDL_FILE.relative_to(ROOT)} is up to date", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
