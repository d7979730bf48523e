"""`tandem bridge`: one process, one sender per outbox stream, plus any relay tasks plugged in.

`run_bridge(config)` is the entry point (`tandem bridge`, `tandem up`). Other workers of the
same process (the chain -> CLOB relay of bridge/relay*.py) are passed as `tasks`: callables
taking the running `Bridge` and returning a coroutine; they share its chain client, outbox
reader and database, and stop with it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from solana.rpc.commitment import Confirmed
from solders.pubkey import Pubkey
from spl.token._layouts import MINT_LAYOUT

from bridge import store as S
from bridge.mapper import Mapper
from bridge.sender import ChainView, StreamSender
from bridge.txbuild import TxBuilder
from chain.client import LAMPORTS_PER_SOL, ChainClient
from chain.replay import REPLAY_WINDOW_BITS
from chain.setup import ChainKeys, ExchangeSettings, init_chain

log = logging.getLogger("tandem.bridge")


@dataclass(frozen=True)
class BridgeConfig:
    db_url: str
    rpc_url: str
    keys_dir: Path
    program_id: str | None = None
    collateral_mint: str | None = None
    # localnet: bring up the exchange (collateral mint, initialize) if `chain init` has not, fund the bridge's fees
    init_chain: bool = True
    airdrop: bool = True
    max_in_flight: int = 16  # transactions per stream
    max_records_per_tx: int = 64
    lookup_tables: bool = False  # v0 transactions with a lookup table per market
    poll_seconds: float = 0.05  # a stream with nothing to do looks again after this (resends, expiry)
    watch_seconds: float = 0.01  # the outbox's streams table is read this often (new records wake their stream)
    status_seconds: float = 0.01  # the statuses of every signature in flight are read this often
    resend_seconds: float = 1.0
    console: bool = True
    exchange_settings: ExchangeSettings = field(default_factory=ExchangeSettings)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "BridgeConfig":
        """From tandem.settings.Settings (or anything with the same attributes)."""
        base = cls(
            db_url=settings.db_url, rpc_url=settings.rpc_url, keys_dir=settings.keys_dir,
            program_id=getattr(settings, "program_id", None), collateral_mint=getattr(settings, "collateral_mint", None),
            init_chain=getattr(settings, "bridge_init_chain", True),
            max_in_flight=getattr(settings, "bridge_max_in_flight", 16),
            max_records_per_tx=getattr(settings, "bridge_max_records_per_tx", 64),
            lookup_tables=getattr(settings, "bridge_lookup_tables", False),
            poll_seconds=getattr(settings, "bridge_poll_ms", 50) / 1000,
        )
        return replace(base, **overrides)


Task = Callable[["Bridge"], Awaitable[None]]


def open_reader(db_url: str):
    from exchange.outbox_reader import OutboxReader

    return OutboxReader.open(db_url)


class Bridge:
    """The running bridge: chain client, outbox reader, its store, and one sender per stream."""

    def __init__(self, config: BridgeConfig, *, reader=None) -> None:
        self.config = config
        self.keys = ChainKeys.load(config.keys_dir)
        program_id = Pubkey.from_string(config.program_id) if config.program_id else None
        self.program_id = program_id
        self.chain = ChainClient(config.rpc_url, self.keys.bridge, program_id=program_id, poll_seconds=config.poll_seconds)
        S.migrate(_normalize(config.db_url))
        from exchange.db import connect

        self.db = connect(config.db_url)
        self.store = S.Store(self.db.writer)
        self.reader = reader if reader is not None else open_reader(config.db_url)
        self.window = REPLAY_WINDOW_BITS  # the program's, from the IDL
        self.view = ChainView(self.chain.rpc, status_every=config.status_seconds)
        self.senders: dict[str, StreamSender] = {}
        self.mapper: Mapper | None = None
        self.builder: TxBuilder | None = None
        self.on_landed: list[Callable[[str, list, str, int], None]] = []
        self.started = time.monotonic()
        self._stop = asyncio.Event()

    # -- start -----------------------------------------------------------------------------
    async def prepare(self) -> None:
        """The exchange on chain (localnet: created if missing), the collateral mint, the fee payer's SOL."""
        c = self.chain
        if self.config.init_chain:
            admin_client = ChainClient(self.config.rpc_url, self.keys.admin, program_id=self.program_id)
            try:
                collateral = Pubkey.from_string(self.config.collateral_mint) if self.config.collateral_mint else None
                await init_chain(admin_client, self.keys, collateral_mint=collateral, demo_ticker=None,
                                 settings=self.config.exchange_settings, airdrop=self.config.airdrop)
            finally:
                await admin_client.close()
        if self.config.airdrop and await c.balance(self.keys.bridge.pubkey()) < LAMPORTS_PER_SOL:
            await c.airdrop(self.keys.bridge.pubkey(), 100 * LAMPORTS_PER_SOL)
        from chain import pdas

        exchange = await c.fetch("Exchange", pdas.exchange(c.program_id), commitment=Confirmed)
        if exchange is None:
            raise RuntimeError("the exchange is not initialized on this chain: run `tandem chain init`")
        if exchange.bridge_authority != self.keys.bridge.pubkey():
            raise RuntimeError(f"the chain's bridge authority is {exchange.bridge_authority}, not this TANDEM_HOME's bridge key {self.keys.bridge.pubkey()}")
        mint = exchange.collateral_mint
        info = (await c.rpc.get_account_info(mint, commitment=Confirmed)).value
        authority = MINT_LAYOUT.parse(bytes(info.data)) if info else None
        mint_float = bool(authority and authority.mint_authority_option and Pubkey(authority.mint_authority) == self.keys.admin.pubkey())
        # the float account (custody_fund's source) must exist
        from chain.tokens import ensure_ata

        await ensure_ata(c, self.keys.bridge.pubkey(), mint)
        mapper = Mapper(c, self.keys, mint, mint_float=mint_float)
        self.builder = TxBuilder(mapper, self.store, use_lookup_tables=self.config.lookup_tables)
        self.mapper = mapper

    def sender(self, stream: str) -> StreamSender:
        s = self.senders.get(stream)
        if s is None:
            s = self.senders[stream] = StreamSender(
                stream, store=self.store, reader=self.reader, mapper=self.mapper, builder=self.builder, view=self.view,
                window=self.window, max_in_flight=self.config.max_in_flight, max_records_per_tx=self.config.max_records_per_tx,
                resend_every=self.config.resend_seconds, poll_every=self.config.poll_seconds, on_landed=self._landed)
        return s

    def _landed(self, stream: str, records: list, signature: str, slot: int) -> None:
        for hook in self.on_landed:
            hook(stream, records, signature, slot)

    # -- run -------------------------------------------------------------------------------
    async def run_stream(self, stream: str) -> None:
        sender = self.sender(stream)
        delay = 0.0
        while not self._stop.is_set():
            sender.wake.clear()  # before the step: a wake-up during it is not lost
            try:
                moved = await sender.step()
                delay = 0.0
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # RPC or database unreachable, a transient refusal: log, back off, go on
                # (BaseException: solders reports an RPC answer it cannot parse as a pyo3 PanicException)
                delay = min(max(delay * 2, 0.05), 1.0)
                sender.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                sender._recovered = False  # memory may be half-updated: rebuild from the database and the chain
                log.warning("%s: %s (retrying in %.1fs)", stream, sender.stats.last_error, delay)
                await asyncio.sleep(delay)
                continue
            if not moved:  # until new records or a new status (or the poll period: resends, expiry)
                try:
                    await asyncio.wait_for(sender.wake.wait(), self.config.poll_seconds)
                except asyncio.TimeoutError:
                    pass

    async def run(self, tasks: Iterable[Task] = ()) -> None:
        await self._retry(self.prepare)
        running: dict[str, asyncio.Task] = {}
        extra = [asyncio.create_task(t(self)) for t in tasks]
        console = None
        if self.config.console:
            from bridge.console import run_console

            console = asyncio.create_task(run_console(self))
        seen: dict[str, int] = {}
        warned = 0.0
        try:
            while not self._stop.is_set():
                # The outbox watcher: a stream whose last seq grew is woken at once (one cheap
                # read of the streams table every `watch_seconds`), not at its next poll.
                try:
                    streams = self.reader.streams()
                except Exception as exc:
                    if time.monotonic() - warned > 5:
                        log.warning("outbox unreachable: %s", exc)
                        warned = time.monotonic()
                    streams = {}
                for stream, last in streams.items():
                    if stream not in running:
                        running[stream] = asyncio.create_task(self.run_stream(stream))
                    if last > seen.get(stream, 0):
                        seen[stream] = last
                        sender = self.sender(stream)
                        sender.outbox_last = last
                        sender.wake.set()
                for t in list(running.values()) + extra:
                    if t.done() and not t.cancelled() and t.exception() is not None:
                        raise t.exception()
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.config.watch_seconds)
                except asyncio.TimeoutError:
                    pass
        finally:
            for t in [*running.values(), *extra, *([console] if console else [])]:
                t.cancel()
            await asyncio.gather(*running.values(), *extra, *([console] if console else []), return_exceptions=True)
            await self.view.close()
            await self.chain.close()
            self.db.dispose()

    async def _retry(self, step: Callable[[], Awaitable[None]]) -> None:
        delay = 0.2
        while True:
            try:
                return await step()
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # the chain or the database not up yet
                log.warning("bridge start: %s: %s (retrying in %.1fs)", type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def stop(self) -> None:
        self._stop.set()

    # -- status ------------------------------------------------------------------------------
    def status(self) -> list[dict]:
        try:
            last = self.reader.streams()
        except Exception:
            last = {}
        return [s.snapshot(last.get(name, 0)) for name, s in sorted(self.senders.items())]


def _normalize(url: str) -> str:
    from exchange.db import normalize_url

    return normalize_url(url)


async def run_bridge(config: BridgeConfig | Any, tasks: Iterable[Task] = (), *, reader=None) -> None:
    """Run the bridge until cancelled. `config`: a BridgeConfig or a settings object."""
    if not isinstance(config, BridgeConfig):
        config = BridgeConfig.from_settings(config)
    await Bridge(config, reader=reader).run(tasks)
