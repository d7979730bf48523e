"""The chain -> CLOB relay: a task of `tandem bridge` (DESIGN.md, "The bridge's exactly-once
protocol", wallet orders and deposits).

Two followers of the program (chain/follower.py), each with its own durable checkpoint
(bridge/relay_store.py):
- at `confirmed`: `OrderPlaced` -> the wallet order into the CLOB (escrow + order, one ledger
  transaction); `CancelRequested` -> CLOB cancel -> `close_order`; `OrderClosed` by
  `force_close` -> CLOB cancel, no close_order. The books live in the `tandem api` process,
  so these are handed to its operator-only routes (`/v1/wallet/relay/...`, api/routes/wallet.py),
  which apply them with exchange/wallet_orders.py;
- at `finalized`: `Deposited` -> `credit_deposit` once per (signature, instruction index),
  handed to the API too (`/v1/wallet/relay/deposited`): a token deposit changes positions
  that process keeps in memory. An unknown reference goes to the suspense account.

Every consumer is idempotent, so the checkpoint is saved after a batch's events were applied:
a crash or a failed hand-over repeats at most that batch, never skips one.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
from solana.rpc.commitment import Commitment, Confirmed, Finalized
from solders.pubkey import Pubkey

from bridge.relay_store import RelayStore
from chain.client import ChainClient
from chain.follower import Checkpoint, FollowedTx, FollowError, ProgramEvent, ProgramFollower

log = logging.getLogger("tandem.bridge.relay")

SIDES = {"BuyYes": ("yes", "buy"), "BuyNo": ("no", "buy"), "SellYes": ("yes", "sell"), "SellNo": ("no", "sell")}
DEFAULT_PUBKEY = str(Pubkey.default())


class HandOverFailed(Exception):
    """The API did not take an event (unreachable, 5xx): the batch is retried from its checkpoint."""


@dataclass(frozen=True)
class RelayConfig:
    api_url: str  # the `tandem api` process that owns the books
    operator_token: str | Callable[[], str]  # read when needed: the API writes its token file on first start
    from_head: bool = False  # no checkpoint yet: start at the chain's newest transaction (tests share a chain)
    poll_seconds: float = 0.2
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "RelayConfig":
        token_file = Path(settings.tandem_home) / "operator.token"

        def token() -> str:
            if settings.operator_token:
                return settings.operator_token
            return token_file.read_text().strip() if token_file.exists() else ""

        return cls(api_url=f"http://{settings.api_host}:{settings.api_port}", operator_token=token, **overrides)

    def token(self) -> str:
        return self.operator_token() if callable(self.operator_token) else self.operator_token


@dataclass
class FollowerStats:
    handled: int = 0
    slot: int = 0
    skipped: int = 0
    last_error: str | None = None


@dataclass
class Relay:
    chain: ChainClient
    store: RelayStore
    config: RelayConfig
    stats: dict[str, FollowerStats] = field(default_factory=lambda: {"confirmed": FollowerStats(), "finalized": FollowerStats()})
    _tickers: dict[str, str] = field(default_factory=dict)
    _http: httpx.AsyncClient | None = None

    async def run(self) -> None:
        self._http = httpx.AsyncClient(base_url=self.config.api_url, timeout=self.config.timeout)
        try:
            await asyncio.gather(self.follow(Confirmed, "confirmed", self.on_confirmed),
                                 self.follow(Finalized, "finalized", self.on_finalized))
        finally:
            await self._http.aclose()

    # -- following ---------------------------------------------------------------------------
    async def follow(self, commitment: Commitment, name: str, handle: Callable[[FollowedTx, ProgramEvent], Any]) -> None:
        stats = self.stats[name]
        checkpoint, stats.handled = self.store.checkpoint(name)
        follower = ProgramFollower.from_client(self.chain, commitment)
        delay = self.config.poll_seconds
        while True:
            try:
                if checkpoint is None and self.config.from_head:
                    checkpoint = await self._head(commitment)
                    if checkpoint is not None:
                        self.store.save(name, checkpoint, stats.handled)
                async for batch in follower.pass_once(checkpoint):
                    for tx, event in batch.events:
                        await handle(tx, event)
                        stats.handled += 1
                    if batch.checkpoint is not None and batch.checkpoint != checkpoint:
                        self.store.save(name, batch.checkpoint, stats.handled)
                        checkpoint = batch.checkpoint
                    if batch.synced_slot is not None:
                        stats.slot = batch.synced_slot
                stats.last_error, delay = None, self.config.poll_seconds
            except asyncio.CancelledError:
                raise
            except (FollowError, HandOverFailed) as exc:
                stats.last_error = str(exc)[:300]
                log.warning("relay (%s): %s; again from %s", name, exc, checkpoint)
                delay = min(max(delay * 2, 0.2), 5.0)
            except Exception as exc:  # the database or the RPC down: retry from the checkpoint
                stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("relay (%s): %s; again from %s", name, stats.last_error, checkpoint)
                delay = min(max(delay * 2, 0.2), 5.0)
            await asyncio.sleep(delay)

    async def _head(self, commitment: Commitment) -> Checkpoint | None:
        page = (await self.chain.rpc.get_signatures_for_address(self.chain.program_id, limit=1, commitment=commitment)).value
        return Checkpoint(page[0].slot, str(page[0].signature)) if page else None

    async def ticker_of(self, market: str, commitment: Commitment) -> str | None:
        ticker = self._tickers.get(market)
        if ticker is None:
            account = await self.chain.fetch("Market", Pubkey.from_string(market), commitment=commitment)
            if account is None:
                return None
            ticker = self._tickers[market] = account.ticker
        return ticker

    # -- confirmed: wallet orders --------------------------------------------------------------
    async def on_confirmed(self, tx: FollowedTx, event: ProgramEvent) -> None:
        f = event.fields
        if event.name == "OrderPlaced":
            ticker = await self.ticker_of(f["market"], Confirmed)
            side, action = SIDES[f["side"]]
            body = {"order": f["order"], "ticker": ticker, "owner": f["owner"], "side": side, "action": action,
                    "limit_price": f["limit_price"], "size": f["size"], "max_fee": f["max_fee"], "escrowed": f["escrowed"],
                    "slot": tx.slot, "order_id": f.get("order_id", 0)}
            await self._hand_over("placed", body, event)
        elif event.name == "CancelRequested":
            # Already gone on chain (force-closed while the relay was behind): a close_order could
            # never land, so cancel without one. Closed by the bridge: cancelled already, a no-op.
            account = await self.chain.fetch("WalletOrder", Pubkey.from_string(f["order"]), commitment=Confirmed)
            order_id = f.get("order_id")
            gone = account is None or (order_id is not None and getattr(account, "order_id", order_id) != order_id)
            await self._hand_over("force_closed" if gone else "cancel_requested", {"order": f["order"], "order_id": order_id}, event)
        elif event.name == "OrderClosed" and f.get("reason") == "Forced":
            await self._hand_over("force_closed", {"order": f["order"], "order_id": f.get("order_id")}, event)

    async def _hand_over(self, route: str, body: dict, event: ProgramEvent, *, label: str | None = None,
                         stats: FollowerStats | None = None) -> dict | None:
        """POST the event to the API's relay route; its answer, or None when the API refused it for
        good (not ours, or malformed: logged and skipped). Unreachable or failing: HandOverFailed,
        and the follower tries again from its checkpoint."""
        label = label or f"{route} {body['order']}"
        try:
            r = await self._http.post(f"/v1/wallet/relay/{route}", json=body,
                                      headers={"Authorization": f"Bearer {self.config.token()}"})
        except httpx.HTTPError as exc:
            raise HandOverFailed(f"{label}: the API is unreachable ({type(exc).__name__})") from None
        if r.status_code in (404, 400):  # not ours (a market the exchange does not list) or malformed: logged, skipped
            (stats or self.stats["confirmed"]).skipped += 1
            log.warning("relay: %s (%s) refused by the API (%s): %s", event.name, label, r.status_code, r.text[:300])
            return None
        if r.status_code != 200:
            raise HandOverFailed(f"{label}: API answered {r.status_code} {r.text[:200]}")
        return r.json()

    # -- finalized: deposits ----------------------------------------------------------------------
    async def on_finalized(self, tx: FollowedTx, event: ProgramEvent) -> None:
        if event.name != "Deposited":
            return
        f = event.fields
        if f["is_collateral"]:
            asset, ticker = "cash", None
        else:
            asset = "yes" if f["outcome"] == "Yes" else "no"
            ticker = await self.ticker_of(f["market"], Finalized)
        # Credited by the API, the process that owns the books: a token deposit changes positions
        # it keeps in memory. Once per (signature, instruction index), however often handed over.
        body = {"signature": tx.signature, "ix_index": event.instruction_index, "reference": f["account_ref"],
                "asset": asset, "ticker": ticker, "amount": f["amount"]}
        result = await self._hand_over("deposited", body, event, label=f"deposit {tx.signature}/{event.instruction_index}",
                                       stats=self.stats["finalized"])
        if result is not None and result.get("credited"):
            log.info("relay: deposit %s/%d credited (%s)", tx.signature, event.instruction_index, result)

    def status(self) -> dict[str, dict]:
        return {name: {"handled": s.handled, "slot": s.slot, "skipped": s.skipped, "error": s.last_error}
                for name, s in self.stats.items()}


def relay_task(config: RelayConfig):
    """A `tandem bridge` task (bridge/runner.py): the relay on the bridge's chain client and database."""

    async def task(bridge) -> None:
        relay = Relay(bridge.chain, RelayStore(bridge.db.writer), config)
        bridge.relay = relay  # the console shows what it is doing
        await relay.run()

    return task


def api_reverter(config: RelayConfig) -> Callable[[str, int, str], list]:
    """How the bridge's outbox reader reverses a settle_fill the chain refused for good: by the
    API (`POST /operator/outbox/{stream}/{seq}/revert`), the process that owns the books, so its
    positions, holds and the users' `fill`/`user_orders` channels follow. Returns the
    compensating records the bridge then sends."""
    from exchange.outbox import stored_from_json

    def revert(stream: str, seq: int, reason: str) -> list:
        try:
            r = httpx.post(f"{config.api_url}/operator/outbox/{stream}/{seq}/revert", json={"reason": reason[:200]},
                           headers={"Authorization": f"Bearer {config.token()}"}, timeout=config.timeout)
        except httpx.HTTPError as exc:
            raise HandOverFailed(f"revert of {stream}/{seq}: the API is unreachable ({type(exc).__name__})") from None
        if r.status_code != 200:
            raise HandOverFailed(f"revert of {stream}/{seq}: API answered {r.status_code} {r.text[:200]}")
        return [stored_from_json(record) for record in r.json()["records"]]

    return revert
