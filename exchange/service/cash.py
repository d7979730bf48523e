"""Cash and custody: operator funding and debits, custodial withdrawals to Solana wallets,
deposit references, and crediting the wallet deposits the indexer saw finalized.

Custodial cash is backed on chain: `fund` writes `custody_fund`, withdrawals write
`custody_withdraw` (DESIGN.md, "The outbox contract").
"""
from __future__ import annotations

import secrets

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange import errors
from exchange import outbox as X
from exchange.journal import Journal
from exchange.models import CustodyWithdrawal, Deposit, User
from exchange.models import custody as C
from exchange.models import ledger as L
from exchange.schemas import BalanceView, DepositResult, PositionEvent, WithdrawalView
from exchange.service.clock import now_ms
from exchange.service.common import WALLET, new_id
from exchange.service.parts import ServiceParts
from exchange.tickers import check_ticker
from exchange.units import CENT, MAX_UNITS

_users = User.__table__
_withdrawals = CustodyWithdrawal.__table__
_deposits = Deposit.__table__


class CashAndCustody(ServiceParts):
    def fund(self, user_id: int, amount: int | None = None, *, cents: int | None = None, ref: str = "operator") -> BalanceView:
        """An operator cash deposit (collateral base units, or `cents=`). Custodial cash is
        backed on chain: for a custodial user the same transaction writes `custody_fund`, and
        the bridge moves that collateral from the operator's float into custody."""
        amount = self._amount(amount, cents)
        user = self.get_user(user_id)
        with self.unit_of_work.transaction() as conn:
            j = Journal(new_id(), now_ms())
            j.move(L.DEPOSIT, ref, L.CASH, self.accounts.get(conn, L.EXTERNAL), self.holdings.user_account(conn, user_id), amount)
            j.flush(conn)
            if user.kind != WALLET:
                self.outbox.write(conn, [X.CustodyFund(amount, user_id, j.journal_id)], j.now_ms, group=j.journal_id)
        return self.balance(user_id)

    def debit(self, user_id: int, amount: int | None = None, *, cents: int | None = None, ref: str = "operator",
              to_wallet: str | None = None) -> BalanceView:
        """An operator cash withdrawal; refused beyond the available balance. With `to_wallet`
        it is a custodial withdrawal of collateral to that Solana wallet (`withdraw`, which
        writes `custody_withdraw`); without, the cash leaves the ledger only (paid out off
        chain) and the collateral behind it stays in custody as surplus for `custody_sweep`."""
        amount = self._amount(amount, cents)
        if to_wallet is not None:
            self.withdraw(user_id, "cash", amount, to_wallet)
            return self.balance(user_id)
        self.get_user(user_id)
        with self.unit_of_work.transaction() as conn:
            available = self.holdings.cash(conn, user_id) - self.books.held(user_id)
            if amount > available:
                raise errors.InsufficientBalance(f"balance {available} is less than {amount}")
            j = Journal(new_id(), now_ms())
            j.move(L.WITHDRAWAL, ref, L.CASH, self.holdings.user_account(conn, user_id), self.accounts.get(conn, L.EXTERNAL), amount)
            j.flush(conn)
        return self.balance(user_id)

    def withdraw(self, user_id: int, asset: str, amount: int, wallet: str, ticker: str | None = None) -> WithdrawalView:
        """A custodial withdrawal to a Solana wallet: YES/NO of `ticker` (contract base units)
        or cash (`ticker` None, collateral base units). Refused beyond what is free (cash:
        the available balance; YES/NO: the position less what resting orders would sell of
        it), with nothing written. Writes `custody_withdraw`; the withdrawal is `pending`
        until the bridge applies it (`sent`, with the signature), then `finalized`."""
        if asset not in ("yes", "no", "cash"):
            raise errors.InvalidRequest("asset must be yes, no or cash", code="invalid_parameters")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_UNITS:
            raise errors.InvalidRequest("amount must be a positive integer of base units", code="invalid_parameters")
        check_wallet(wallet)
        if asset == "cash":
            if ticker is not None:
                raise errors.InvalidRequest("a cash withdrawal names no ticker", code="invalid_parameters")
        else:
            check_ticker(ticker)
        user = self.get_user(user_id)
        if user.kind == WALLET:
            raise errors.InvalidRequest("wallet accounts hold their tokens themselves; nothing to withdraw",
                                        code="invalid_parameters")
        with self.unit_of_work.transaction() as conn:
            ts = now_ms()
            j = Journal(new_id(), ts)
            account = self.holdings.user_account(conn, user_id)
            if asset == "cash":
                available = self.holdings.cash(conn, user_id) - self.books.held(user_id)
                if amount > available:
                    raise errors.InsufficientBalance(f"only {max(0, available)} cash free to withdraw, not {amount}")
                ledger_asset = L.CASH
            else:
                state = self.books.market(ticker)
                if amount % state.row["lot"]:
                    raise errors.InvalidRequest(f"amount must be a multiple of the lot {state.row['lot']}", code="invalid_count")
                pos = self.holdings.positions(conn, ticker, [user_id])[user_id]
                held = pos if asset == "yes" else -pos
                committed = sum(o.remaining for o in self.books.orders_of(user_id, ticker).values()
                                if o.book_side == ("ask" if asset == "yes" else "bid"))
                if amount > held - committed:
                    raise errors.InsufficientBalance(f"only {max(0, held - committed)} {asset.upper()} free to withdraw, not {amount}")
                ledger_asset = L.yes_asset(ticker) if asset == "yes" else L.no_asset(ticker)
            j.move(L.WITHDRAWAL, wallet, ledger_asset, account, self.accounts.get(conn, L.EXTERNAL), amount)
            j.flush(conn)
            withdrawal_id = new_id()
            [(stream, seq)] = self.outbox.write(
                conn, [X.CustodyWithdraw(ticker, asset, amount, wallet, withdrawal_id, user_id)], ts, group=j.journal_id)
            conn.execute(insert(_withdrawals).values(
                withdrawal_id=withdrawal_id, user_id=user_id, ticker=ticker, asset=asset, amount=amount, wallet=wallet,
                status=C.PENDING, stream=stream, seq=seq, signature=None, journal_id=j.journal_id, created_ms=ts, updated_ms=ts))
        if asset != "cash":
            self.books.positions[(user_id, ticker)] = pos - amount if asset == "yes" else pos + amount
            self.books.recompute_hold(user_id, ticker)
            self.events.publish([PositionEvent(user_id, ticker)])
        return WithdrawalView(withdrawal_id, user_id, ticker, asset, amount, wallet, C.PENDING, None, ts, ts)

    def withdraw_position(self, user_id: int, ticker: str, side: str, count: int, wallet: str) -> WithdrawalView:
        """Move a custodial YES/NO position out to a Solana wallet (`withdraw`)."""
        if side not in ("yes", "no"):
            raise errors.InvalidRequest("side must be yes or no", code="invalid_parameters")
        return self.withdraw(user_id, side, count, wallet, ticker)

    def deposit_reference(self, user_id: int) -> str:
        """The user's 16-byte custodial account reference (32 hex characters) that wallets name
        in the program's `deposit_*` instructions; random, made on first ask, then fixed."""
        user = self.get_user(user_id)
        if user.kind == WALLET:
            raise errors.InvalidRequest("wallet accounts have no deposit reference", code="invalid_parameters")
        with self.db.reader.connect() as conn:
            reference = conn.execute(select(_users.c.deposit_reference).where(_users.c.id == user_id)).scalar_one()
        if reference is not None:
            return reference
        with self.unit_of_work.transaction() as conn:  # "IS NULL": a process that raced us keeps its reference
            conn.execute(update(_users).where(_users.c.id == user_id, _users.c.deposit_reference.is_(None))
                         .values(deposit_reference=secrets.token_hex(16)))
            return conn.execute(select(_users.c.deposit_reference).where(_users.c.id == user_id)).scalar_one()

    def credit_deposit(self, signature: str, ix_index: int, reference: str, asset: str, ticker: str | None,
                       amount: int) -> DepositResult:
        """Credit a `deposit_*` the indexer saw finalized, once per (signature, instruction
        index): a repeat is a no-op that says so (`credited` False). The 16-byte `reference`
        (hex) names the custodial user; an unknown one credits the suspense account
        (`suspense_deposits`). A token deposit to a user holding the other side is netted
        at once (Kalshi: YES or NO, never both): custody merges the pairs (`custody_merge_set`)."""
        if not isinstance(signature, str) or not 0 < len(signature) <= 100:
            raise errors.InvalidRequest("signature must be 1-100 characters", code="invalid_parameters")
        if isinstance(ix_index, bool) or not isinstance(ix_index, int) or not 0 <= ix_index < 2**31:
            raise errors.InvalidRequest("ix_index must be a non-negative integer", code="invalid_parameters")
        if not isinstance(reference, str) or len(reference) != 32 or any(c not in "0123456789abcdef" for c in reference.lower()):
            raise errors.InvalidRequest("reference must be 32 hex characters (16 bytes)", code="invalid_parameters")
        reference = reference.lower()
        if asset not in ("yes", "no", "cash"):
            raise errors.InvalidRequest("asset must be yes, no or cash", code="invalid_parameters")
        if (asset == "cash") != (ticker is None):
            raise errors.InvalidRequest("a token deposit names its ticker, a cash deposit none", code="invalid_parameters")
        if ticker is not None:
            check_ticker(ticker)
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_UNITS:
            raise errors.InvalidRequest("amount must be a positive integer of base units", code="invalid_parameters")
        key = {"signature": signature, "ix_index": ix_index}
        try:
            with self.unit_of_work.transaction() as conn:
                done = conn.execute(select(_deposits).where(_deposits.c.signature == signature,
                                                            _deposits.c.ix_index == ix_index)).mappings().first()
                if done is not None:
                    return DepositResult(False, done["user_id"], done["user_id"] is None, "already credited", **key)
                user_id = conn.execute(select(_users.c.id).where(_users.c.deposit_reference == reference)).scalar_one_or_none()
                state = None
                if ticker is not None and user_id is not None:
                    state = self.books.markets.get(ticker) or self.books.load_market(ticker)
                    if state is None:  # tokens of a market the exchange does not know: suspense
                        user_id = None
                ts = now_ms()
                j = Journal(new_id(), ts)
                ledger_asset = L.CASH if asset == "cash" else (L.yes_asset(ticker) if asset == "yes" else L.no_asset(ticker))
                to = self.holdings.user_account(conn, user_id) if user_id is not None else self.accounts.get(conn, L.SUSPENSE)
                # ledger_entries.ref is 64 characters and a signature up to 88: its head names it (deposits has the key)
                ref = f"{signature[:40]}:{ix_index}"
                j.move(L.DEPOSIT, ref, ledger_asset, self.accounts.get(conn, L.EXTERNAL), to, amount)
                merged = 0
                if state is not None:
                    pos = self.holdings.positions(conn, ticker, [user_id])[user_id]
                    yes_held, no_held = max(pos, 0), max(-pos, 0)
                    if asset == "yes":
                        merged = min(amount, no_held)
                        pos += amount
                    else:
                        merged = min(amount, yes_held)
                        pos -= amount
                    if merged:  # the deposit closes the other side: custody retires the pairs
                        issuance = self.accounts.get(conn, L.ISSUANCE, ticker)
                        ref = f"net:{ref}"
                        j.move(L.MERGE, ref, L.yes_asset(ticker), to, issuance, merged)
                        j.move(L.MERGE, ref, L.no_asset(ticker), to, issuance, merged)
                        j.move(L.MERGE, ref, L.CASH, self.accounts.get(conn, L.COLLATERAL, ticker), to, merged)
                j.flush(conn)
                if merged:
                    self.outbox.write(conn, [X.CustodyMergeSet(ticker, merged, j.journal_id)], ts, group=j.journal_id)
                conn.execute(insert(_deposits).values(reference=reference, asset=asset, ticker=ticker, amount=amount,
                                                      user_id=user_id, journal_id=j.journal_id, created_ms=ts, **key))
        except IntegrityError:  # another process credited it between our check and our insert
            return DepositResult(False, None, False, "already credited", **key)
        if state is not None:
            self.books.positions[(user_id, ticker)] = pos
            state.open_interest -= merged
            self.books.recompute_hold(user_id, ticker)
            self.events.publish([PositionEvent(user_id, ticker)])
        return DepositResult(True, user_id, user_id is None, "credited to suspense" if user_id is None else "credited", **key)

    @staticmethod
    def _amount(amount: int | None, cents: int | None) -> int:
        if (amount is None) == (cents is None):
            raise errors.InvalidRequest("give exactly one of amount or cents")
        value = amount if amount is not None else cents * CENT  # type: ignore[operator]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_UNITS:
            raise errors.InvalidRequest("amount must be a positive integer of base units")
        return value


def check_wallet(wallet: object) -> str:
    """A Solana address: base58 of 32 bytes."""
    from solders.pubkey import Pubkey

    try:
        if not isinstance(wallet, str) or not 32 <= len(wallet) <= 44:
            raise ValueError
        Pubkey.from_string(wallet)
    except ValueError:
        raise errors.InvalidRequest(f"wallet {wallet!r} is not a Solana address (base58, 32 bytes)",
                                    code="invalid_wallet") from None
    return wallet
