"""What each program event moves (pure): token balances per token account, wallet order state,
and invariant 5 for fills. The program's events carry every account they touched and the
amounts (programs/outcome_market/src/events.rs), so balances rebuild from events alone; plain
SPL transfers do not emit events, which is what the periodic account reads are for.
"""
from __future__ import annotations

from dataclasses import dataclass

ONE = 1_000_000
YES, NO, COLLATERAL = "yes", "no", "collateral"


@dataclass(frozen=True)
class MarketInfo:
    market: str
    ticker: str
    yes_mint: str
    no_mint: str
    vault: str
    custody_yes: str
    custody_no: str


@dataclass(frozen=True)
class Move:
    account: str
    owner: str  # best knowledge from the event; account reads replace it with the token account's owner
    asset: str  # yes | no | collateral
    ticker: str | None  # None for collateral
    delta: int


@dataclass(frozen=True)
class OrderInfo:
    order: str
    side: str  # BuyYes | BuyNo | SellYes | SellNo
    escrow: str
    limit_price: int
    size: int
    max_fee: int
    filled: int
    fees_paid: int


def outcome_asset(side_or_outcome: str) -> str:
    return YES if side_or_outcome.endswith("Yes") else NO


def token_moves(name: str, f: dict, market: MarketInfo | None, custody: str, custody_collateral: str,
                order: OrderInfo | None = None) -> list[Move]:
    """The token movements of one event; `market` is the event's market (None if it names none),
    `order` the wallet order a FillSettled/OrderClosed refers to."""
    t = market.ticker if market else None

    def m(account: str, owner: str, asset: str, delta: int) -> Move:
        return Move(account, owner, asset, None if asset == COLLATERAL else t, delta)

    if name == "SetMinted":
        a = f["amount"]
        return [m(f["collateral_source"], f["user"], COLLATERAL, -a), m(market.vault, market.market, COLLATERAL, a),
                m(f["yes_account"], f["user"], YES, a), m(f["no_account"], f["user"], NO, a)]
    if name == "SetMerged":
        a = f["amount"]
        return [m(f["yes_account"], f["user"], YES, -a), m(f["no_account"], f["user"], NO, -a),
                m(market.vault, market.market, COLLATERAL, -a), m(f["collateral_destination"], f["user"], COLLATERAL, a)]
    if name == "Redeemed":
        return [m(f["yes_account"], f["user"], YES, -f["yes_burned"]), m(f["no_account"], f["user"], NO, -f["no_burned"]),
                m(market.vault, market.market, COLLATERAL, -f["payout"]),
                m(f["collateral_destination"], f["user"], COLLATERAL, f["payout"])]
    if name == "CustodySetMinted":
        a = f["amount"]
        return [m(custody_collateral, custody, COLLATERAL, -a), m(market.vault, market.market, COLLATERAL, a),
                m(market.custody_yes, custody, YES, a), m(market.custody_no, custody, NO, a)]
    if name == "CustodySetMerged":
        a = f["amount"]
        return [m(market.custody_yes, custody, YES, -a), m(market.custody_no, custody, NO, -a),
                m(market.vault, market.market, COLLATERAL, -a), m(custody_collateral, custody, COLLATERAL, a)]
    if name == "CustodyRedeemed":
        return [m(market.custody_yes, custody, YES, -f["yes_burned"]), m(market.custody_no, custody, NO, -f["no_burned"]),
                m(market.vault, market.market, COLLATERAL, -f["payout"]), m(custody_collateral, custody, COLLATERAL, f["payout"])]
    if name == "CustodyWithdrawn":
        asset = outcome_asset(f["outcome"])
        source = market.custody_yes if asset == YES else market.custody_no
        return [m(source, custody, asset, -f["amount"]), m(f["destination"], f["destination_owner"], asset, f["amount"])]
    if name == "CustodyCollateralWithdrawn":
        return [m(custody_collateral, custody, COLLATERAL, -f["amount"]),
                m(f["destination"], f["destination_owner"], COLLATERAL, f["amount"])]
    if name == "CustodySwept":
        return [m(custody_collateral, custody, COLLATERAL, -f["amount"]), m(f["treasury"], "", COLLATERAL, f["amount"])]
    if name == "CustodyFunded":
        return [m(f["source"], "", COLLATERAL, -f["amount"]), m(custody_collateral, custody, COLLATERAL, f["amount"])]
    if name == "Deposited":
        asset = COLLATERAL if f["is_collateral"] else outcome_asset(f["outcome"])
        return [m(f["source"], f["depositor"], asset, -f["amount"]), m(f["destination"], custody, asset, f["amount"])]
    if name == "OrderPlaced":
        asset = COLLATERAL if f["side"].startswith("Buy") else outcome_asset(f["side"])
        return [m(f["source"], f["owner"], asset, -f["escrowed"]), m(f["escrow"], f["order"], asset, f["escrowed"])]
    if name == "FillSettled" and order is not None:
        size, cost, fee = f["size"], f["cost"], f["fee"]
        outcome = outcome_asset(f["side"])
        custody_outcome = market.custody_yes if outcome == YES else market.custody_no
        if f["side"].startswith("Buy"):  # escrow pays cost + fee to custody; custody pays the tokens
            return [m(order.escrow, order.order, COLLATERAL, -(cost + fee)), m(custody_collateral, custody, COLLATERAL, cost + fee),
                    m(custody_outcome, custody, outcome, -size), m(f["wallet_account"], f["owner"], outcome, size)]
        return [m(order.escrow, order.order, outcome, -size), m(custody_outcome, custody, outcome, size),
                m(custody_collateral, custody, COLLATERAL, -(cost - fee)), m(f["wallet_account"], f["owner"], COLLATERAL, cost - fee)]
    if name == "OrderClosed" and order is not None:
        asset = COLLATERAL if order.side.startswith("Buy") else outcome_asset(order.side)
        return [m(order.escrow, order.order, asset, -f["refunded"]), m(f["refund_account"], f["owner"], asset, f["refunded"])]
    return []


def fill_violations(f: dict, order: OrderInfo | None) -> list[str]:
    """Invariant 5 for one FillSettled: price no worse than the limit, total size within the
    order, fees within the budget, and the cost what size x price says."""
    if order is None:
        return [f"fill of {f['order']} whose OrderPlaced was never seen"]
    out = []
    buy = order.side.startswith("Buy")
    if buy and f["price"] > order.limit_price:
        out.append(f"bought at {f['price']} above its limit {order.limit_price}")
    if not buy and f["price"] < order.limit_price:
        out.append(f"sold at {f['price']} below its limit {order.limit_price}")
    filled = order.filled + f["size"]
    if filled > order.size:
        out.append(f"filled {filled} of a {order.size} order")
    fees = order.fees_paid + f["fee"]
    if fees > order.max_fee:
        out.append(f"fees {fees} above its budget {order.max_fee}")
    if f["cost"] != f["size"] * f["price"] // ONE:
        out.append(f"cost {f['cost']} is not size {f['size']} x price {f['price']}")
    return out
