"""A real JSON-RPC proxy in front of localnet that can refuse chosen reads (fault injection).

Everything is forwarded to the real chain; only requests named in `fail_methods`, or
getTransaction of a signature in `fail_signatures`, are refused with HTTP 503, as an
overloaded RPC node (or the load balancer in front of it) answers.
"""
from __future__ import annotations

import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chain.localnet import free_port


class FaultyRpc:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fail_signatures: set[str] = set()
        self.fail_methods: set[str] = set()
        self.refused: list[tuple[str, object]] = []
        self.port = free_port()
        self._client = httpx.AsyncClient(timeout=30)
        app = Starlette(routes=[Route("/", self._handle, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _refuse(self, request: dict) -> bool:
        method, params = request.get("method"), request.get("params") or []
        if method in self.fail_methods:
            return True
        return method == "getTransaction" and bool(params) and params[0] in self.fail_signatures

    async def _handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        if isinstance(body, dict) and self._refuse(body):
            self.refused.append((body["method"], (body.get("params") or [None])[0]))
            return JSONResponse({"error": "overloaded (injected)"}, status_code=503)
        upstream = await self._client.post(self.upstream, json=body)
        return JSONResponse(upstream.json())

    def start(self) -> "FaultyRpc":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("proxy did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
