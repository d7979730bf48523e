"""The indexer process: two followers, the reconciliation loop, what the HTTP side serves.

- The confirmed follower stores events as soon as they are confirmed (wallet orders show as
  pending, the dashboard moves at once).
- The reconciliation loop polls getSlot(finalized). For each new finalized slot it reads the
  chain side (chain_reads), brings the finalized follower up to at least that slot (events and
  derived state stored, checkpoint advanced in the same transaction), takes one snapshot of
  the ledger (exchange.ledger_queries), computes the report (reconcile, sequencing), records
  breaks (opened with their first slot, cleared when healed) and pushes the report to
  subscribers. Custodial sums are kept incrementally from the ledger entries added since the
  previous pass, and recomputed in full every `full_every_s` (which is what catches a ledger
  row changed behind the exchange's back).
- Every `balance_check_s` the derived balances are compared with account reads.

Database work runs in worker threads (`asyncio.to_thread`), the event loop only waits.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from solana.rpc.commitment import Confirmed, Finalized
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from chain import pdas
from chain.invariants import redeemable
from chain.client import ChainClient
from chain.follower import FollowError, ProgramFollower
from chain.pdas import MarketAddresses
from exchange import ledger_queries as LQ
from exchange.db import Database
from indexer import breaks as B
from indexer import models as T
from indexer.chain_reads import WINDOW_BITS, ChainState, InconsistentRead, read_state, read_token_accounts
from indexer.db import open_database
from indexer.derive import MarketInfo
from indexer.ingest import CONFIRMED, EXCHANGE_STREAM, FINALIZED, Store, _insert
from indexer.reconcile import (
    BRIDGE_LAG, CASH, CUSTODY_NO, CUSTODY_YES, SEQ_DUPLICATE, SEQ_MISSING, SEQ_UNKNOWN, SUPPLY, VAULT, WALLET_LIMIT,
    Break, Effect, MarketRow, Report, Window, bridge_lag, cash_backing, invariant_1, invariant_2, pending_effect,
)
from indexer.sequencing import ChainSeq, check_stream, expected_event

log = logging.getLogger("tandem.indexer")


@dataclass(frozen=True)
class IndexerConfig:
    """Everything the indexer is handed (tandem/settings.py builds it; nothing here reads the environment)."""

    rpc_url: str
    db_url: str
    program_id: str | None = None
    host: str = "127.0.0.1"
    port: int = 8001
    poll_s: float = 0.4  # getSlot(finalized) polling
    confirmed_poll_s: float = 0.4
    full_every_s: float = 10.0  # full recomputation of the custodial sums
    lag_max_seqs: int = 256
    lag_max_s: float = 60.0
    gap_grace_slots: int = 64
    sample_s: float = 1.0
    balance_check_s: float = 10.0
    webhook_url: str | None = None
    follow_confirmed: bool = True
    proof_epoch_slots: int = 150  # proof of backing: an epoch every N finalized slots (indexer/epochs.py)
    proof_keep_epochs: int = 48

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "IndexerConfig":
        """From `tandem.settings.Settings` (flags given as overrides)."""
        values = dict(
            rpc_url=settings.rpc_url, db_url=settings.db_url, program_id=settings.program_id, host=settings.indexer_host,
            port=settings.indexer_port, poll_s=settings.indexer_poll_s, confirmed_poll_s=settings.indexer_poll_s,
            full_every_s=settings.indexer_full_every_s, lag_max_seqs=settings.indexer_lag_max_seqs,
            lag_max_s=settings.indexer_lag_max_s, gap_grace_slots=settings.indexer_gap_grace_slots,
            sample_s=settings.indexer_sample_s, balance_check_s=settings.indexer_balance_check_s,
            webhook_url=settings.indexer_webhook_url, proof_epoch_slots=settings.proof_epoch_slots,
            proof_keep_epochs=settings.proof_keep_epochs,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


LOOKBACK = 1_000  # ledger entry ids read back each pass (see Indexer._ledger_totals)
# Deposits credited this recently may postdate a pass's chain read (credited at finalized, after it).
DEPOSIT_LOOKBACK_MS = 600_000


@dataclass
class _Ledger:
    """The custodial sums as of the last pass, when they were last recomputed in full, and the
    custodial entry ids of the last LOOKBACK already counted."""

    totals: LQ.Totals | None = None
    full_at: float = 0.0
    counted: set = field(default_factory=set)


@dataclass
class PassTiming:
    chain_s: float = 0.0
    follow_s: float = 0.0
    ledger_s: float = 0.0
    full: bool = False


class Indexer:
    def __init__(self, config: IndexerConfig, db: Database | None = None) -> None:
        self.config = config
        self.db = db or open_database(config.db_url)
        program_id = Pubkey.from_string(config.program_id) if config.program_id else None
        self.client = ChainClient(config.rpc_url, Keypair(), commitment=Finalized, program_id=program_id)
        self.store = Store(self.db, self.client.program_id)
        self.confirmed = ProgramFollower.from_client(self.client, Confirmed)
        self.finalized = ProgramFollower.from_client(self.client, Finalized)
        self.report: Report | None = None
        self.last_timing = PassTiming()
        self.subscribers: set[asyncio.Queue] = set()
        self._ledger = _Ledger()
        self._verified: dict[str, int] = self._load_verified()  # stream -> seq verified for invariant 3
        self._verified_saved = dict(self._verified)
        self._dup_checked_event_id = 0
        self._dups: list[Break] = []
        self._last_sample = 0.0
        self._last_balance_check = 0.0
        self._landed_total = self._count_landed()
        self._http = httpx.AsyncClient(timeout=5)
        self._finalized_synced = self.store.checkpoint(FINALIZED)[1]

    async def close(self) -> None:
        await self.client.close()
        await self._http.aclose()
        self.db.dispose()

    # -- followers ---------------------------------------------------------------------------
    async def follow_confirmed(self) -> None:
        """Forever; a failure to store ends the follow, which restarts from the durable checkpoint."""
        while True:
            try:
                checkpoint, _ = await asyncio.to_thread(self.store.checkpoint, CONFIRMED)
                async for batch in self.confirmed.follow(checkpoint, interval=self.config.confirmed_poll_s):
                    await asyncio.to_thread(self.store.store, CONFIRMED, batch)
                    if batch.txs:
                        self.publish("wallet_orders", None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("confirmed follower failed; restarting from its checkpoint")
                await asyncio.sleep(1.0)

    async def catch_up_finalized(self, slot: int) -> bool:
        """Store every finalized program transaction up to at least `slot`; False if a read failed."""
        while self._finalized_synced < slot:
            checkpoint, _ = await asyncio.to_thread(self.store.checkpoint, FINALIZED)
            try:
                async for batch in self.finalized.pass_once(checkpoint):
                    await asyncio.to_thread(self.store.store, FINALIZED, batch)
                    self._landed_total += sum(1 for tx in batch.txs for ev in tx.events if ev.fields.get("seq"))
                    if batch.synced_slot is not None:
                        self._finalized_synced = max(self._finalized_synced, batch.synced_slot)
            except FollowError as exc:
                log.warning("finalized follower: %s", exc)
                return False
            if self._finalized_synced < slot:
                await asyncio.sleep(0.05)
        return True

    def _load_verified(self) -> dict[str, int]:
        with self.db.reader.connect() as conn:
            return {s: int(v) for s, v in conn.execute(select(T.seq_progress.c.stream, T.seq_progress.c.verified_through))}

    def _save_verified(self, conn) -> None:
        changed = {s: v for s, v in self._verified.items() if self._verified_saved.get(s) != v}
        now = _now_ms()
        for stream, through in changed.items():
            stmt = _insert(conn, T.seq_progress).values(stream=stream, verified_through=through, updated_ms=now)
            conn.execute(stmt.on_conflict_do_update(index_elements=["stream"], set_={"verified_through": through, "updated_ms": now}))
        self._verified_saved.update(changed)

    def _count_landed(self) -> int:
        with self.db.reader.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(T.events).where(T.events.c.finalized.is_(True), T.events.c.seq > 0)
            ).scalar_one()

    # -- reconciliation ----------------------------------------------------------------------
    async def run_reconciliation(self) -> None:
        last = -1
        while True:
            try:
                slot = (await self.client.rpc.get_slot(commitment=Finalized)).value
                if slot > last:
                    await self.reconcile_once()
                    last = self.report.slot if self.report else slot
            except asyncio.CancelledError:
                raise
            except (OperationalError, ProgrammingError) as exc:
                # the exchange has not migrated its tables yet (the indexer migrates only its own)
                log.warning("reconciliation waits for the exchange's database: %s", str(exc).splitlines()[0])
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("reconciliation pass failed; retrying")
                await asyncio.sleep(1.0)
            await asyncio.sleep(self.config.poll_s)

    def _markets(self) -> list[MarketInfo]:
        known = self.store.tickers()
        try:
            with LQ.snapshot(self.db) as conn:
                ledger = LQ.market_tickers(conn)
        except Exception:  # the exchange has not migrated its tables yet
            ledger = []
        for ticker in ledger:
            if ticker not in known:
                m = MarketAddresses.derive(self.client.program_id, ticker)
                known[ticker] = MarketInfo(str(m.market), ticker, str(m.yes_mint), str(m.no_mint), str(m.vault), str(m.custody_yes), str(m.custody_no))
        return sorted(known.values(), key=lambda m: m.ticker)

    async def reconcile_once(self) -> Report:
        timing = PassTiming()
        t0 = time.perf_counter()
        markets = await asyncio.to_thread(self._markets)
        checked = {SUPPLY, VAULT, CUSTODY_YES, CUSTODY_NO, CASH, SEQ_MISSING, SEQ_DUPLICATE, SEQ_UNKNOWN, WALLET_LIMIT, BRIDGE_LAG}
        try:
            state = await read_state(self.client, markets)
        except InconsistentRead as exc:
            log.info("%s; this pass skips the checks that need one state", exc)
            return self.report  # type: ignore[return-value]
        t1 = time.perf_counter()
        if not await self.catch_up_finalized(state.slot):
            checked -= {SEQ_MISSING, SEQ_DUPLICATE, SEQ_UNKNOWN, WALLET_LIMIT}
        t2 = time.perf_counter()
        report, transitions, full = await asyncio.to_thread(self._reconcile_sync, state, markets, checked)
        t3 = time.perf_counter()
        timing.chain_s, timing.follow_s, timing.ledger_s, timing.full = t1 - t0, t2 - t1, t3 - t2, full
        self.last_timing = timing
        self.report = report
        for t in transitions:
            self._announce(t)
        self.publish("reconciliation", report.body())
        if self.subscribers:
            self.publish("bridge", await asyncio.to_thread(self.bridge_body))
        await self._proof_epoch(report.slot)
        now = time.monotonic()
        if now - self._last_balance_check >= self.config.balance_check_s:
            self._last_balance_check = now
            try:
                await self.check_balances()
            except Exception:
                log.exception("balance check failed")
        return report

    async def _proof_epoch(self, slot: int) -> None:
        """The proof of backing's epoch, when one is due (indexer/epochs.py; cheap otherwise)."""
        try:
            from indexer.epochs import publish_epoch
        except ImportError:  # not landed
            return
        try:
            summary = await publish_epoch(self.db, self.client.rpc, finalized_slot=slot, epoch_slots=self.config.proof_epoch_slots,
                                          program_id=self.client.program_id, keep_epochs=self.config.proof_keep_epochs)
        except Exception:
            log.exception("proof epoch at slot %d failed; the next pass retries", slot)
            return
        if summary is not None:
            self.publish("proof_epoch", summary.body())

    def _ledger_totals(self, conn) -> tuple[LQ.Totals, bool]:
        """The custodial sums: in full every `full_every_s`, else the previous sums plus the entries
        added since. Entries are read back over the last LOOKBACK ids and each id counted once, so
        one committed late under a lower id (concurrent writers on PostgreSQL) is not missed."""
        led = self._ledger
        now = time.monotonic()
        if led.totals is None or now - led.full_at >= self.config.full_every_s:
            led.totals, led.full_at = LQ.custodial_totals(conn), now
            low = max(0, led.totals.last_entry_id - LOOKBACK)
            led.counted = {i for i, _, _ in LQ.custodial_entries(conn, low) if i <= led.totals.last_entry_id}
            return led.totals, True
        low = max(0, led.totals.last_entry_id - LOOKBACK)
        fresh = [(i, a, v) for i, a, v in LQ.custodial_entries(conn, low) if i not in led.counted]
        deltas: dict[str, int] = {}
        for i, asset, amount in fresh:
            deltas[asset] = deltas.get(asset, 0) + amount
            led.counted.add(i)
        last = max([led.totals.last_entry_id] + [i for i, _, _ in fresh])
        led.totals = led.totals.plus(LQ.Totals(deltas, last))
        led.counted = {i for i in led.counted if i > last - LOOKBACK}
        return led.totals, False

    @staticmethod
    def _deposits_after(iconn, deposits: list[tuple[str, str, str | None, int]], slot: int) -> dict[str | None, Effect]:
        """The ledger's credits of deposits the chain read at `slot` does not include yet (their
        transaction is later, or not ingested yet), per ticker (None: cash): taken back, as the
        bridge's records not yet on chain are, so a deposit credited between the chain read and
        the ledger read is no break."""
        if not deposits:
            return {}
        signatures = {sig for sig, *_ in deposits}
        slots = dict(iconn.execute(select(T.events.c.signature, T.events.c.slot)
                                   .where(T.events.c.signature.in_(signatures), T.events.c.name == "Deposited")).all())
        late: dict[str | None, Effect] = {}
        for sig, asset, ticker, amount in deposits:
            if slots.get(sig, slot + 1) > slot:
                e = Effect(yes=amount) if asset == "yes" else Effect(no=amount) if asset == "no" else Effect(cash=amount)
                late[ticker] = late.get(ticker, Effect()) + e
        return late

    def _reconcile_sync(self, state: ChainState, markets: list[MarketInfo], checked: set[str]):
        found: list[Break] = []
        S = state.slot
        now = _now_ms()
        with LQ.snapshot(self.db) as conn:
            totals, full = self._ledger_totals(conn)
            progress = LQ.stream_progress(conn)
            # every stream the ledger wrote to; one whose market is not on chain yet has applied nothing
            empty = Window.empty(WINDOW_BITS)
            streams: dict[str, Window] = {t: (state.markets[t].window if t in state.markets else empty) for t in progress}
            streams[EXCHANGE_STREAM] = state.custody_window
            deposits = LQ.recent_custodial_deposits(conn, now - DEPOSIT_LOOKBACK_MS)
            records: dict[str, list] = {}
            for stream, window in streams.items():
                p = progress.get(stream)
                if p is None:
                    records[stream] = []
                    continue
                start = min(window.first_unapplied(), p.applied_seq + 1, self._verified.get(stream, 0) + 1)
                records[stream] = LQ.records(conn, stream, from_seq=start) if start <= p.outbox_seq else []
        with self.db.reader.connect() as iconn:
            chain_seqs = self._chain_seqs(iconn, records, S)
            lifecycle = self._lifecycle_seen(iconn, records)
            violations = iconn.execute(select(T.violations)).mappings().all()
            if full:
                self._dups = self._duplicates(iconn) + self._orphans(iconn, set(progress), S)
            late = self._deposits_after(iconn, deposits, S)
        cash_pending = Effect(cash=late.get(None, Effect()).cash)
        rows: list[MarketRow] = []
        for m in markets:
            cm = state.markets.get(m.ticker)
            p = progress.get(m.ticker)
            recs = records.get(m.ticker, [])
            window = cm.window if cm else Window.empty(WINDOW_BITS)
            below = {s for s, evs in chain_seqs.get(m.ticker, {}).items() if s < window.start}
            pend = pending_effect(recs, window, below) + late.get(m.ticker, Effect())
            cash_pending = cash_pending + pend
            ledger_yes, ledger_no = totals.yes(m.ticker) - pend.yes, totals.no(m.ticker) - pend.no
            rows.append(MarketRow(
                ticker=m.ticker, yes_supply=cm.yes_supply if cm else 0, no_supply=cm.no_supply if cm else 0,
                sets=cm.sets if cm else 0, vault=cm.vault if cm else 0, custody_yes=cm.custody_yes if cm else 0,
                custody_no=cm.custody_no if cm else 0, ledger_yes=ledger_yes, ledger_no=ledger_no,
                outbox_seq=p.outbox_seq if p else 0, applied_seq=p.applied_seq if p else 0,
            ))
            if cm:
                found += invariant_1(cm)
            found += invariant_2(m.ticker, rows[-1].custody_yes, rows[-1].custody_no, ledger_yes, ledger_no)
        below = {s for s in chain_seqs.get(EXCHANGE_STREAM, {}) if s < state.custody_window.start}
        cash_pending = cash_pending + pending_effect(records.get(EXCHANGE_STREAM, []), state.custody_window, below)
        cash_ledger = totals.cash() - cash_pending.cash
        # After finalization custody's tokens are a claim on the vault it may redeem at any time;
        # the ledger has already paid their holders in cash, so that claim backs cash too.
        claims = sum(redeemable(m.custody_yes, m.custody_no, m.yes_payout) for m in state.markets.values() if m.status == "Finalized")
        found += cash_backing(state.custody_collateral + claims, cash_ledger)
        for stream, p in progress.items():
            found += bridge_lag(stream, p.outbox_seq, p.applied_seq, p.oldest_pending_ms, now,
                                max_seqs=self.config.lag_max_seqs, max_age_s=self.config.lag_max_s)
        # invariant 3
        for stream, recs in records.items():
            window = streams[stream]
            verified = self._verified.get(stream, 0)
            check = check_stream(
                stream, [r for r in recs if r.seq > verified], {s: e for s, e in chain_seqs.get(stream, {}).items() if s > verified},
                lifecycle, verified_through=verified, slot=S, grace=self.config.gap_grace_slots,
                window_highest=window.highest, window_bits=window.bits,
            )
            self._verified[stream] = check.verified_through
            found += check.breaks
        found += self._dups
        found += [Break(WALLET_LIMIT, v["ticker"], f"{v['detail']} (slot {v['slot']}, {v['signature']})") for v in violations]
        found = [b for b in found if b.kind in checked]
        sample_due = time.monotonic() - self._last_sample >= self.config.sample_s
        progressed = any(self._verified_saved.get(s) != v for s, v in self._verified.items())
        with self.db.reader.connect() as rconn:
            write = sample_due or progressed or B.changes(rconn, found, checked)
            if not write:
                report = Report(S, rows, state.custody_collateral, cash_ledger, B.open_breaks(rconn))
                return report, [], full
        with self.db.writer.begin() as wconn:
            self._save_verified(wconn)
            transitions = B.update_breaks(wconn, found, checked, S)
            report = Report(S, rows, state.custody_collateral, cash_ledger, B.open_breaks(wconn))
            if sample_due:
                self._last_sample = time.monotonic()
                wconn.execute(insert(T.samples).values(slot=S, time_ms=now, body=json.dumps(self._sample(report, now), separators=(",", ":"))))
        return report, transitions, full

    def _chain_seqs(self, conn, records: dict[str, list], slot: int) -> dict[str, dict[int, list[ChainSeq]]]:
        """Finalized sequenced events per stream at slots <= `slot`, from the lowest seq any check
        needs; only streams with records to check or events above what was verified are read."""
        out: dict[str, dict[int, list[ChainSeq]]] = {}
        for stream in set(records) | set(self.store.max_seq):
            recs = records.get(stream, [])
            verified = self._verified.get(stream, 0)
            if not recs and self.store.max_seq.get(stream, 0) <= verified:
                continue
            low = min([r.seq for r in recs[:1]] + [verified + 1])
            q = select(T.events.c.seq, T.events.c.name, T.events.c.slot, T.events.c.signature).where(
                T.events.c.stream == stream, T.events.c.seq >= low, T.events.c.finalized.is_(True), T.events.c.slot <= slot
            )
            for seq, name, s, sig in conn.execute(q):
                out.setdefault(stream, {}).setdefault(int(seq), []).append(ChainSeq(name, int(s), sig))
        return out

    def _lifecycle_seen(self, conn, records: dict[str, list]) -> set[tuple[str, str]]:
        sigs = {r.signature for recs in records.values() for r in recs if expected_event(r) is None and r.signature}
        if not sigs:
            return set()
        q = select(T.events.c.signature, T.events.c.name).where(T.events.c.signature.in_(list(sigs)), T.events.c.finalized.is_(True))
        return {(sig, name) for sig, name in conn.execute(q)}

    def _duplicates(self, conn) -> list[Break]:
        q = (
            select(T.events.c.stream, T.events.c.seq, func.count())
            .where(T.events.c.seq > 0, T.events.c.finalized.is_(True))
            .group_by(T.events.c.stream, T.events.c.seq)
            .having(func.count() > 1)
        )
        by_stream: dict[str, list[int]] = {}
        for stream, seq, _ in conn.execute(q):
            by_stream.setdefault(stream, []).append(int(seq))
        return [Break(SEQ_DUPLICATE, None if s.startswith("_") else s, f"stream {s}: seqs {sorted(q)[:8]} applied more than once")
                for s, q in by_stream.items()]

    def _orphans(self, conn, streams: set[str], slot: int) -> list[Break]:
        """Sequenced events of streams the ledger never wrote to (a market the exchange does not know)."""
        q = (
            select(T.events.c.stream, func.count())
            .where(T.events.c.seq > 0, T.events.c.finalized.is_(True), T.events.c.slot <= slot)
            .group_by(T.events.c.stream)
        )
        return [Break(SEQ_UNKNOWN, None if s.startswith("_") else s, f"stream {s}: {n} sequenced events on chain, no ledger records")
                for s, n in conn.execute(q) if s not in streams]

    def _sample(self, report: Report, now: int) -> dict:
        return {
            "slot": report.slot, "time_ms": now, "cash": {"custody": report.cash_custody, "ledger": report.cash_ledger},
            "markets": [{k: m.as_dict()[k] for k in ("ticker", "custody_yes", "custody_no", "ledger_yes", "ledger_no", "outbox_seq", "applied_seq")}
                        for m in report.markets],
            "landed_total": self._landed_total, "breaks": len(report.breaks),
        }

    # -- balances vs account reads -----------------------------------------------------------
    async def check_balances(self) -> dict:
        """Derived balances against account reads. Accounts the program owns (custody, vaults,
        escrows) must match exactly: a difference is reported (in custody: unattributed excess).
        Other accounts (wallets) legitimately move by plain transfers the program never sees:
        the difference is learned as `external`, so their balance shown is the real one."""

        def derived():
            with self.db.reader.connect() as conn:
                rows = [dict(r) for r in conn.execute(select(T.balances)).mappings()]
                owners = {self.store.custody} | set(conn.execute(select(T.markets.c.market)).scalars()) | set(conn.execute(select(T.orders.c.order)).scalars())
            return rows, owners

        rows, _ = await asyncio.to_thread(derived)
        if not rows:
            return {"checked": 0, "mismatches": 0}
        actual = await read_token_accounts(self.client, [r["account"] for r in rows])
        if not actual:
            return {"checked": 0, "mismatches": 0}
        slot = max(s for s, _ in actual.values())
        # every event up to the latest read stored: an account's row is then exactly its state at
        # its own read's slot, unless an event after that slot touched it (then: next time)
        await self.catch_up_finalized(slot)
        rows, program_owned = await asyncio.to_thread(derived)
        mismatches, checked, fixes = [], 0, []
        for r in rows:
            if r["account"] not in actual or r["updated_slot"] > actual[r["account"]][0]:
                continue
            checked += 1
            got = actual[r["account"]][1]
            owner, mint, amount = got if got else (r["owner"], r["mint"], 0)
            diff = amount - (r["amount"] + r["external"])
            fix = {}
            if got and (owner != r["owner"] or mint != r["mint"]):
                fix.update(owner=owner, mint=mint)  # the token account's own owner and mint replace what the event said
            if diff and r["owner"] in program_owned:
                mismatches.append({"account": r["account"], "owner": owner, "asset": r["asset"], "ticker": r["ticker"],
                                   "derived": r["amount"] + r["external"], "actual": amount})
            elif diff:
                fix["external"] = r["external"] + diff
            if fix:
                fixes.append((r["account"], fix))

        def save():
            with self.db.writer.begin() as conn:
                for account, fix in fixes:
                    conn.execute(T.balances.update().where(T.balances.c.account == account).values(**fix))
                conn.execute(insert(T.balance_checks).values(slot=slot, time_ms=_now_ms(), checked=checked, mismatches=len(mismatches),
                                                             detail=json.dumps(mismatches[:200])))

        await asyncio.to_thread(save)
        return {"slot": slot, "checked": checked, "mismatches": len(mismatches), "detail": mismatches}

    # -- what the HTTP side serves -------------------------------------------------------------
    def bridge_body(self) -> dict:
        def read():
            with LQ.snapshot(self.db) as conn:
                return LQ.stream_progress(conn)

        try:
            progress = read()
        except Exception:
            progress = {}
        return {
            "slot": self.report.slot if self.report else None,
            "streams": [{"stream": p.stream, "outbox_seq": p.outbox_seq, "applied_seq": p.applied_seq,
                         "lag": p.outbox_seq - p.applied_seq, "oldest_pending_ms": p.oldest_pending_ms}
                        for p in sorted(progress.values(), key=lambda p: p.stream)],
            "landed_total": self._landed_total,
        }

    def history(self, limit: int) -> dict:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(T.samples.c.body).order_by(T.samples.c.id.desc()).limit(limit)).scalars().all()
        return {"samples": [json.loads(b) for b in reversed(rows)]}

    def breaks_history(self, limit: int) -> dict:
        with self.db.reader.connect() as conn:
            return {"breaks": B.history(conn, limit)}

    def balances(self, owner: str | None, ticker: str | None, limit: int) -> dict:
        q = select(T.balances).order_by(T.balances.c.owner, T.balances.c.account).limit(limit)
        if owner:
            q = q.where(T.balances.c.owner == owner)
        if ticker:
            q = q.where(T.balances.c.ticker == ticker)
        with self.db.reader.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        return {"balances": [{"account": r["account"], "owner": r["owner"], "mint": r["mint"], "ticker": r["ticker"], "asset": r["asset"],
                              "amount": r["amount"] + r["external"], "from_events": r["amount"], "updated_slot": r["updated_slot"]}
                             for r in rows]}

    def latest_balance_check(self) -> dict | None:
        with self.db.reader.connect() as conn:
            r = conn.execute(select(T.balance_checks).order_by(T.balance_checks.c.id.desc()).limit(1)).mappings().first()
        return None if r is None else {**{k: r[k] for k in ("slot", "time_ms", "checked", "mismatches")}, "detail": json.loads(r["detail"])}

    def status(self) -> dict:
        out = {}
        for commitment in (CONFIRMED, FINALIZED):
            point, synced = self.store.checkpoint(commitment)
            out[commitment] = {"slot": point.slot if point else None, "signature": point.signature if point else None, "synced_slot": synced}
        t = self.last_timing
        return {"checkpoints": out, "report_slot": self.report.slot if self.report else None, "landed_total": self._landed_total,
                "last_pass": {"chain_s": t.chain_s, "follow_s": t.follow_s, "ledger_s": t.ledger_s, "full": t.full}}

    async def wallet_orders(self) -> dict:
        exchange = await self.client.fetch("Exchange", pdas.exchange(self.client.program_id))
        force_close_slots = int(exchange.force_close_slots) if exchange else None

        def read():
            with self.db.reader.connect() as conn:
                orders = [dict(r) for r in conn.execute(select(T.orders)).mappings()]
                known = {o["order"] for o in orders}
                pending = [json.loads(d) | {"slot": s} for d, s in conn.execute(
                    select(T.events.c.data, T.events.c.slot).where(T.events.c.name == "OrderPlaced", T.events.c.finalized.is_(False)))]
            return orders, [p for p in pending if p["order"] not in known or _closed_before(orders, p)]

        orders, pending = await asyncio.to_thread(read)
        counts = {s: 0 for s in ("pending", "open", "filled", "cancel_requested", "closed")}
        live = []
        for p in pending:
            counts["pending"] += 1
            market = self.store.market(p["market"])
            live.append({"order": p["order"], "ticker": market.ticker if market else None, "owner": p["owner"], "status": "pending",
                         "count": p["size"], "filled": 0, "cancel_requested_slot": None, "force_close_slot": None})
        for o in orders:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
            if o["status"] in ("open", "cancel_requested"):
                live.append({"order": o["order"], "ticker": o["ticker"], "owner": o["owner"], "status": o["status"], "count": o["size"],
                             "filled": o["filled"], "cancel_requested_slot": o["cancel_requested_slot"], "force_close_slot": o["force_close_slot"]})
        return {"slot": self.report.slot if self.report else None, "force_close_slots": force_close_slots, "counts": counts, "orders": live}

    # -- push ----------------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=256)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.subscribers.discard(q)

    def publish(self, event: str, body: Any) -> None:
        for q in list(self.subscribers):
            try:
                q.put_nowait((event, body))
            except asyncio.QueueFull:  # a stalled client: drop it rather than grow without bound
                self.subscribers.discard(q)

    def _announce(self, t: B.Transition) -> None:
        if t.state == "open":
            log.warning("reconciliation break %s %s at slot %d: %s", t.kind, t.ticker or "-", t.slot, t.detail)
        else:
            log.info("reconciliation break %s %s cleared at slot %d (open since %d)", t.kind, t.ticker or "-", t.slot, t.first_slot)
        self.publish("break", t.body())
        if self.config.webhook_url:
            asyncio.get_running_loop().create_task(self._post_webhook(t.body()))

    async def _post_webhook(self, body: dict) -> None:
        try:
            await self._http.post(self.config.webhook_url, json=body)
        except Exception as exc:  # the webhook is best effort: the break is recorded and logged anyway
            log.warning("webhook %s: %s", self.config.webhook_url, exc)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.run_reconciliation(), name="reconciliation")]
        if self.config.follow_confirmed:
            tasks.append(asyncio.create_task(self.follow_confirmed(), name="confirmed follower"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()


def _closed_before(orders: list[dict], placed: dict) -> bool:
    """A confirmed OrderPlaced for an address whose earlier order is closed: the address came back."""
    return any(o["order"] == placed["order"] and o["status"] == "closed" and (o["closed_slot"] or 0) < placed["slot"] for o in orders)


__all__ = ["Indexer", "IndexerConfig"]
