#!/usr/bin/env python3
"""Remove each check of outcome_market in turn and record which test catches it.

Every account constraint (`has_one`, `address`, `constraint`, `token::mint`,
`token::authority`, and `seeds`/`bump` on accounts that already exist) and every `require!` /
`require_keys_eq!` of the program's handlers and state is a check. Rebuilding the program and
its tests once per check would take hours on this machine, so the script builds ONE
instrumented copy in which check N reads `crate::__mutant_off(N) || (check)`: with
`TANDEM_MUTANT=N` in the environment check N is gone, without it the program is the original
(the baseline run proves that: every test must pass). Each rewrite keeps the check's error
(Anchor's own code for `has_one`, `address`, `token::*`, `seeds`), so a test asserting a
specific refusal sees the same one.

The instrumented sources live in a copy of the workspace (`--workdir`), never in the tree;
cargo builds it into the shared target directory, where only the workspace's own crates (and
anchor-lang, which depends on the patched solana-invoke) get new artifacts. The test binaries
are then run once per check, stopping at the first failing test.

    scripts/mutate_constraints.py [--only N,M] [--out programs/outcome_market/MUTANTS.md]

`init` accounts' `seeds`/`token::*`/`mint::*` are creation parameters, not checks, and are not
removed; nor are `mut`, `close` and account types (Signer, Program, Account owner checks).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "programs" / "outcome_market"
SOURCES = sorted((PROGRAM / "src" / "instructions").glob("*.rs")) + sorted((PROGRAM / "src" / "state").glob("*.rs"))
LIB = PROGRAM / "src" / "lib.rs"
OUT = PROGRAM / "MUTANTS.md"

HELPERS = '''
// ---- mutation testing (scripts/mutate_constraints.py): present only in its instrumented build
#[doc(hidden)]
pub fn __mutant_off(id: u32) -> bool {
    static OFF: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var("TANDEM_MUTANT").ok().and_then(|v| v.parse().ok())) == Some(id)
}
#[doc(hidden)]
pub fn __pda_ok(key: Pubkey, seeds: &[&[u8]], bump: Option<u8>, program: &Pubkey) -> bool {
    match bump {
        Some(b) => {
            let bump = [b];
            let mut all = seeds.to_vec();
            all.push(&bump);
            Pubkey::create_program_address(&all, program).map(|k| k == key).unwrap_or(false)
        }
        None => Pubkey::find_program_address(seeds, program).0 == key,
    }
}
'''


@dataclass
class Mutant:
    id: int
    file: str
    line: int
    where: str  # "Struct.field" or "handler"
    check: str  # the check's text, one line
    caught_by: str | None = None
    detail: str = ""
    equivalent: str | None = None  # why no test can catch it (not run)


# Accounts of these types are created by the program only, each at its PDA: any account of the
# type that exists sits at the address its own seeds give, so removing a `seeds` check on one
# lets nothing else through (an equivalent mutant; the owner and discriminator checks of
# `Account<T>` stay). `seeds::program` checks of foreign accounts (ProgramData) are run.
PROGRAM_OWNED = ("Exchange", "Custody", "Market", "WalletOrder")

# Checks no input can fail, kept as defence in depth; their removal is an equivalent mutant.
UNREACHABLE = {
    "OutcomeError::EscrowInsufficient": "unreachable: escrow == size × limit + max_fee − Σ paid, and each fill pays at most its share",
    "wallet_account.key() != escrow.key()": "unreachable: the escrow and the wallet account always have different mints (checked first)",
}


@dataclass
class Edit:
    start: int
    end: int
    text: str


def matching(text: str, open_at: int) -> int:
    """Index of the delimiter closing the one at `open_at` (brackets, parens, braces; skips strings)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[open_at]]]
    i = open_at + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")]}":
            if ch != stack.pop():
                raise ValueError(f"unbalanced at {i}")
            if not stack:
                return i
        i += 1
    raise ValueError("unterminated")


def split_top(text: str) -> list[tuple[int, int]]:
    """Spans of the comma-separated items of `text` at nesting depth 0."""
    spans, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def key_and_value(item: str) -> tuple[str, str, str | None]:
    """`key = value @ error` -> (key, value, error)."""
    key, _, rest = item.partition("=")
    key = key.strip()
    value, error = rest, None
    depth = 0
    for i, ch in enumerate(rest):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "@" and depth == 0:
            value, error = rest[:i], rest[i + 1:]
            break
    return key, value.strip(), error.strip() if error else None


ANCHOR = "anchor_lang::error::ErrorCode::"


def rewrite_attribute(body: str, name: str, next_id, record, account_type: str = "") -> str:
    """The attribute's items with each check N turned into `constraint = __mutant_off(N) || ...`."""
    spans = split_top(body)
    items = [body[s:e].strip() for s, e in spans]
    keys = [key_and_value(it)[0] if "=" in it else it.strip() for it in items]
    if "init" in keys or "init_if_needed" in keys:
        return body
    out: list[str] = []
    seeds = bump = program = None
    for item, key in zip(items, keys):
        k, value, error = key_and_value(item) if "=" in item else (key, "", None)
        if k == "has_one":
            cond, err = f"{name}.{value} == {value}.key()", error or ANCHOR + "ConstraintHasOne"
        elif k == "address":
            cond, err = f"{name}.key() == ({value})", error or ANCHOR + "ConstraintAddress"
        elif k == "constraint":
            cond, err = f"({value})", error or ANCHOR + "ConstraintRaw"
        elif k == "token::mint":
            cond, err = f"{name}.mint == ({value}).key()", error or ANCHOR + "ConstraintTokenMint"
        elif k == "token::authority":
            cond, err = f"{name}.owner == ({value}).key()", error or ANCHOR + "ConstraintTokenOwner"
        elif k == "seeds":
            seeds = value
            continue
        elif k == "bump":
            bump = value or None
            continue
        elif k == "seeds::program":
            program = value
            continue
        else:
            out.append(item)
            continue
        mid = next_id()
        record(mid, item)
        out.append(f"constraint = crate::__mutant_off({mid}) || {cond} @ {err}")
    if seeds is not None:
        mid = next_id()
        shown = f"seeds = {seeds}, bump" + (f" = {bump}" if bump else "") + (f", seeds::program = {program}" if program else "")
        owned = next((t for t in PROGRAM_OWNED if program is None and f"Account<'info, {t}>" in account_type), None)
        record(mid, shown, f"every {owned} account sits at its own PDA" if owned else None)
        inner = seeds.strip()[1:-1]
        bump_arg = f"Some({bump})" if bump else "None"
        owner = f"&{program}" if program else "&crate::ID"
        out.append(
            f"constraint = crate::__mutant_off({mid}) || crate::__pda_ok({name}.key(), &[{inner}], {bump_arg}, {owner})"
            f" @ {ANCHOR}ConstraintSeeds"
        )
    return ", ".join(out)


def instrument(path: Path, mutants: list[Mutant]) -> str:
    text = path.read_text()
    edits: list[Edit] = []
    rel = str(path.relative_to(ROOT))

    def line_of(index: int) -> int:
        return text.count("\n", 0, index) + 1

    # account constraints
    for m in re.finditer(r"#\[account\(", text):
        open_at = m.end() - 1
        close = matching(text, open_at)
        body = text[open_at + 1 : close]
        field_m = re.compile(r"\s*(?:///[^\n]*\n\s*)*pub (\w+):\s*([^\n]+)").match(text, close + 2)
        if not field_m:
            continue
        name, account_type = field_m.group(1), field_m.group(2)
        struct = re.findall(r"pub struct (\w+)", text[: m.start()])[-1]

        def next_id() -> int:
            return len(mutants)

        def record(mid: int, item: str, equivalent: str | None = None, struct=struct, name=name, at=m.start()) -> None:
            mutants.append(Mutant(mid, rel, line_of(at), f"{struct}.{name}", one_line(item), equivalent=equivalent))

        new = rewrite_attribute(body, name, next_id, record, account_type)
        if new != body:
            edits.append(Edit(open_at + 1, close, new))

    # require! / require_keys_eq! in handlers and state
    for m in re.finditer(r"\brequire(_keys_eq)?!\(", text):
        open_at = m.end() - 1
        close = matching(text, open_at)
        args = text[open_at + 1 : close]
        fn = re.findall(r"fn (\w+)", text[: m.start()])
        where = fn[-1] if fn else "?"
        mid = len(mutants)
        mutants.append(Mutant(mid, rel, line_of(m.start()), where, one_line(text[m.start() : close + 1])))
        if m.group(1):  # require_keys_eq!(a, b, E)
            edits.append(Edit(m.start(), close + 1, f"if !crate::__mutant_off({mid}) {{ require_keys_eq!({args}); }}"))
        else:
            spans = split_top(args)
            cond_end = spans[-2][1]
            edits.append(Edit(open_at + 1, open_at + 1 + cond_end, f"crate::__mutant_off({mid}) || ({args[:cond_end].strip()})"))
    for m in mutants:
        for needle, why in UNREACHABLE.items():
            if needle in m.check and m.file == rel:
                m.equivalent = why
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: e.start] + e.text + text[e.end :]
    return text


def build(instrumented: dict[Path, str], workdir: Path) -> list[Path]:
    """Compile the test binaries from the instrumented sources, in a copy of the workspace."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    for name in ("Cargo.toml", "Cargo.lock"):
        shutil.copy2(ROOT / name, workdir / name)
    for name in ("programs", "crates", "localnet", "idl"):
        shutil.copytree(ROOT / name, workdir / name)
    for p, text in instrumented.items():
        (workdir / p.relative_to(ROOT)).write_text(text)
    # -p: the localnet binary is not rebuilt (its uplifted copy in the target dir stays the tree's)
    cmd = ["cargo", "test", "-p", "outcome_market", "--no-run", "--message-format=json"]
    env = {**os.environ, "CARGO_TARGET_DIR": os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/tandem/target"))}
    out = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        errors = [json.loads(l).get("message", {}).get("rendered", "") for l in out.stdout.splitlines() if '"compiler-message"' in l]
        sys.stderr.write("".join(e for e in errors if e)[:8000])
        raise SystemExit("the instrumented program did not build")
    bins = []
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] in ("outcome_market", "program"):
            bins.append(Path(msg["executable"]))
    keep = workdir / "bin"
    keep.mkdir()
    copied = []
    for b in bins:
        shutil.copy2(b, keep / b.name)
        copied.append(keep / b.name)
    return copied


FAILED = re.compile(r"^test (\S+) \.\.\. FAILED")

# The test modules written to pin one check each run first; the rest only if none failed.
FIRST = ["substitution::", "amounts::", "issue8::", "pause_table::", "log_limit::", "token2022::", "validation::", "sequences::"]


def run(binaries: list[Path], mutant: int | None, timeout: float, cwd: Path) -> tuple[str | None, str]:
    """The first failing test (None: all passed) and the tail of its output."""
    env = {k: v for k, v in os.environ.items() if k != "TANDEM_MUTANT"}
    if mutant is not None:
        env["TANDEM_MUTANT"] = str(mutant)
    env.setdefault("PROPTEST_CASES", "8")
    env["RUST_LOG"] = "error"
    phases = []
    for binary in binaries:
        if binary.name.startswith("program"):
            phases += [(binary, FIRST), (binary, [a for f in FIRST for a in ("--skip", f)])]
        else:
            phases.append((binary, []))
    for binary, filters in phases:
        # from the package root, as `cargo test` runs them
        proc = subprocess.Popen([str(binary), "--test-threads=2", *filters], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        try:
            for line in proc.stdout:
                lines.append(line)
                hit = FAILED.match(line)
                if hit:
                    return f"{binary.name.split('-')[0]}::{hit.group(1)}", "".join(lines[-5:])
                if time.monotonic() > deadline:
                    return "TIMEOUT", "".join(lines[-5:])
        finally:
            proc.kill()
            proc.wait()
        if proc.returncode not in (0, None, -9) and not any(l.startswith("test result: ok") for l in lines):
            if not any("test result:" in l for l in lines):
                return "CRASH", "".join(lines[-10:])
    return None, ""


def write_table(mutants: list[Mutant], path: Path, seconds: float) -> None:
    caught = sum(1 for m in mutants if m.caught_by and m.caught_by not in ("TIMEOUT", "CRASH"))
    equivalent = sum(1 for m in mutants if m.equivalent)
    rows = [
        "# Constraint removal: which test catches each check",
        "",
        "Generated by `scripts/mutate_constraints.py` (one instrumented build; check N removed when",
        "`TANDEM_MUTANT=N`; the baseline with no check removed passes every test).",
        f"{caught} of {len(mutants) - equivalent} checks caught ({equivalent} more are equivalent mutants, not run:",
        "`seeds` of accounts only the program creates, each at its own PDA, and checks no input can fail);",
        "run took {:.0f} min.".format(seconds / 60),
        "",
        "| # | where | check | caught by |",
        "| --- | --- | --- | --- |",
    ]
    for m in mutants:
        check = m.check.replace("|", "\\|")
        if len(check) > 110:
            check = check[:107] + "..."
        verdict = f"equivalent ({m.equivalent})" if m.equivalent else (m.caught_by or "**NOT CAUGHT**")
        rows.append(f"| {m.id} | `{Path(m.file).name}:{m.line}` {m.where} | `{check}` | {verdict} |")
    path.write_text("\n".join(rows) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated check numbers to run")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tandem-mutants")
    args = parser.parse_args()

    mutants: list[Mutant] = []
    instrumented = {p: instrument(p, mutants) for p in SOURCES}
    if args.list:
        for m in mutants:
            print(f"{m.id:4} {m.file}:{m.line} {m.where}: {m.check}")
        return 0
    instrumented[LIB] = LIB.read_text() + HELPERS
    started = time.monotonic()
    binaries = build(instrumented, args.workdir)
    cwd = args.workdir / PROGRAM.relative_to(ROOT)
    print(f"built {', '.join(b.name for b in binaries)}", file=sys.stderr)
    failed, detail = run(binaries, None, args.timeout, cwd)
    if failed:
        raise SystemExit(f"baseline (no check removed) fails: {failed}\n{detail}")
    only = {int(x) for x in args.only.split(",")} if args.only else None
    for m in mutants:
        if (only is not None and m.id not in only) or m.equivalent:
            continue
        m.caught_by, m.detail = run(binaries, m.id, args.timeout, cwd)
        print(f"{m.id:4} {m.where}: {m.check[:70]} -> {m.caught_by or 'NOT CAUGHT'}", file=sys.stderr, flush=True)
        write_table([x for x in mutants if only is None or x.id in only], args.out, time.monotonic() - started)
    write_table([x for x in mutants if only is None or x.id in only], args.out, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
