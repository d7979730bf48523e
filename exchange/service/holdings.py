"""What the service's write paths read of the ledger's balances: users' cash and positions.

One place on purpose: these are the reads an order command repeats, so this is where the
ledger could be kept in memory and written through (issue 9, PostgreSQL at speed)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from exchange import statements as Q
from exchange.journal import Accounts
from exchange.models import LedgerAccount, LedgerBalance
from exchange.models import ledger as L

_balances = LedgerBalance.__table__
_accounts = LedgerAccount.__table__


class Holdings:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def user_account(self, conn: Connection, user_id: int) -> int:
        """The user's ledger account (created on first use)."""
        return self.accounts.get(conn, L.USER, user_id)

    def positions(self, conn: Connection, ticker: str, user_ids: Iterable[int]) -> dict[int, int]:
        """Kalshi-signed positions (YES − NO) of users in one market, from ledger balances."""
        user_ids = list(user_ids)
        rows = conn.execute(
            select(_accounts.c.ref, _balances.c.asset, _balances.c.amount)
            .join(_accounts, _accounts.c.id == _balances.c.account_id)
            .where(
                _accounts.c.kind == L.USER,
                _accounts.c.ref.in_([str(u) for u in user_ids]),
                _balances.c.asset.in_([L.yes_asset(ticker), L.no_asset(ticker)]),
            )
        )
        positions = dict.fromkeys(user_ids, 0)
        for ref, asset, amount in rows:
            positions[int(ref)] += amount if asset.startswith("YES:") else -amount
        return positions

    def positions_and_cash(self, conn: Connection, ticker: str,
                           user_ids: Iterable[int]) -> tuple[dict[int, int], dict[int, int]]:
        """(positions, cash) of users in one market, from ledger balances (the hot path)."""
        yes = L.yes_asset(ticker)
        params = {"cash": L.CASH, "yes": yes, "no": L.no_asset(ticker)}
        positions: dict[int, int] = {}
        cash: dict[int, int] = {}
        for user in user_ids:
            params["account"] = self.user_account(conn, user)
            positions[user] = cash[user] = 0
            for asset, amount in Q.HOLDINGS.rows(conn, params):
                if asset == L.CASH:
                    cash[user] = amount
                elif asset == yes:
                    positions[user] += amount
                else:
                    positions[user] -= amount
        return positions, cash

    def cash(self, conn: Connection, user_id: int) -> int:
        account = self.accounts.cached(L.USER, user_id)
        if account is None:
            account = self.user_account(conn, user_id)
        return conn.execute(
            select(_balances.c.amount).where(_balances.c.account_id == account, _balances.c.asset == L.CASH)
        ).scalar_one_or_none() or 0
