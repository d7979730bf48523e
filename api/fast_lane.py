"""The hottest order routes straight off ASGI: create an order (V2 and legacy), batched create
and batched cancel (V2), what a quoting bot sends most.

FastAPI's routing, dependency injection and response machinery cost about a third of the CPU
such a request takes (`python -m bench api`; the figures are in the README). Nothing else differs: the lane runs the same authorization
(`api.auth.authorize`), the same request models, the same handlers (`place_v2`,
`batch_place_v2`, `batch_cancel_v2`, `place_legacy` in api/routes/orders.py) and answers refusals through the same
`api.errors.refusal`. The routes stay declared in FastAPI too, for the OpenAPI document and
for any request the lane passes on (other methods, paths or ASGI versions).
"""
from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import authorize
from api.errors import REFUSALS, error_body, refusal
from api.routes._common import app_context, json_bytes
from api.routes.orders import batch_cancel_v2, batch_place_v2, place_legacy, place_v2
from api.schemas import requests as rq

log = logging.getLogger(__name__)

PREFIX = "/trade-api/v2"
# (method, path) -> (request model, handler, success status)
ROUTES = {
    ("POST", f"{PREFIX}/portfolio/events/orders"): (rq.CreateOrderV2, place_v2, 201),
    ("POST", f"{PREFIX}/portfolio/events/orders/batched"): (rq.BatchCreateV2, batch_place_v2, 201),
    ("DELETE", f"{PREFIX}/portfolio/events/orders/batched"): (rq.BatchCancelV2, batch_cancel_v2, 200),
    ("POST", f"{PREFIX}/portfolio/orders"): (rq.CreateOrderLegacy, place_legacy, 201),
}
MAX_BODY = 1 << 20  # far above 20 orders; a larger body is refused unread


class FastLane:
    """ASGI middleware: serves ROUTES itself, passes everything else to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Matched on the path as the client sent (and signed) it; anything unusual goes to FastAPI.
        path = scope.get("raw_path", b"").decode("latin-1") if scope["type"] == "http" else ""
        route = ROUTES.get((scope.get("method"), path))
        if route is None or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        model, handler, ok_status = route
        try:
            body = await _read_body(receive)
            if body is None:  # the client went away before its body arrived
                return
            context = app_context(scope["app"].state)
            user = authorize(context.auth, Headers(scope=scope), scope["method"], path)
            status, content, headers = ok_status, await handler(context, user, model.model_validate_json(body)), None
        except REFUSALS as exc:
            status, content, headers = refusal(exc)
        except _BodyTooLarge:
            status, content, headers = 413, error_body("request_too_large", f"bodies are at most {MAX_BODY} bytes"), None
        except Exception:  # as FastAPI's last handler: logged, internals not shown
            log.exception("unhandled error")
            status, content, headers = 500, error_body("internal_error", "internal error"), None
        raw = json_bytes(content)
        response_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        response_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": raw})


class _BodyTooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
