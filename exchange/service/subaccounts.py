"""Kalshi's subaccounts: a user's numbered subaccounts 1-63 (0 is the user itself).

Each subaccount is its own custodial user row (with its own ledger account, so its cash,
holds, orders and positions are separate by construction: nothing else in the service needs
to know about subaccounts), linked to its parent in `subaccounts` and reached only through
the parent's requests. A transfer moves cash between two of one parent's subaccounts in one
ledger transaction, refused beyond what the source has free; custody's totals do not change
(both sides are custodial), so nothing goes to the outbox.
"""
from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from exchange import errors
from exchange.journal import Journal
from exchange.models import Subaccount, SubaccountTransfer, User
from exchange.models import ledger as L
from exchange.paging import newest_first
from exchange.schemas import Page
from exchange.service.clock import now_ms
from exchange.service.common import WALLET, new_id
from exchange.service.parts import ServiceParts
from exchange.units import MAX_UNITS

MAX_SUBACCOUNT = 63

_subaccounts = Subaccount.__table__
_transfers = SubaccountTransfer.__table__
_users = User.__table__


class Subaccounts(ServiceParts):
    def create_subaccount(self, parent_user_id: int) -> int:
        """The parent's next subaccount number (1-63), with its user row and ledger account."""
        parent = self.get_user(parent_user_id)
        if parent.kind == WALLET or self._parent_of(parent_user_id) is not None:
            raise errors.InvalidRequest("only a custodial user's primary account has subaccounts",
                                        code="invalid_parameters")
        ts = now_ms()
        with self.unit_of_work.transaction() as conn:
            number = (conn.execute(select(func.max(_subaccounts.c.number)).where(
                _subaccounts.c.parent_user_id == parent_user_id)).scalar_one() or 0) + 1
            if number > MAX_SUBACCOUNT:
                raise errors.InvalidRequest(f"at most {MAX_SUBACCOUNT} subaccounts", code="subaccount_limit")
            user_id = conn.execute(insert(_users).values(name=f"{parent.name}#{number}", kind=parent.kind,
                                                         created_ms=ts).returning(_users.c.id)).scalar_one()
            conn.execute(insert(_subaccounts).values(user_id=user_id, parent_user_id=parent_user_id, number=number,
                                                     created_ms=ts))
            self.holdings.user_account(conn, user_id)
        return number

    def subaccount_user(self, parent_user_id: int, number: int | None) -> int:
        """The user a request with `subaccount=number` acts as (None or 0: the parent)."""
        if number is None or number == 0:
            return parent_user_id
        if isinstance(number, bool) or not isinstance(number, int) or not 0 < number <= MAX_SUBACCOUNT:
            raise errors.InvalidRequest(f"subaccount must be 0 to {MAX_SUBACCOUNT}", code="invalid_parameters")
        with self.db.reader.connect() as conn:
            user_id = conn.execute(select(_subaccounts.c.user_id).where(
                _subaccounts.c.parent_user_id == parent_user_id, _subaccounts.c.number == number)).scalar_one_or_none()
        if user_id is None:
            raise errors.NotFound(f"subaccount {number} not found", code="subaccount_not_found")
        return user_id

    def subaccounts(self, parent_user_id: int) -> list[tuple[int, int]]:
        """(number, user id) of the parent (0) and each of its subaccounts, by number."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(_subaccounts.c.number, _subaccounts.c.user_id).where(
                _subaccounts.c.parent_user_id == parent_user_id).order_by(_subaccounts.c.number)).all()
        return [(0, parent_user_id)] + [(n, u) for n, u in rows]

    def transfer_between_subaccounts(self, parent_user_id: int, client_transfer_id: str, from_number: int,
                                     to_number: int, amount: int) -> str:
        """Move `amount` of cash (base units) between two of the parent's subaccounts; the
        same client_transfer_id again returns the first transfer's id and moves nothing."""
        if from_number == to_number:
            raise errors.InvalidRequest("from_subaccount and to_subaccount must differ", code="invalid_parameters")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_UNITS:
            raise errors.InvalidRequest("amount must be positive", code="invalid_parameters")
        source = self.subaccount_user(parent_user_id, from_number)
        target = self.subaccount_user(parent_user_id, to_number)
        existing = self._transfer_id(parent_user_id, client_transfer_id)
        if existing is not None:
            return existing
        transfer_id, ts = new_id(), now_ms()
        try:
            with self.unit_of_work.transaction() as conn:
                available = self.holdings.cash(conn, source) - self.books.held(source)
                if amount > available:
                    raise errors.InsufficientBalance(f"subaccount {from_number} has {available} free, less than {amount}")
                j = Journal(new_id(), ts)
                j.move(L.TRANSFER, transfer_id, L.CASH, self.holdings.user_account(conn, source),
                       self.holdings.user_account(conn, target), amount)
                j.flush(conn)
                conn.execute(insert(_transfers).values(
                    transfer_id=transfer_id, client_transfer_id=client_transfer_id, parent_user_id=parent_user_id,
                    from_number=from_number, to_number=to_number, amount=amount, journal_id=j.journal_id, created_ms=ts))
        except IntegrityError:  # the same client_transfer_id raced us: its transfer stands, this one rolled back
            existing = self._transfer_id(parent_user_id, client_transfer_id)
            if existing is None:
                raise
            return existing
        return transfer_id

    def subaccount_transfers(self, parent_user_id: int, *, cursor: str | None = None,
                             limit: int | None = None) -> Page:
        q = select(_transfers).where(_transfers.c.parent_user_id == parent_user_id)
        return newest_first(self.db.reader, q, _transfers, _transfers.c.created_ms, None, None, cursor, limit, dict)

    def _transfer_id(self, parent_user_id: int, client_transfer_id: str) -> str | None:
        with self.db.reader.connect() as conn:
            return conn.execute(select(_transfers.c.transfer_id).where(
                _transfers.c.parent_user_id == parent_user_id,
                _transfers.c.client_transfer_id == client_transfer_id)).scalar_one_or_none()

    def _parent_of(self, user_id: int) -> int | None:
        found = self.subaccount_of(user_id)
        return None if found is None else found[0]

    @staticmethod
    def same_owner(conn, first_user_id: int, second_user_id: int) -> bool:
        """Whether two user rows are accounts (primary or numbered) of one parent, read on `conn`."""
        def owner(uid: int) -> int:
            parent = conn.execute(select(_subaccounts.c.parent_user_id).where(
                _subaccounts.c.user_id == uid)).scalar_one_or_none()
            return uid if parent is None else parent
        return owner(first_user_id) == owner(second_user_id)

    def subaccount_of(self, user_id: int) -> tuple[int, int] | None:
        """(parent user id, number) when `user_id` is a subaccount; None for a primary account."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(_subaccounts.c.parent_user_id, _subaccounts.c.number).where(
                _subaccounts.c.user_id == user_id)).first()
        return None if row is None else (row[0], row[1])
