"""`ExchangeService`: the one entry point of the API, the CLI and the workers.

It owns one matching engine per market in memory and the ledger in the database. Each
command runs under the serialised writer lock as ONE short database transaction:

    validate → reserve → match → post → record → commit → memory follows → publish

and nothing is acknowledged or published before its commit. If the transaction fails,
the market's engine is rebuilt from the database, so memory never runs ahead of disk.
On start the engines are rebuilt from the resting orders (in their original priority)
and balances come from the ledger, so after kill -9 the book and every balance are
exactly what they were at the last acknowledged command.

Processes other than the trading server (CLI, bridge, indexer) may construct their own
service with `restore=False` for users, keys, funding, markets and outbox reads; the
trading server picks up markets created elsewhere on first use.

The class is the sum of its domain parts (one module each, exchange/service/__init__.py
has the map); what they share is built here, once.
"""
from __future__ import annotations

from collections.abc import Callable

from exchange.db import Database, connect, open_database
from exchange.journal import Accounts
from exchange.service.book_state import BookState
from exchange.service.cash import CashAndCustody
from exchange.service.events import Publisher
from exchange.service.fill_reversal import FillReversal
from exchange.service.fills import FillPosting
from exchange.service.holdings import Holdings
from exchange.service.kalshi_reads import KalshiReads
from exchange.service.lifecycle import MarketLifecycle
from exchange.service.order_groups import OrderGroups
from exchange.service.orders import OrderCommands
from exchange.service.outbox_writer import OutboxWriter
from exchange.service.queries import Queries
from exchange.service.reference import ReferenceData
from exchange.service.rfq import RequestsForQuote
from exchange.service.subaccounts import Subaccounts
from exchange.service.unit_of_work import UnitOfWork


class ExchangeService(OrderCommands, FillPosting, OrderGroups, CashAndCustody, MarketLifecycle, ReferenceData,
                      FillReversal, Queries, KalshiReads, Subaccounts, RequestsForQuote):
    def __init__(self, url: str, *, migrate: bool = True, restore: bool = True) -> None:
        self.db: Database = open_database(url) if migrate else connect(url)
        self.accounts = Accounts()
        self.unit_of_work = UnitOfWork(self.db, self.accounts)
        self.holdings = Holdings(self.accounts)
        self.books = BookState(self.db, self.holdings)
        self.outbox = OutboxWriter()
        self.events = Publisher(self.unit_of_work)
        if restore:
            with self.unit_of_work.lock:
                self.books.restore()

    def close(self) -> None:
        self.unit_of_work.close()
        self.db.dispose()

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        """Call `callback(event)` after each commit with BookDelta / TradeEvent / TickerUpdate /
        FillEvent / OrderEvent / MarketEvent objects; returns an unsubscribe function.

        Callbacks run on the committing thread, in commit order, and must not block
        (hand the event to a queue / `loop.call_soon_threadsafe`)."""
        return self.events.subscribe(callback)

    def run_group(self, commands: list[Callable[[], object]]) -> list[object]:
        """Run order commands (place / batch place / cancel / batch cancel calls) in ONE
        transaction, in order; returns each one's result or the exception it raised.

        A group commits once for all of them and publishes nothing before that commit, so a
        caller must not acknowledge a command before this returns. Commands must be ones that
        read only through the group's transaction (not amend or decrease, which re-read
        orders through the reader). If anything but a clean refusal happens — a command
        fails after changing a book, or the commit fails — the group rolls back, the books
        it touched are rebuilt from the database, and every command runs again on its own."""
        return self.unit_of_work.run_group(commands, rebuild=self.books.load_market, publish=self.events.publish)
