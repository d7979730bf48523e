"""A settle_fill the chain refused for good (its wallet order was force-closed), reversed in
the ledger by compensating entries, with a compensating custody group in the outbox.
"""
from __future__ import annotations

import logging

from sqlalchemy import select, update

from exchange import errors
from exchange import outbox as X
from exchange import statements as Q
from exchange.journal import Journal
from exchange.models import Fill, LedgerBalance, LedgerEntry, Order, OutboxEvent, Trade, User
from exchange.models import ledger as L
from exchange.positions import account_fill
from exchange.schemas import FillEvent, OrderEvent
from exchange.service.clock import now_ms
from exchange.service.common import WALLET, new_id
from exchange.service.parts import ServiceParts
from exchange.views import fill_view, order_view

_users = User.__table__
_orders = Order.__table__
_trades = Trade.__table__
_fills = Fill.__table__
_balances = LedgerBalance.__table__
_entries = LedgerEntry.__table__
_outbox = OutboxEvent.__table__

log = logging.getLogger(__name__)


class FillReversal(ServiceParts):
    def revert_settle_fill(self, stream: str, seq: int, reason: str) -> list[X.OutboxRecord]:
        """The program refused the settle_fill at (stream, seq) for good (the wallet order was
        force-closed; its escrow is gone). In ONE transaction: the trade's ledger movements
        (the match, fees, rebates, builder shares) are reversed by compensating entries; both
        fills are marked reverted (the fills listing shows `reverted_ms`, `revert_reason`);
        a wallet order's account (users.kind "wallet") is left as it was, its side going to
        EXTERNAL instead (force_close refunded the escrow on chain);
        the record, and the trade's other settle_fill if it was a wallet-vs-wallet match
        still pending, become `reverted`; and custody's part is compensated by a new group
        (`custody_mint_set` of what it merged, then `custody_merge_set` of the sets it minted
        plus any a custodial user's give-back nets: Kalshi's YES or NO, never both). After the commit both users get the fills and their orders again on the
        `fill` / `user_orders` channels. Returns the compensating records (maybe none).

        The rest of the refused record's group still applies. When the trade MERGED, that
        rest (the group's custody_merge_set) needs the tokens the wallet never gave: send
        the returned custody_mint_set in the same chain transaction, before it.

        Refused (nothing written) if the record is no pending settle_fill, or if the trade's
        other side settled on chain already. Reverting a reverted record returns []. Not
        undone: the orders' fill counts, and the P&L a closing fill realized."""
        from exchange.outbox_reader import record_of

        if not isinstance(reason, str) or not 0 < len(reason) <= 200:
            raise errors.InvalidRequest("reason must be 1-200 characters")
        with self.unit_of_work.transaction() as conn:
            row = conn.execute(select(_outbox).where(_outbox.c.stream == stream, _outbox.c.seq == seq)).mappings().first()
            if row is None:
                raise errors.NotFound(f"no outbox record {stream}/{seq}", code="outbox_not_found")
            if row["kind"] != X.SettleFill.kind:
                raise errors.InvalidRequest(f"{stream}/{seq} is a {row['kind']}, not a settle_fill", code="not_a_settle_fill")
            if row["status"] == X.REVERTED:
                return []
            if row["status"] != X.PENDING:
                raise errors.Conflict(f"{stream}/{seq} is applied on chain; it cannot be reverted", code="outbox_applied")
            fill: X.SettleFill = X.decode(row["kind"], row["payload"])
            # The trade's settle_fills (two in a wallet-vs-wallet match) are in its command's group.
            same = [r for r in conn.execute(select(_outbox).where(
                _outbox.c.stream == stream, _outbox.c.group_id == row["group_id"],
                _outbox.c.kind == X.SettleFill.kind)).mappings()
                if X.decode(r["kind"], r["payload"]).trade_id == fill.trade_id]
            if any(r["status"] == X.APPLIED for r in same):
                raise errors.Conflict(f"trade {fill.trade_id}: the other side settled on chain; it cannot be reversed here",
                                      code="outbox_applied")
            trade = conn.execute(select(_trades).where(_trades.c.trade_id == fill.trade_id)).mappings().one()
            ticker = trade["ticker"]
            ts = now_ms()
            j = Journal(new_id(), ts)
            legs: dict[tuple[str, int], dict[str, object]] = {}
            for e in conn.execute(select(_entries).where(_entries.c.ref == fill.trade_id).order_by(_entries.c.id)).mappings():
                if e["kind"] == L.REVERSAL:
                    continue
                leg = legs.setdefault((e["journal_id"], e["leg"]), {"asset": e["asset"]})
                leg["payer" if e["amount"] < 0 else "receiver"] = e["account_id"]
                leg["amount"] = abs(e["amount"])
            for leg in legs.values():  # each movement back, receiver to payer
                j.move(L.REVERSAL, fill.trade_id, leg["asset"], leg["receiver"], leg["payer"], leg["amount"])
            trade_fills = conn.execute(select(_fills).where(_fills.c.trade_id == fill.trade_id)).mappings().all()
            before = self.holdings.positions(conn, ticker, {f["user_id"] for f in trade_fills})
            # A wallet order's account mirrors its escrow, which force_close already refunded on
            # chain: what the reversal would put into (or take from) it is the world's (EXTERNAL).
            wallet_users = set(conn.execute(select(_users.c.id).where(
                _users.c.id.in_(list(before)), _users.c.kind == WALLET)).scalars().all())
            wallet_accounts = {self.holdings.user_account(conn, u) for u in wallet_users}
            external = self.accounts.get(conn, L.EXTERNAL) if wallet_accounts else None
            for (account, asset), delta in list(j.deltas.items()):
                if account in wallet_accounts and delta:
                    j.move(L.REVERSAL, fill.trade_id, asset, account, external, delta)
            # Kalshi netting: a custodial user given back a side they have since crossed (YES and
            # NO at once) has the pairs merged at once, like any other match would.
            yes, no = L.yes_asset(ticker), L.no_asset(ticker)
            netted = 0
            for user_id in sorted(set(before) - wallet_users):
                account = self.holdings.user_account(conn, user_id)
                held = dict(conn.execute(select(_balances.c.asset, _balances.c.amount).where(
                    _balances.c.account_id == account, _balances.c.asset.in_([yes, no]))).all())
                pairs = min(held.get(yes, 0) + j.delta(account, yes), held.get(no, 0) + j.delta(account, no))
                if pairs > 0:
                    issuance = self.accounts.get(conn, L.ISSUANCE, ticker)
                    j.move(L.MERGE, f"net:{fill.trade_id}", yes, account, issuance, pairs)
                    j.move(L.MERGE, f"net:{fill.trade_id}", no, account, issuance, pairs)
                    j.move(L.MERGE, f"net:{fill.trade_id}", L.CASH, self.accounts.get(conn, L.COLLATERAL, ticker),
                           account, pairs)
                    netted += pairs
            j.flush(conn)
            # Kalshi's position figures: the fill undone as the opposite fill at its price (exact for
            # a fill that opened; one that closed keeps the P&L it realized), its fee given back.
            stats = []
            for f in trade_fills:
                if f["user_id"] in wallet_users:
                    continue
                figures = [Q.STATS_EXPOSURE.scalar(conn, {"user_id": f["user_id"], "ticker": ticker}) or 0, 0, 0, 0]
                account_fill(figures, before[f["user_id"]], "ask" if f["book_side"] == "bid" else "bid", f["price"], f["count"])
                stats.append({"user_id": f["user_id"], "ticker": ticker, "exposure": figures[0], "total_traded": -figures[1],
                              "realized_pnl": figures[2], "fees_paid": f["rebate"] - f["fee"], "updated_ms": ts})
            Q.ADD_STATS.executemany(conn, stats)
            conn.execute(update(_fills).where(_fills.c.trade_id == fill.trade_id).values(reverted_ms=ts, revert_reason=reason))
            conn.execute(update(_outbox).where(_outbox.c.id.in_([r["id"] for r in same]))
                         .values(status=X.REVERTED, revert_reason=reason))
            compensation: list[X.Record] = []
            if trade["merged"]:  # first: the rest of the refused group may merge what this mints
                compensation.append(X.CustodyMintSet(ticker, trade["merged"], j.journal_id))
            if trade["minted"] + netted:
                compensation.append(X.CustodyMergeSet(ticker, trade["minted"] + netted, j.journal_id))
            written = self.outbox.write(conn, compensation, ts, group=j.journal_id) if compensation else []
            fills = conn.execute(select(_fills).where(_fills.c.trade_id == fill.trade_id)).mappings().all()
            users = {f["user_id"] for f in fills}
            positions = self.holdings.positions(conn, ticker, users)
            orders = conn.execute(select(_orders).where(_orders.c.order_id.in_([f["order_id"] for f in fills]))).mappings().all()
            new_rows = conn.execute(select(_outbox).where(_outbox.c.stream.in_({s for s, _ in written} or {""}),
                                                          _outbox.c.group_id == j.journal_id)
                                    .order_by(_outbox.c.seq)).mappings().all()
        state = self.books.markets.get(ticker)
        if state is not None:
            state.open_interest += trade["merged"] - trade["minted"] - netted
            for user_id, pos in positions.items():
                self.books.positions[(user_id, ticker)] = pos
                self.books.recompute_hold(user_id, ticker)
        log.warning("settle_fill %s/%s reverted (%s): trade %s reversed", stream, seq, reason, fill.trade_id)
        self.events.publish([FillEvent(fill_view(f)) for f in fills] + [OrderEvent(order_view(o)) for o in orders])
        return [record_of(r) for r in new_rows]
