"""THE unit of work of the service: one writer lock, one transaction per command (or per group
commit of several), and the ledger-account cache's commit and rollback.

Every write of the service runs in `UnitOfWork.transaction()`. Inside a group commit
(`run_group`) every command's transaction is the group's one transaction, and what the
commands publish waits for the group's commit (events.Publisher)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection

from exchange import errors
from exchange.db import Database
from exchange.journal import Accounts

log = logging.getLogger(__name__)


@dataclass
class GroupCommit:
    """A group commit in progress (UnitOfWork.run_group, wallet_orders.place)."""

    conn: Connection | None = None
    events: list = field(default_factory=list)  # published once the group has committed
    markets: set[str] = field(default_factory=set)  # to rebuild if the group rolls back
    book_seqs: dict[str, int] = field(default_factory=dict)  # each book's seq before the group changed it

    def touched(self) -> dict[str, int | None]:
        """The markets to rebuild after a rollback, each with the book seq to resume at (its
        changes in the group were never published, so their seqs go back)."""
        return {ticker: self.book_seqs.get(ticker) for ticker in self.markets | set(self.book_seqs)}


class GroupAbort(Exception):
    """A command failed in a way that spoils the whole group's transaction or memory."""


class UnitOfWork:
    def __init__(self, db: Database, accounts: Accounts) -> None:
        self.db = db
        self.accounts = accounts
        self.lock = threading.RLock()  # the serialised writer: every command holds it
        self.group: GroupCommit | None = None  # the open group commit, if any
        self._writer: Connection | None = None  # the writer's held connection, used under `lock`

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Take the writer lock and run one transaction on the writer's held connection (inside
        a group commit: the group's transaction). Accounts the transaction created are kept in
        the cache only if it commits, and forgotten if it rolls back (a rolled-back id may be
        handed out again, on SQLite to the very next account).

        Holding the connection saves a pool checkout per command (the README has the figure)."""
        with self.lock:
            if self.group is not None and self.group.conn is not None:
                yield self.group.conn  # the group's own transaction commits or rolls back
                return
            conn = self._writer
            if conn is None or conn.closed or conn.invalidated:
                if conn is not None:
                    conn.close()
                conn = self._writer = self.db.writer.connect()
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                self.accounts.drop_new()
                raise
            self.accounts.keep_new()

    def note_market(self, ticker: str) -> None:
        """Inside a group commit: this market's book changed (rebuilt if the group rolls back)."""
        if self.group is not None:
            self.group.markets.add(ticker)

    def run_group(self, commands: list[Callable[[], object]], *, rebuild: Callable[[str, int | None], object],
                  publish: Callable[[list], None]) -> list[object]:
        """Run `commands` in ONE transaction, in order; each one's result or the exception it
        raised. A clean refusal (ExchangeError) is that command's result; anything else rolls
        the group back, `rebuild(ticker, book_seq)`s the books it touched and runs every command
        alone. The group's events are `publish`ed after its commit (ExchangeService.run_group)."""
        if len(commands) == 1:
            return [self.run_alone(commands[0])]
        with self.lock:
            group = self.group = GroupCommit()
            results: list[object] = []
            try:
                with self.transaction() as conn:
                    group.conn = conn
                    for command in commands:
                        try:
                            results.append(command())
                        except errors.ExchangeError as exc:  # refused before anything changed
                            results.append(exc)
            except Exception:
                log.warning("group commit of %d commands rolled back; running them one by one", len(commands), exc_info=True)
                self.group = None
                for ticker, book_seq in group.touched().items():
                    rebuild(ticker, book_seq)
                return [self.run_alone(c) for c in commands]
            finally:
                self.group = None
        publish(group.events)
        return results

    @staticmethod
    def run_alone(command: Callable[[], object]) -> object:
        try:
            return command()
        except Exception as exc:  # handed back to its caller, not to the whole group
            return exc
