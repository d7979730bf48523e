"""`tandem verify-proof FILE`: a user's proof of backing checked offline, then against the chain.

Offline (indexer/proof.py): the leaf is this user's (its commit), the path rebuilds the root.
On chain (solana-py over RPC_URL): `custody_account` is the program's custody account for the
proof's ticker and asset (a PDA, so the proof cannot point at some other rich account), and
root.sum is at most what that account held at the proof's slot.

A token account's balance at a past slot is not a JSON-RPC query of its own; it is the
post-balance of the last transaction that touched the account at or before that slot
(getSignaturesForAddress, then getTransaction's postTokenBalances). Where the RPC node cannot
serve that history (pruned ledger, methods disabled), the current balance is read instead and
the report says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Finalized
from solana.rpc.core import RPCException
from solders.pubkey import Pubkey
from solders.signature import Signature

from chain import pdas
from indexer.proof import Proof, ProofError, check_backing, verify_path

MAX_HISTORY_PAGES = 20  # getSignaturesForAddress pages of 1000 walked back before giving up on history


class HistoryUnavailable(Exception):
    """The RPC node cannot say what the account held at that slot."""


@dataclass(frozen=True)
class CustodyRead:
    balance: int
    historical: bool  # True: the balance at the proof's slot; False: the current one (history unavailable)
    how: str  # a sentence for the report


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    proof: Proof | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)


def custody_account_for(program_id: Pubkey, ticker: str | None, asset: str) -> Pubkey:
    """The custody token account that backs `asset` of `ticker` (cash: custody's collateral account)."""
    if asset == "cash":
        return pdas.custody_collateral(program_id)
    market = pdas.market(program_id, ticker)
    return pdas.custody_yes(program_id, market) if asset == "yes" else pdas.custody_no(program_id, market)


def _post_amount(tx: Any, account: Pubkey) -> int | None:
    """What `account` held after transaction `tx` (getTransaction, json encoding); None if not a token account there."""
    meta = tx.transaction.meta
    keys = list(tx.transaction.transaction.message.account_keys)
    if meta.loaded_addresses is not None:  # v0 transactions: lookup-table addresses follow the static keys
        keys += list(meta.loaded_addresses.writable) + list(meta.loaded_addresses.readonly)
    for entry in meta.post_token_balances or []:
        if entry.account_index < len(keys) and keys[entry.account_index] == account:
            return int(entry.ui_token_amount.amount)
    return None


async def balance_at(rpc: AsyncClient, account: Pubkey, slot: int) -> tuple[int, str]:
    """`account`'s token balance at the end of `slot`, from its finalized transaction history."""
    try:
        first = (await rpc.get_minimum_ledger_slot()).value
    except (RPCException, SolanaRpcException):  # not every node serves it (localnet does not): assume full history
        first = 0
    if slot < first:
        raise HistoryUnavailable(f"the node's ledger starts at slot {first}")
    before: Signature | None = None
    for _ in range(MAX_HISTORY_PAGES):
        page = (await rpc.get_signatures_for_address(account, before=before, limit=1000, commitment=Finalized)).value
        for entry in page:
            if entry.slot > slot:
                continue
            tx = (await rpc.get_transaction(entry.signature, encoding="json", commitment=Finalized,
                                            max_supported_transaction_version=0)).value
            if tx is None:
                raise HistoryUnavailable(f"the node no longer serves transaction {entry.signature}")
            amount = _post_amount(tx, account)
            if amount is None:  # e.g. reached through a lookup table the node did not resolve: no guessing
                raise HistoryUnavailable(f"transaction {entry.signature} does not list the account's token balance")
            return amount, f"after transaction {entry.signature} at slot {entry.slot}"
        if len(page) < 1000:
            return 0, "no transaction touched it at or before that slot"
        before = page[-1].signature
    raise HistoryUnavailable(f"more than {MAX_HISTORY_PAGES * 1000} transactions since that slot")


async def read_custody(rpc: AsyncClient, account: Pubkey, slot: int) -> CustodyRead:
    try:
        balance, how = await balance_at(rpc, account, slot)
        return CustodyRead(balance, True, f"held at slot {slot} ({how})")
    except (HistoryUnavailable, RPCException) as exc:
        resp = await rpc.get_account_info(account, commitment=Finalized)
        current = 0 if resp.value is None else int((await rpc.get_token_account_balance(account, commitment=Finalized)).value.amount)
        return CustodyRead(current, False, f"held NOW, not at slot {slot}: the RPC cannot serve that history ({exc})")


async def verify_document(doc: Any, *, rpc_url: str | None, program_id: Pubkey) -> Report:
    """Every check in order, stopping at the first that fails; rpc_url None: the offline checks only."""
    report = Report()
    try:
        proof = report.proof = Proof.from_json(doc)
    except ProofError as exc:
        report.checks.append(Check("format", False, exc.message))
        return report
    report.checks.append(Check("format", True, "a well-formed proof"))
    try:
        verify_path(proof)
    except ProofError as exc:
        report.checks.append(Check("leaf" if exc.check == "commit" else "path", False, exc.message))
        return report
    report.checks.append(Check("leaf", True, "commit = SHA256(\"tandem-leaf\" || epoch || user_id || salt)"))
    report.checks.append(Check("path", True, f"{len(proof.path)} steps rebuild root {proof.root_hash.hex()[:16]}…, sum {proof.root_sum}"))

    what = "collateral (cash)" if proof.asset == "cash" else f"{proof.asset.upper()} of {proof.ticker}"
    try:
        expected = custody_account_for(program_id, proof.ticker, proof.asset)
    except ValueError as exc:  # a ticker no PDA can be derived from
        report.checks.append(Check("custody_account", False, f"ticker {proof.ticker!r}: {exc}"))
        return report
    if str(expected) != proof.custody_account:
        report.checks.append(Check("custody_account", False,
                                   f"{proof.custody_account} is not custody's account for {what} (that is {expected})"))
        return report
    report.checks.append(Check("custody_account", True, f"custody's account for {what} (program {program_id})"))
    if rpc_url is None:
        return report

    async with AsyncClient(rpc_url, commitment=Finalized) as rpc:
        try:
            finalized = (await rpc.get_slot(commitment=Finalized)).value
            if proof.slot > finalized:  # what custody held "at" a slot the chain may still change is no answer
                report.checks.append(Check("backing", False, f"the proof's slot {proof.slot} is not finalized yet "
                                                             f"(finalized: {finalized}); try again shortly"))
                return report
            read = await read_custody(rpc, expected, proof.slot)
        except (RPCException, SolanaRpcException) as exc:
            cause = exc.__cause__ or exc
            report.checks.append(Check("backing", False, f"cannot read the custody account over {rpc_url}: {cause}"))
            return report
    try:
        check_backing(proof, read.balance)
    except ProofError as exc:
        report.checks.append(Check("backing", False, f"{exc.message}, {read.how}"))
        return report
    report.checks.append(Check("backing", True, f"root.sum {proof.root_sum} <= {read.balance} {read.how}"))
    return report


def load(path: Path) -> Any:
    """The JSON document in `path`; ProofError("format") when it is unreadable or not JSON."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise ProofError("format", f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProofError("format", f"{path} is not JSON: {exc}") from None


def default_program_id(configured: str | None) -> Pubkey:
    """TANDEM_PROGRAM_ID when set, else the address in the program's IDL (as ChainClient does)."""
    from chain.idl import load_idl

    return Pubkey.from_string(configured or load_idl().metadata["address"])


def render(report: Report, path: Path, console: Any) -> None:
    """The report for a person: what the proof claims, each check, the verdict."""
    from rich.markup import escape

    p = report.proof
    if p is not None:
        what = "cash" if p.asset == "cash" else f"{p.asset.upper()} of {p.ticker}"
        console.print(f"proof of backing [bold]{escape(what)}[/], epoch {p.epoch} at slot {p.slot}: "
                      f"user {p.user_id} holds {p.balance} base units", soft_wrap=True)
    for check in report.checks:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        console.print(f"  {mark} {check.name:<16} {escape(check.detail)}", soft_wrap=True)
    failed = report.failed
    if failed is not None:
        console.print(f"[red bold]FAILED[/]: {failed.name}: {escape(failed.detail)}", soft_wrap=True)
    elif any(c.name == "backing" for c in report.checks):
        console.print(f"[green bold]OK[/]: {escape(str(path))} holds: the path rebuilds the root and custody holds at least root.sum",
                      soft_wrap=True)
    else:
        console.print("[green bold]OK offline[/]: the path rebuilds the root; custody's balance was NOT read (--offline)",
                      soft_wrap=True)


def run(path: Path, *, rpc_url: str | None, program_id: Pubkey) -> Report:
    import asyncio

    try:
        doc = load(path)
    except ProofError as exc:
        return Report(None, [Check("format", False, exc.message)])
    return asyncio.run(verify_document(doc, rpc_url=rpc_url, program_id=program_id))
