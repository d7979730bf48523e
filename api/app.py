"""`create_app(settings)`: the exchange API (Kalshi Trade API v2 REST under /trade-api/v2,
WebSocket at /trade-api/ws/v2, operator endpoints under /operator, docs at /docs).

The lifespan opens the one ExchangeService of the process (it owns the in-memory books,
so exactly one API process serves a database), wires authentication and the WebSocket
hub, and runs housekeeping: expiring orders and closing markets past their close time.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI

from exchange.service import ExchangeService

from api import errors, ws
from api.auth import Authenticator, RateLimiter
from api.fast_lane import FastLane
from api.group_commit import GroupCommit
from api.routes import api_keys, communications, custody, exchange, markets, operator, order_groups, orders, portfolio, proof, wallet

log = logging.getLogger(__name__)

PREFIX = "/trade-api/v2"


class Settings(Protocol):
    """What the API is handed of the settings (tandem/settings.py reads them; api never does)."""

    tandem_home: Path
    operator_token: str | None
    api_auth_window_ms: int
    api_rate_read_per_s: float
    api_rate_write_per_s: float
    rpc_url: str
    program_id: str | None

    @property
    def db_url(self) -> str: ...
HOUSEKEEPING_S = 1.0
# Started with app.state (service, auth, group_commit) inside the lifespan; returns its stop.
Companion = Callable[[Any], Awaitable[Callable[[], Awaitable[None]]]]


def operator_token(settings: Settings) -> str:
    """TANDEM_OPERATOR_TOKEN, else the one in TANDEM_HOME/operator.token (created once, 0600).

    A freshly generated token is printed once at startup (the operator needs it and has no
    other way to learn it); afterwards only the file's path is shown.
    """
    if settings.operator_token:
        return settings.operator_token
    path = Path(settings.tandem_home) / "operator.token"
    if path.exists():
        print(f"operator token: in {path}", file=sys.stderr, flush=True)
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    print(f"operator token (generated, saved to {path}): {token}", file=sys.stderr, flush=True)
    return token


async def _housekeeping(service: ExchangeService) -> None:
    while True:
        await asyncio.sleep(HOUSEKEEPING_S)
        try:
            service.expire_orders()
            service.close_expired_markets()
        except Exception:  # keep serving; the next round retries
            log.exception("housekeeping failed")


def create_app(settings: Settings, service: ExchangeService | None = None,
               proof_reader: Callable[..., Any] | None = None,
               companions: Sequence[Companion] = ()) -> FastAPI:
    """`proof_reader(db, *, user_id, ticker, asset) -> Proof | None` serves GET /v1/custody/proof; it is
    the indexer's (indexer.epochs.latest_proof), handed in by `tandem api` since api never imports indexer.
    `companions` run beside the API on its loop, on its service: each is started with app.state once the
    service is open and returns its stop (the FIX gateway, wired by `tandem api --fix-port`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = service or ExchangeService(settings.db_url)
        limiter = RateLimiter(settings.api_rate_read_per_s, settings.api_rate_write_per_s)
        auth = Authenticator(svc, window_ms=settings.api_auth_window_ms, operator_token=operator_token(settings),
                             limiter=limiter, builder_of=svc.api_key_builder, tier_of=svc.api_tier)
        hub = ws.Hub(svc, auth)
        hub.start()
        app.state.service, app.state.auth, app.state.hub = svc, auth, hub
        app.state.proof_reader = proof_reader
        app.state.group_commit = GroupCommit(svc)
        app.state.settings, app.state.wallet_chain = settings, None  # the wallet routes' RPC, opened on first use
        task = asyncio.create_task(_housekeeping(svc))
        stops = [await start(app.state) for start in companions]
        try:
            yield
        finally:
            for stop in reversed(stops):
                await stop()
            task.cancel()
            hub.stop()
            if app.state.wallet_chain is not None:
                await app.state.wallet_chain.close()
            if service is None:
                svc.close()

    app = FastAPI(
        title="Tandem exchange API",
        version="2",
        summary="Kalshi Trade API v2 compatible REST and WebSocket, plus operator endpoints.",
        lifespan=lifespan,
    )
    errors.install(app)
    # Hot routes first: FastAPI tries routers in order, and order entry is what must be fast.
    for module in (orders, portfolio, markets, order_groups, api_keys, exchange, communications):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(operator.router)
    for router in (wallet.router, wallet.relay, custody.router, proof.router):  # DESIGN.md: wallet and custody endpoints
        app.include_router(router)
    app.include_router(ws.router)
    app.add_middleware(FastLane)  # the hottest order routes, straight off ASGI (api/fast_lane.py)
    return app
