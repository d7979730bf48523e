"""A faulty network between the bridge and localnet: an HTTP proxy (aiohttp) in the test's
event loop that, per request, at the rates it is given:

- drops: closes the client's connection without forwarding the request;
- cuts: forwards the request (it takes effect on the chain), then closes the client's
  connection without the answer — the case where a sendTransaction landed but the bridge
  never heard so (`cut_send`: an extra rate for sendTransaction alone);
- delays: holds the request up to `max_delay` seconds before forwarding it;
- errors: answers without forwarding, with an HTTP 503 or a JSON-RPC error (-32005, node behind);
- blocks sends: while `block_sends` is set, every sendTransaction is dropped (its blockhash then
  expires in flight).

Counts of what it did are in `stats`.
"""
from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import aiohttp
from aiohttp import web


class FaultyProxy:
    def __init__(self, upstream: str, *, drop: float = 0.0, cut: float = 0.0, delay: float = 0.0, error: float = 0.0,
                 cut_send: float = 0.0, max_delay: float = 0.3, seed: int = 7) -> None:
        self.upstream = upstream
        self.drop, self.cut, self.delay, self.error = drop, cut, delay, error
        self.cut_send = cut_send  # extra: sendTransaction forwarded (it lands) but its answer lost
        self.max_delay = max_delay
        self.block_sends = False
        self.random = random.Random(seed)
        self.stats: Counter = Counter()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def quiet(self) -> None:
        self.drop = self.cut = self.delay = self.error = self.cut_send = 0.0
        self.block_sends = False

    async def start(self) -> "FaultyProxy":
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()

    def _abort(self, request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()  # RST: the client sees the connection cut
        return web.Response(status=500)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            methods = [m.get("method") for m in (json.loads(body) if body.startswith(b"[") else [json.loads(body)])]
        except ValueError:
            methods = []
        self.stats["requests"] += 1
        if self.block_sends and "sendTransaction" in methods:
            self.stats["blocked_sends"] += 1
            return self._abort(request)
        roll = self.random.random()
        if roll < self.drop:
            self.stats["dropped"] += 1
            return self._abort(request)
        roll -= self.drop
        if roll < self.error:
            self.stats["errors"] += 1
            if self.random.random() < 0.5:
                return web.Response(status=503, text="upstream unavailable")
            msg = json.loads(body) if not body.startswith(b"[") else {"id": None}
            return web.json_response({"jsonrpc": "2.0", "id": msg.get("id"),
                                      "error": {"code": -32005, "message": "Node is behind by 12 slots",
                                                "data": {"numSlotsBehind": 12}}})
        roll -= self.error
        if roll < self.delay:
            self.stats["delayed"] += 1
            await asyncio.sleep(self.random.uniform(0, self.max_delay))
        roll -= self.delay
        async with self._session.post(self.upstream, data=body, headers={"Content-Type": "application/json"}) as resp:
            answer = await resp.read()
            status = resp.status
        if roll < self.cut or ("sendTransaction" in methods and self.random.random() < self.cut_send):
            self.stats["cut"] += 1
            if "sendTransaction" in methods:
                self.stats["cut_sends"] += 1
            return self._abort(request)
        return web.Response(body=answer, status=status, content_type="application/json")
