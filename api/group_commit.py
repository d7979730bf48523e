"""Group commit for the order routes: the order commands that reach the server in the same
turn of the event loop share one database transaction (ExchangeService.run_group).

Concurrent clients' requests are parsed one after another on the loop; each order route
queues its command and awaits it, and the first to queue schedules one drain for the end
of the turn. No timer: a lone request is run at once, and under load a group is as large
as what arrived together. Each route answers only after the group committed, so an
acknowledged order is on disk exactly as before; what is saved is a BEGIN and a COMMIT
(with its WAL write or PostgreSQL flush) per command.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from exchange.service import ExchangeService

T = TypeVar("T")

MAX_GROUP = 64  # bounds one drain's time on the loop


class GroupCommit:
    def __init__(self, service: ExchangeService) -> None:
        self.service = service
        self._pending: list[tuple[Callable[[], object], asyncio.Future]] = []
        self._scheduled = False

    async def run(self, command: Callable[[], T]) -> T:
        """Run `command` (a call of an order method of the service) in the next group."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((command, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._drain)
        result = await future
        return result

    def _drain(self) -> None:
        self._scheduled = False
        while self._pending:
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            try:
                results = self.service.run_group([command for command, _ in group])
            except Exception as exc:  # the database itself failed: every command of the group fails
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(group, results):
                if future.done():  # the client went away
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
