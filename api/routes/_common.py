"""What every route module shares: the service, the typed app context of the order handlers,
JSON responses, Kalshi's query conventions.

Routes are `async def` and call the (blocking) service on the event loop on purpose: the
service serialises every write behind one lock anyway, and measured with `python -m bench api`
(SQLite, 2 cores) `def` routes in the threadpool did 712 order commands/s against 1,147/s
for `async def` (thread hand-offs and GIL contention). The cost: while a command commits,
the loop (WebSocket fan-out, other requests) waits for it.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Query, Request
from fastapi.responses import Response

from exchange.service import ExchangeService
from exchange.units import MAX_UNIX_SECONDS

from api.auth import Authenticator
from api.group_commit import GroupCommit
from api.schemas.requests import check_subaccount  # noqa: F401  (one check; the routes import it from here)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AppContext:
    """What the order handlers shared by the fast lane and the routes (api/routes/orders.py)
    use of the app, typed: the lifespan (api/app.py) opens these on `app.state`."""

    service: ExchangeService
    group_commit: GroupCommit
    auth: Authenticator

    async def grouped(self, command: Callable[[], T]) -> T:
        """Run an order command (place / batch place / cancel / batch cancel) in the next group
        commit (api/group_commit.py); returns once the group has committed."""
        return await self.group_commit.run(command)


def app_context(state) -> AppContext:
    """The app context of a running app's `state` (a request's `request.app.state`, the fast
    lane's `scope["app"].state`)."""
    return AppContext(state.service, state.group_commit, state.auth)


def service(request: Request) -> ExchangeService:
    return request.app.state.service


async def grouped(request: Request, command: Callable[[], T]) -> T:
    """`AppContext.grouped` for a route that has its request."""
    return await request.app.state.group_commit.run(command)


def json_bytes(content) -> bytes:
    """The compact JSON every API answer is written as (FastAPI routes and the fast lane)."""
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


class Json(Response):
    """A compact JSON body (the routes build plain dicts; no second validation pass)."""

    media_type = "application/json"

    def render(self, content) -> bytes:
        return json_bytes(content)


def ok(content, status: int = 200) -> Json:
    return Json(content, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


# Kalshi's Unix-second query filters (min_ts, max_close_ts, ...), bounded like every timestamp.
UnixSecondsQuery = Annotated[int | None, Query(ge=0, le=MAX_UNIX_SECONDS)]


def ms(seconds: int | None) -> int | None:
    """A Kalshi Unix-second lower bound (min_*) -> milliseconds: from the start of that second."""
    return None if seconds is None else seconds * 1000


def ms_end(seconds: int | None) -> int | None:
    """A Kalshi Unix-second upper bound (max_*) -> milliseconds: through the end of that second,
    as a client that only sees seconds would count it."""
    return None if seconds is None else seconds * 1000 + 999


def csv(value: str | None) -> list[str] | None:
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None
