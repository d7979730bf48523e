"""Event publication: what subscribers (the WebSocket hub) hear after each commit.

Events are published only after the transaction that caused them committed; inside a group
commit they wait for the group's commit (`UnitOfWork.group.events`)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from exchange.schemas import FillEvent, TickerUpdate, TradeEvent
from exchange.service.book_state import BookState
from exchange.service.unit_of_work import UnitOfWork
from exchange.views import fill_view, trade_view

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, unit_of_work: UnitOfWork) -> None:
        self.unit_of_work = unit_of_work
        self._subscribers: list[Callable[[object], None]] = []

    @property
    def listening(self) -> bool:
        """Whether anyone subscribed (events nobody hears are not built)."""
        return bool(self._subscribers)

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        """Call `callback(event)` after each commit with BookDelta / TradeEvent / TickerUpdate /
        FillEvent / OrderEvent / MarketEvent objects; returns an unsubscribe function.

        Callbacks run on the committing thread, in commit order, and must not block
        (hand the event to a queue / `loop.call_soon_threadsafe`)."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, events: list) -> None:
        group = self.unit_of_work.group
        if group is not None:  # published once the group has committed
            group.events.extend(events)
            return
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:  # a broken subscriber must not break trading
                    log.exception("subscriber failed")

    def book_changes(self, books: BookState, deltas: list[tuple[str, str, int, int]],
                     trade_rows: Iterable[dict] = (), fill_rows: Iterable[dict] = ()) -> list:
        """The events of one committed command: its book deltas (which advance the books'
        seqs whether or not anyone listens), its trades and fills, and the touched markets'
        tickers. Empty if nobody listens."""
        group = self.unit_of_work.group
        if group is not None:  # a rollback gives these seqs back (GroupCommit.touched)
            for ticker, *_change in deltas:
                group.book_seqs.setdefault(ticker, books.markets[ticker].book_seq)
        book_deltas = books.advance(deltas)
        if not self._subscribers:
            return []
        events: list = list(book_deltas)
        events.extend(TradeEvent(trade_view(r)) for r in trade_rows)
        events.extend(FillEvent(fill_view(r)) for r in fill_rows)
        events.extend(TickerUpdate(books.markets[ticker].view()) for ticker in {d[0] for d in deltas})
        return events
