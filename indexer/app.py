"""The indexer's HTTP side (FastAPI): the reconciliation, its live push, history, and the dashboard.

Routes are thin: each returns what `Indexer` computed or reads. The contract with the
dashboard is /work/coord/indexer-interface.md; `GET /v1/reconciliation` is DESIGN.md's.
"""
from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, StreamingResponse

from indexer.service import Indexer, IndexerConfig

log = logging.getLogger("tandem.indexer")

PING_S = 15.0


def _sse(event: str, body) -> bytes:
    return f"event: {event}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()


def create_app(config: IndexerConfig, indexer: Indexer | None = None) -> FastAPI:
    """The app; its lifespan starts the followers and the reconciliation loop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ix = indexer or await asyncio.to_thread(Indexer, config)
        app.state.indexer = ix
        runner = asyncio.create_task(ix.run(), name="indexer")
        try:
            yield
        finally:
            runner.cancel()
            try:
                await runner
            except (asyncio.CancelledError, Exception):
                pass
            await ix.close()

    app = FastAPI(title="Tandem indexer", lifespan=lifespan)

    def ix() -> Indexer:
        return app.state.indexer

    @app.get("/v1/reconciliation")
    def reconciliation():
        report = ix().report
        if report is None:
            return JSONResponse({"detail": "no reconciliation yet"}, status_code=503)
        return report.body()

    @app.get("/v1/reconciliation/history")
    async def reconciliation_history(limit: int = Query(300, ge=1, le=5000)):
        return await asyncio.to_thread(ix().history, limit)

    @app.get("/v1/breaks")
    async def breaks(limit: int = Query(200, ge=1, le=5000)):
        return await asyncio.to_thread(ix().breaks_history, limit)

    @app.get("/v1/bridge")
    async def bridge():
        return await asyncio.to_thread(ix().bridge_body)

    @app.get("/v1/wallet_orders")
    async def wallet_orders():
        return await ix().wallet_orders()

    @app.get("/v1/balances")
    async def balances(owner: str | None = None, ticker: str | None = None, limit: int = Query(1000, ge=1, le=100_000)):
        return await asyncio.to_thread(ix().balances, owner, ticker, limit)

    @app.get("/v1/balance_checks/latest")
    async def balance_check():
        latest = await asyncio.to_thread(ix().latest_balance_check)
        return latest if latest is not None else JSONResponse({"detail": "no balance check yet"}, status_code=404)

    @app.get("/v1/status")
    async def status():
        return await asyncio.to_thread(ix().status)

    @app.get("/v1/stream")
    async def stream():
        """Server-sent events: `reconciliation` (the body of /v1/reconciliation), `bridge`,
        `wallet_orders`, `break` (each transition)."""
        indexer_ = ix()
        queue = indexer_.subscribe()

        async def events():
            try:
                if indexer_.report is not None:
                    yield _sse("reconciliation", indexer_.report.body())
                while True:
                    try:
                        event, body = await asyncio.wait_for(queue.get(), timeout=PING_S)
                    except asyncio.TimeoutError:
                        yield b": ping\n\n"
                        continue
                    if event == "wallet_orders":
                        body = await indexer_.wallet_orders()
                    yield _sse(event, body)
            finally:
                indexer_.unsubscribe(queue)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    _include_optional(app)
    return app


def _include_optional(app: FastAPI) -> None:
    """The proof engineer's routes and the dashboard, when they exist (dashboard last: it owns `/`)."""
    try:
        from indexer.proof_api import router as proof_router
    except ImportError:
        proof_router = None
    if proof_router is not None:
        app.include_router(proof_router)
    try:
        from indexer.dashboard import install as install_dashboard
    except ImportError:
        return
    install_dashboard(app)


async def serve(config: IndexerConfig) -> None:
    """Run the indexer and its HTTP server until cancelled."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(config), host=config.host, port=config.port, log_level="warning", access_log=False,
                                           proxy_headers=False, server_header=False))
    await server.serve()


def run_indexer(config: IndexerConfig) -> None:
    """Blocking entry point (`tandem indexer`, and `tandem up` through it)."""
    asyncio.run(serve(config))
