"""Group commit for the order routes: the order commands that reach the server in the same
turn of the event loop share one database transaction (ExchangeService.run_group).

Concurrent clients' requests are parsed one after another on the loop; each order route
queues its command and awaits it, and the first to queue schedules one drain for the end
of the turn. No timer: a lone request is run at once, and under load a group is as large
as what arrived together. Each route answers only after the group committed, so an
acknowledged order is on disk exactly as before; what is saved is a BEGIN and a COMMIT
(with its WAL write or PostgreSQL flush) per command.

On PostgreSQL a group costs one round trip whatever its size (exchange/db.py sends its
writes with the COMMIT), and the loop waits in it, so the drain lets the loop take one more
turn first: requests already in the sockets' buffers (parsed in that turn) join the group
instead of waiting for the next. Measured with `python -m bench api` (1/1 mix), that turn
about doubled the share of full groups; on SQLite, whose commit is a WAL append, it did not
pay. (Running the group in a database thread so that the loop parses meanwhile was no
faster on either: the thread's statements and the loop's parsing share the GIL.)
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from exchange import errors
from exchange.mirror import StaleMirror
from exchange.service import ExchangeService

T = TypeVar("T")

MAX_GROUP = 64  # bounds one drain's time on the loop


class GroupCommit:
    def __init__(self, service: ExchangeService) -> None:
        self.service = service
        self._pending: list[tuple[Callable[[], object], asyncio.Future]] = []
        self._scheduled = False
        self._turns = 0 if service.db.sqlite else 1  # loop turns a drain waits (see above)

    async def run(self, command: Callable[[], T]) -> T:
        """Run `command` (a call of an order method of the service) in the next group."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((command, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._drain, self._turns)
        result = await future
        return result

    def _run(self, commands: list[Callable[[], object]]) -> list[object]:
        mirror = self.service.db.mirror
        suspects = mirror.suspect_rollbacks if mirror is not None else 0
        results = self.service.run_group(commands)
        # The PostgreSQL writer's mirror (exchange/mirror.py) answered a balance that another
        # process had changed: the command rolled back (StaleMirror), or, alone, was refused
        # on balances the mirror has forgotten since. Either runs once more, on fresh reads
        # (a refused command wrote nothing).
        retry_refused = len(commands) == 1 and mirror is not None and mirror.suspect_rollbacks != suspects
        return [self.service.run_group([c])[0]
                if isinstance(r, StaleMirror) or (retry_refused and isinstance(r, errors.ExchangeError)) else r
                for c, r in zip(commands, results)]

    def _drain(self, turns: int = 0) -> None:
        if turns:
            asyncio.get_running_loop().call_soon(self._drain, turns - 1)
            return
        self._scheduled = False
        while self._pending:
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            commands = [command for command, _ in group]
            try:
                results = self._run(commands)
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
