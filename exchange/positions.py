"""Kalshi position arithmetic, pure and in base units: what a budget buys along a book, what
contracts are worth, and how one fill moves a position's exposure, volume and realized P&L.
No I/O; the service applies it to what it reads and writes."""
from __future__ import annotations

from exchange.units import ONE


def affordable(fills: list[tuple[int, int]], book_side: str, budget: int, lot: int) -> int:
    """Contracts (whole lots) that `budget` buys along `fills` [(YES price, contracts)], best first;
    a bid pays the YES price, an ask (buying NO) pays 1 − the YES price."""
    bought = 0
    for yes_price, contracts in fills:
        unit = yes_price if book_side == "bid" else ONE - yes_price
        take = min(contracts, budget * ONE // unit)
        take -= take % lot
        bought += take
        budget -= cash_value_floor(unit, take)
        if take < contracts:
            break
    return bought


def cash_value_floor(price: int, count: int) -> int:
    """What `count` contracts are worth at `price`, in base units, rounded down."""
    return price * count // ONE


def redemption_value(yes: int, no: int, yes_payout: int) -> int:
    """What the program pays for redeeming `yes` YES and `no` NO at `yes_payout` (its
    math::redemption): the sum's value rounded down once."""
    return (yes * yes_payout + no * (ONE - yes_payout)) // ONE


def account_fill(s: list[int], pos: int, book_side: str, price: int, count: int) -> None:
    """Kalshi position bookkeeping of one fill: s = [exposure, traded, realized pnl, fees]."""
    if book_side == "bid":
        closing = min(count, max(0, -pos))
        proceeds = cash_value_floor(ONE - price, closing)
        opening_cost = cash_value_floor(price, count - closing)
    else:
        closing = min(count, max(0, pos))
        proceeds = cash_value_floor(price, closing)
        opening_cost = cash_value_floor(ONE - price, count - closing)
    if closing:
        basis = s[0] * closing // abs(pos)
        s[0] -= basis
        s[2] += proceeds - basis
    s[0] += opening_cost
    s[1] += proceeds + opening_cost
