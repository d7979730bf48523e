"""What an order command's fills post, and the command's one flush.

`_post_fills` turns the engine's fills into ledger movements (post_match, with Kalshi
netting), per-order rounded fees, rebates and builder shares, trade and fill rows, position
figures and, for wallet orders, `settle_fill` records around the command's netted
`custody_mint_set` / `custody_merge_set` in the order the program needs. Everything is
gathered in a `CommandWrites` and written at once by `_record`.
"""
from __future__ import annotations

from sqlalchemy import Connection

from exchange import outbox as X
from exchange import statements as Q
from exchange.engine import EngineFill
from exchange.fees import ONE, charge_increment, fee_units, rebate_increment, share
from exchange.journal import Journal, cash_value, post_match
from exchange.models import ledger as L
from exchange.positions import account_fill
from exchange.schemas import FillView, dataclass, field
from exchange.service.book_state import MarketState, OpenOrder
from exchange.service.common import EXECUTED, RESTING, new_id
from exchange.service.parts import ServiceParts
from exchange.views import fill_view

@dataclass
class CommandWrites:
    """Everything one order command writes, gathered before a single flush (`_record`)."""

    journal: Journal
    order_rows: list[dict] = field(default_factory=list)
    order_updates: list[dict] = field(default_factory=list)
    trade_rows: list[dict] = field(default_factory=list)
    fill_rows: list[dict] = field(default_factory=list)
    outbox: list[X.Record] = field(default_factory=list)  # one group, in the order the program needs
    stats: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # exposure, traded, pnl, fees
    group_fills: dict[str, int] = field(default_factory=dict)
    group_cancelled: list[str] = field(default_factory=list)
    triggered_groups: list[str] = field(default_factory=list)


class FillPosting(ServiceParts):
    def _post_fills(self, conn: Connection, cmd: CommandWrites, state: MarketState, taker: OpenOrder, taker_row: dict,
                     engine_fills: list[EngineFill], ts: int) -> list[FillView]:
        if not engine_fills:
            return []
        ticker = state.row["ticker"]
        users = {taker.user_id} | {f.maker_user for f in engine_fills}
        positions = self.holdings.positions_and_cash(conn, ticker, users)[0]
        accounts = {u: self.holdings.user_account(conn, u) for u in users}
        collateral = self.accounts.get(conn, L.COLLATERAL, ticker)
        issuance = self.accounts.get(conn, L.ISSUANCE, ticker)
        fees_account = self.accounts.get(conn, L.FEES)
        rates = state.rates
        # [exposure (absolute), traded, realized pnl, fees (deltas)] per user, for position_stats.
        stats = {u: [0, 0, 0, 0] for u in users}
        for u in users:
            stats[u][0] = Q.STATS_EXPOSURE.scalar(conn, {"user_id": u, "ticker": ticker}) or 0
        cmd.stats = {(u, ticker): v for u, v in stats.items()}
        taker_fills: list[FillView] = []
        maker_rows: dict[str, dict] = {}
        net_sets = 0
        wallet_sells: list[X.SettleFill] = []
        wallet_buys: list[X.SettleFill] = []
        j = cmd.journal
        for f in engine_fills:
            maker = self.books.open[f.maker_order_id]
            trade_id = new_id()
            bid_user, ask_user = (taker.user_id, maker.user_id) if taker.book_side == "bid" else (maker.user_id, taker.user_id)
            account_fill(stats[taker.user_id], positions[taker.user_id], taker.book_side, f.price, f.count)
            account_fill(stats[maker.user_id], positions[maker.user_id], maker.book_side, f.price, f.count)
            posting = post_match(j, ticker, trade_id, f.price, f.count, accounts[bid_user], positions[bid_user],
                                 accounts[ask_user], positions[ask_user], collateral, issuance)
            positions[bid_user] = posting.bid_pos_after
            positions[ask_user] = posting.ask_pos_after
            # Fees, rounded per order (exchange/fees.py).
            t_units = fee_units(f.count, f.price, rates.taker_rate_ppm)
            taker_fee = charge_increment(taker.fee_units, t_units)
            taker.fee_units += t_units
            m_units = fee_units(f.count, f.price, rates.maker_rate_ppm)
            maker_fee = charge_increment(maker.fee_units, m_units)
            maker.fee_units += m_units
            r_units = fee_units(f.count, f.price, rates.maker_rebate_ppm)
            maker_rebate = rebate_increment(maker.rebate_units, r_units)
            maker.rebate_units += r_units
            j.move(L.FEE, trade_id, L.CASH, accounts[taker.user_id], fees_account, taker_fee)
            j.move(L.FEE, trade_id, L.CASH, accounts[maker.user_id], fees_account, maker_fee)
            j.move(L.REBATE, trade_id, L.CASH, fees_account, accounts[maker.user_id], maker_rebate)
            stats[taker.user_id][3] += taker_fee
            stats[maker.user_id][3] += maker_fee - maker_rebate
            for order, fee in ((taker, taker_fee), (maker, maker_fee)):
                if order.builder_code and fee:
                    cut = share(fee, self.books.builders.get(order.builder_code, 0))
                    j.move(L.BUILDER_SHARE, trade_id, L.CASH, fees_account,
                           self.accounts.get(conn, L.BUILDER, order.builder_code), cut)
            net_sets += posting.minted - posting.merged
            taker_is_bid = taker.book_side == "bid"
            cmd.trade_rows.append({"trade_id": trade_id, "ticker": ticker, "price": f.price, "count": f.count,
                                   "taker_book_side": taker.book_side, "taker_order_id": taker.order_id,
                                   "maker_order_id": maker.order_id, "minted": posting.minted, "merged": posting.merged,
                                   "created_ms": ts})
            # Orders.
            taker_row["taker_fill_count"] += f.count
            taker_row["taker_fill_cost"] += cash_value(f.price if taker_is_bid else ONE - f.price, f.count)
            taker_row["taker_fees"] += taker_fee
            taker_row["fee_units"] = taker.fee_units
            maker.remaining -= f.count
            mrow = maker_rows.get(maker.order_id)
            if mrow is None:
                mrow = maker_rows[maker.order_id] = {"b_order_id": maker.order_id, "fill": 0, "cost": 0, "fees": 0, "rebates": 0}
            mrow["fill"] += f.count
            mrow["cost"] += cash_value(f.price if maker.book_side == "bid" else ONE - f.price, f.count)
            mrow["fees"] += maker_fee
            mrow["rebates"] += maker_rebate
            for order, is_taker, fee, reb in ((taker, True, taker_fee, 0), (maker, False, maker_fee, maker_rebate)):
                side, action = order.side, order.action
                fill = {"fill_id": new_id(), "trade_id": trade_id, "order_id": order.order_id, "user_id": order.user_id,
                        "ticker": ticker, "is_taker": is_taker, "book_side": order.book_side, "side": side, "action": action,
                        "price": f.price, "count": f.count, "fee": fee, "rebate": reb, "created_ms": ts,
                        "reverted_ms": None, "revert_reason": None}
                cmd.fill_rows.append(fill)
                if order.order_group_id:
                    cmd.group_fills[order.order_group_id] = cmd.group_fills.get(order.order_group_id, 0) + f.count
                if order.wallet_order:  # settled against custody on chain, in the order's own side terms
                    settle = X.SettleFill(ticker, order.wallet_order, side, action, f.count,
                                          f.price if side == "yes" else ONE - f.price, fee, trade_id, fill["fill_id"],
                                          order.order_id)
                    (wallet_buys if action == "buy" else wallet_sells).append(settle)
                if is_taker:
                    taker_fills.append(fill_view(fill))
        # Custody's set creation/retirement, netted per command (a transfer moves nothing on chain),
        # around the wallet fills in the order the program needs (exchange/outbox.py): the mint
        # first, then what wallets hand to custody, then what custody hands out, then the merge.
        if net_sets > 0:
            cmd.outbox.append(X.CustodyMintSet(ticker, net_sets, j.journal_id))
        cmd.outbox.extend(wallet_sells)
        cmd.outbox.extend(wallet_buys)
        if net_sets < 0:
            cmd.outbox.append(X.CustodyMergeSet(ticker, -net_sets, j.journal_id))
        for order_id, m in maker_rows.items():
            maker = self.books.open[order_id]
            cmd.order_updates.append({
                "b_order_id": order_id, "remaining_count": maker.remaining, "status": RESTING if maker.remaining else EXECUTED,
                "cancel_reason": None, "updated_ms": ts, "fill": m["fill"], "cost": m["cost"], "fees": m["fees"],
                "rebates": m["rebates"], "fee_units": str(maker.fee_units), "rebate_units": str(maker.rebate_units)})
        for u, p in positions.items():
            self.books.positions[(u, ticker)] = p
        return taker_fills

    def _record(self, conn: Connection, cmd: CommandWrites, ts: int) -> None:
        """Record: write everything the command gathered, in one go."""
        cmd.journal.flush(conn)
        Q.INSERT_ORDER.executemany(conn, cmd.order_rows)
        Q.INSERT_TRADE.executemany(conn, cmd.trade_rows)
        Q.INSERT_FILL.executemany(conn, cmd.fill_rows)
        Q.ORDER_FILLED.executemany(conn, [u for u in cmd.order_updates if "fill" in u])
        # Cancellations last: an order-group limit can cancel a maker this very command filled
        # in part, and the cancel must win over the fill's "still resting".
        Q.ORDER_CLOSED.executemany(conn, [u for u in cmd.order_updates if "fill" not in u])
        if cmd.stats:
            self._flush_stats(conn, cmd, ts)
        if cmd.outbox:
            self.outbox.write(conn, cmd.outbox, ts, group=cmd.journal.journal_id)

    def _flush_stats(self, conn: Connection, cmd: CommandWrites, ts: int) -> None:
        Q.ADD_STATS.executemany(conn, [{"user_id": u, "ticker": t, "exposure": v[0], "total_traded": v[1], "realized_pnl": v[2],
                                        "fees_paid": v[3], "updated_ms": ts} for (u, t), v in cmd.stats.items()])
