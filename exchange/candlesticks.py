"""Kalshi's market candlesticks (OHLC per 1 / 60 / 1440-minute period), built from the trades.

Everything is bucketed SQL: one grouped query per request over the trades in the window
(grouped by market, period and taker side, the open and close trade joined in by id), one for
the open interest, and two indexed look-ups per market for the value before the window. Python
only walks the buckets, never the trades.

A period ending at `end_period_ts` = E (Unix seconds, a multiple of the period) holds the trades
of (E - period, E]; periods without trades are not emitted (as on Kalshi, where a candle needs
activity), except the synthetic one `include_latest_before_start` asks for.

What is exact and what is approximated (the exchange keeps no history of its book):
- `price` (open/high/low/close/mean/previous), `volume_fp`: exact, from the trades; `mean` is
  the volume-weighted mean price.
- `open_interest_fp`: exact, the YES sets outstanding at the period's end, from the ledger's
  mint and merge entries on the market's issuance account (what the market's open_interest is).
- `yes_bid` / `yes_ask`: the prices at which the book's best bid / ask was SEEN trading: a trade
  whose taker sold YES hit the best bid at its price, one whose taker bought YES lifted the best
  ask. A period without such a trade carries the last seen value forward (close = open = high =
  low); before any was seen, "0.0000" (no bid) and "1.0000" (no ask). Quotes that came and went
  without trading are not in them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, text

from exchange.errors import InvalidRequest
from exchange.models import ledger as L
from exchange.units import LOT, ONE, count_fp, dollars

PERIODS_MINUTES = (1, 60, 1440)
MAX_CANDLES_PER_MARKET = 5000  # Kalshi's bound on one market's candles per request
MAX_CANDLES_TOTAL = 10_000  # batch: across every market
MAX_TICKERS = 100

# Taker book side -> which quote the trade reveals: a taker bid lifted the ask, a taker ask hit the bid.
_REVEALS = {"bid": "ask", "ask": "bid"}

_BUCKETS = text("""
SELECT g.ticker, g.bucket, g.side, g.low, g.high, g.vol, g.wsum, g.first_id, g.last_id,
       o.price AS open_price, c.price AS close_price
FROM (SELECT ticker, (created_ms + :pms - 1) / :pms AS bucket, taker_book_side AS side,
             MIN(price) AS low, MAX(price) AS high, SUM(count) AS vol, SUM(price * (count / :lot)) AS wsum,
             MIN(id) AS first_id, MAX(id) AS last_id
      FROM trades
      WHERE ticker IN :tickers AND created_ms > :lo AND created_ms <= :hi
      GROUP BY ticker, (created_ms + :pms - 1) / :pms, taker_book_side) g
JOIN trades o ON o.id = g.first_id
JOIN trades c ON c.id = g.last_id
""").bindparams(bindparam("tickers", expanding=True))

_LAST_BEFORE = text("""
SELECT id, price FROM trades
WHERE ticker = :ticker AND taker_book_side = :side AND created_ms <= :lo
ORDER BY id DESC LIMIT 1
""")

_ISSUANCE = text("""
SELECT a.ref AS ticker, a.id AS account_id FROM ledger_accounts a
WHERE a.kind = :kind AND a.ref IN :tickers
""").bindparams(bindparam("tickers", expanding=True))

_OI_BEFORE = text("""
SELECT COALESCE(SUM(amount), 0) FROM ledger_entries
WHERE account_id = :account AND asset = :asset AND created_ms <= :lo
""")

_OI_BUCKETS = text("""
SELECT (created_ms + :pms - 1) / :pms AS bucket, SUM(amount) AS delta FROM ledger_entries
WHERE account_id = :account AND asset = :asset AND created_ms > :lo AND created_ms <= :hi
GROUP BY (created_ms + :pms - 1) / :pms
""")


@dataclass
class Window:
    """The periods asked for: candles ending in [first_end, last_end] (Unix seconds)."""

    period_s: int
    first_end: int
    last_end: int

    @property
    def periods(self) -> int:
        return 0 if self.last_end < self.first_end else (self.last_end - self.first_end) // self.period_s + 1

    @property
    def lo_ms(self) -> int:  # trades after this instant ...
        return (self.first_end - self.period_s) * 1000

    @property
    def hi_ms(self) -> int:  # ... through this one
        return self.last_end * 1000


def window(start_ts: int, end_ts: int, period_interval: int) -> Window:
    """Validate Kalshi's parameters: candles ending on or after start_ts, on or before end_ts."""
    if period_interval not in PERIODS_MINUTES:
        raise InvalidRequest("period_interval must be 1, 60 or 1440 (minutes)", code="invalid_parameters")
    if start_ts < 0 or end_ts < 0:
        raise InvalidRequest("start_ts and end_ts must be Unix seconds", code="invalid_parameters")
    if end_ts < start_ts:
        raise InvalidRequest("end_ts must not be before start_ts", code="invalid_parameters")
    period_s = period_interval * 60
    first_end = -(-start_ts // period_s) * period_s
    return Window(period_s, first_end, end_ts // period_s * period_s)


@dataclass
class _Side:
    """One quote's (or the price's) distribution within a period."""

    open: int
    low: int
    high: int
    close: int
    first_id: int
    last_id: int


@dataclass
class _Bucket:
    end_ts: int
    sides: dict[str, _Side] = field(default_factory=dict)  # taker book side -> its trades
    volume: int = 0
    wsum: int = 0


def _dist(open_: int, low: int, high: int, close: int) -> dict:
    return {"open_dollars": dollars(open_), "low_dollars": dollars(low), "high_dollars": dollars(high),
            "close_dollars": dollars(close)}


def market_candles(conn: Connection, tickers: list[str], w: Window, *,
                   include_latest_before_start: bool = False) -> dict[str, list[dict]]:
    """ticker -> its candlesticks in Kalshi's wire shape (MarketCandlestick), oldest first."""
    if not tickers or w.periods == 0:
        return {t: [] for t in tickers}
    pms = w.period_s * 1000
    buckets: dict[str, dict[int, _Bucket]] = {t: {} for t in tickers}
    rows = conn.execute(_BUCKETS, {"pms": pms, "lot": LOT, "tickers": tickers, "lo": w.lo_ms, "hi": w.hi_ms})
    for r in rows.mappings():
        end_ts = int(r["bucket"]) * w.period_s
        b = buckets[r["ticker"]].setdefault(end_ts, _Bucket(end_ts))
        b.sides[r["side"]] = _Side(r["open_price"], r["low"], r["high"], r["close_price"], r["first_id"], r["last_id"])
        b.volume += int(r["vol"])
        b.wsum += int(r["wsum"])

    accounts = {r["ticker"]: r["account_id"] for r in
                conn.execute(_ISSUANCE, {"kind": L.ISSUANCE, "tickers": tickers}).mappings()}
    out: dict[str, list[dict]] = {}
    for ticker in tickers:
        # Before the window: the last trade on each side (bid/ask carried in, `previous`).
        seen: dict[str, tuple[int, int]] = {}  # quote -> (trade id, price)
        for taker_side, quote in _REVEALS.items():
            row = conn.execute(_LAST_BEFORE, {"ticker": ticker, "side": taker_side, "lo": w.lo_ms}).first()
            if row is not None:
                seen[quote] = (row[0], row[1])
        previous = max(seen.values())[1] if seen else None
        oi, oi_deltas = 0, {}
        account = accounts.get(ticker)
        if account is not None:
            asset = L.yes_asset(ticker)
            # The issuance account is the contra of the YES outstanding: minus its balance.
            oi = -int(conn.execute(_OI_BEFORE, {"account": account, "asset": asset, "lo": w.lo_ms}).scalar_one())
            oi_deltas = {int(r[0]) * w.period_s: -int(r[1]) for r in
                         conn.execute(_OI_BUCKETS, {"pms": pms, "account": account, "asset": asset,
                                                    "lo": w.lo_ms, "hi": w.hi_ms})}
        quotes = {q: price for q, (_, price) in seen.items()}
        candles: list[dict] = []
        if include_latest_before_start and previous is not None:
            candles.append({"end_period_ts": w.first_end, **_quotes_carried(quotes),
                            "price": {"previous_dollars": dollars(previous)},
                            "volume_fp": count_fp(0), "open_interest_fp": count_fp(oi)})
        for end_ts in sorted(set(buckets[ticker]) | set(oi_deltas)):
            oi += oi_deltas.get(end_ts, 0)
            b = buckets[ticker].get(end_ts)
            if b is None:  # open interest moved (a deposit merged sets) without a trade: no candle
                continue
            candle = {"end_period_ts": end_ts}
            for quote in ("bid", "ask"):
                s = b.sides.get(next(t for t, q in _REVEALS.items() if q == quote))
                if s is not None:
                    candle[f"yes_{quote}"] = _dist(s.open, s.low, s.high, s.close)
                    quotes[quote] = s.close
                else:
                    candle[f"yes_{quote}"] = _quotes_carried(quotes)[f"yes_{quote}"]
            first = min(b.sides.values(), key=lambda s: s.first_id)
            last = max(b.sides.values(), key=lambda s: s.last_id)
            price = {**_dist(first.open, min(s.low for s in b.sides.values()), max(s.high for s in b.sides.values()),
                             last.close),
                     "mean_dollars": dollars(b.wsum // (b.volume // LOT) if b.volume >= LOT else last.close)}
            if previous is not None:
                price["previous_dollars"] = dollars(previous)
            candle["price"] = price
            candle["volume_fp"] = count_fp(b.volume)
            candle["open_interest_fp"] = count_fp(oi)
            candles.append(candle)
            previous = last.close
        out[ticker] = candles
    return out


def _quotes_carried(quotes: dict[str, int]) -> dict:
    """A period's bid/ask when no trade revealed them: the last seen, flat; else none (0 / 1)."""
    bid, ask = quotes.get("bid", 0), quotes.get("ask", ONE)
    return {"yes_bid": _dist(bid, bid, bid, bid), "yes_ask": _dist(ask, ask, ask, ask)}


def event_window(w: Window, markets: int) -> Window:
    """Kalshi's event candlesticks cap markets x periods; a longer range ends earlier (adjusted_end_ts)."""
    if markets == 0 or w.periods * markets <= MAX_CANDLES_PER_MARKET:
        return w
    periods = max(1, MAX_CANDLES_PER_MARKET // markets)
    return Window(w.period_s, w.first_end, w.first_end + (periods - 1) * w.period_s)


def check_range(w: Window, markets: int = 1) -> None:
    if w.periods > MAX_CANDLES_PER_MARKET:
        raise InvalidRequest(f"the range holds {w.periods} periods; at most {MAX_CANDLES_PER_MARKET} per market",
                             code="invalid_parameters")
    if w.periods * markets > MAX_CANDLES_TOTAL:
        raise InvalidRequest(f"{markets} markets x {w.periods} periods is over {MAX_CANDLES_TOTAL} candlesticks",
                             code="invalid_parameters")
