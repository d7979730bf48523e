"""The parts every domain module of the service works with. `ExchangeService.__init__` builds
one of each; the domain classes (queries, reference, cash, lifecycle, orders, fills,
order_groups, fill_reversal) are the facade's bases and reach them as attributes."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.db import Database
    from exchange.journal import Accounts
    from exchange.service.book_state import BookState
    from exchange.service.events import Publisher
    from exchange.service.holdings import Holdings
    from exchange.service.outbox_writer import OutboxWriter
    from exchange.service.unit_of_work import UnitOfWork


class ServiceParts:
    db: Database  # its writer and reader engines
    unit_of_work: UnitOfWork  # the writer lock and THE transaction of every write
    accounts: Accounts  # ledger account ids, cached (kept or dropped with the transaction)
    holdings: Holdings  # users' cash and positions as the write paths read them
    books: BookState  # the books, resting orders and holds in memory, rebuilt from the database
    outbox: OutboxWriter  # typed outbox records, written in the command's transaction
    events: Publisher  # subscribers, told after the commit
