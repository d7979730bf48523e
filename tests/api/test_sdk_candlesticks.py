"""Market candlesticks (single, batch, event) through the official SDK.

The oracle is independent of exchange/candlesticks.py: the public trades the SDK lists, bucketed
here in Python (a period ending at E holds the trades of (E - period, E]), and the market's own
open interest. Trades happen in real time, so the test never assumes which minute they fall in.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal

import pytest
from kalshi_python_async import ApiException
from kalshi_python_async.models import (
    BatchGetMarketCandlesticksResponse,
    GetEventCandlesticksResponse,
    GetMarketCandlesticksResponse,
)

from tests.api.conftest import unique

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
IOC = {"time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross"}


def _ms(t: datetime) -> int:
    return int(Decimal(str(t.timestamp())) * 1000)


def expected(trades, period_s: int, previous: Decimal | None = None) -> list[dict]:
    """Reference candles from the SDK's trade list (oldest first)."""
    buckets: dict[int, list] = {}
    for t in sorted(reversed(trades), key=lambda t: _ms(t.created_time)):  # the SDK lists newest first
        ms = _ms(t.created_time)
        end = -(-ms // (period_s * 1000)) * period_s
        buckets.setdefault(end, []).append(t)
    out, bid, ask = [], Decimal(0), Decimal(1)
    for end in sorted(buckets):
        ts = buckets[end]
        prices = [Decimal(t.yes_price_dollars) for t in ts]
        hit = [Decimal(t.yes_price_dollars) for t in ts if t.taker_book_side.value == "ask"]  # hit the bid
        lift = [Decimal(t.yes_price_dollars) for t in ts if t.taker_book_side.value == "bid"]  # lifted the ask
        bid_ohlc = (hit[0], min(hit), max(hit), hit[-1]) if hit else (bid,) * 4
        ask_ohlc = (lift[0], min(lift), max(lift), lift[-1]) if lift else (ask,) * 4
        bid, ask = bid_ohlc[3], ask_ohlc[3]
        volume = sum(Decimal(t.count_fp) for t in ts)
        mean = sum(Decimal(t.yes_price_dollars) * Decimal(t.count_fp) for t in ts) / volume
        out.append({"end": end, "price": (prices[0], min(prices), max(prices), prices[-1]), "bid": bid_ohlc,
                    "ask": ask_ohlc, "volume": volume, "mean": mean.quantize(Decimal("0.000001"), rounding="ROUND_FLOOR"),
                    "previous": previous})
        previous = prices[-1]
    return out


def ohlc(d) -> tuple:
    return tuple(Decimal(x) if x is not None else None for x in (d.open_dollars, d.low_dollars, d.high_dollars,
                                                                    d.close_dollars))


def assert_candles(got, want) -> None:
    assert [c.end_period_ts for c in got] == [w["end"] for w in want]
    for c, w in zip(got, want):
        assert ohlc(c.price) == w["price"]
        assert ohlc(c.yes_bid) == w["bid"] and ohlc(c.yes_ask) == w["ask"]
        assert Decimal(c.volume_fp) == w["volume"]
        assert Decimal(c.price.mean_dollars) == w["mean"]
        assert (Decimal(c.price.previous_dollars) if c.price.previous_dollars else None) == w["previous"]


async def trade_some(maker, taker, ticker) -> None:
    """Bids and asks rest; the taker hits bids and lifts asks at several prices."""
    c = maker.client
    for price in ("0.4000", "0.4200"):
        await c.create_order_v2(ticker=ticker, side="bid", count="10.00", price=price, **GTC)
    for price in ("0.4500", "0.4700"):
        await c.create_order_v2(ticker=ticker, side="ask", count="10.00", price=price, **GTC)
    t = taker.client
    await t.create_order_v2(ticker=ticker, side="bid", count="3.00", price="0.4500", **IOC)  # lifts 0.45 (mints)
    await t.create_order_v2(ticker=ticker, side="ask", count="2.50", price="0.4200", **IOC)  # hits 0.42 (merges)
    await t.create_order_v2(ticker=ticker, side="ask", count="12.00", price="0.4000", **IOC)  # 0.42 x 7.5, 0.40 x 4.5
    await t.create_order_v2(ticker=ticker, side="bid", count="9.00", price="0.4700", **IOC)  # 0.45 x 7, 0.47 x 2


async def series_of(client, ticker) -> str:
    event = (await client.get_market(ticker=ticker)).market.event_ticker
    return (await client.get_event(event_ticker=event)).event.series_ticker


async def test_market_candlesticks_match_the_trades(make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    start = int(time.time()) - 1
    await trade_some(maker, taker, ticker)
    end = int(time.time()) + 120
    trades = (await taker.client.get_trades(ticker=ticker, limit=1000)).trades
    assert len(trades) == 6
    series = await series_of(taker.client, ticker)

    for period in (1, 60, 1440):
        got = await taker.client.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=start,
                                                         end_ts=end + period * 60, period_interval=period)
        assert isinstance(got, GetMarketCandlesticksResponse) and got.ticker == ticker
        assert_candles(got.candlesticks, expected(trades, period * 60))
    # The last candle's open interest is the market's; every one is within what was minted.
    market = (await taker.client.get_market(ticker=ticker)).market
    day = (await taker.client.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=start,
                                                      end_ts=end + 86400, period_interval=1440)).candlesticks
    assert len(day) == 1 and day[0].open_interest_fp == market.open_interest_fp
    assert Decimal(market.open_interest_fp) > 0
    assert Decimal(day[0].volume_fp) == Decimal(market.volume_fp) == Decimal("26.50")

    # A window after the trades: nothing, unless the synthetic candle is asked for; it carries
    # the last price as `previous` and nulls the OHLC.
    later = end + 3600
    empty = await taker.client.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=later,
                                                       end_ts=later + 600, period_interval=1)
    assert empty.candlesticks == []
    synth = (await taker.client.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=later,
                                                        end_ts=later + 600, period_interval=1,
                                                        include_latest_before_start=True)).candlesticks
    assert len(synth) == 1 and synth[0].end_period_ts == -(-later // 60) * 60
    assert synth[0].price.open_dollars is None and synth[0].price.close_dollars is None
    assert synth[0].price.previous_dollars == trades[0].yes_price_dollars  # newest first: the last trade
    assert synth[0].open_interest_fp == market.open_interest_fp and synth[0].volume_fp == "0.00"
    assert synth[0].yes_bid.close_dollars == "0.4000" and synth[0].yes_ask.close_dollars == "0.4700"


async def test_batch_and_event_candlesticks(operator, make_trader):
    series, event = unique("CSER"), unique("CEVT")
    r = await operator.post("/operator/series", json={"ticker": series, "title": "Candles"})
    assert r.status_code == 201, r.text
    r = await operator.post("/operator/events", json={"event_ticker": event, "series_ticker": series, "title": "C"})
    assert r.status_code == 201, r.text
    tickers = [f"{event}-{i}" for i in range(3)]
    for t in tickers:
        r = await operator.post("/operator/markets", json={"ticker": t, "event_ticker": event, "title": t,
                                                          "close_time": "2099-01-01T00:00:00Z"})
        assert r.status_code == 201, r.text
    maker, taker = await make_trader(), await make_trader()
    start = int(time.time()) - 1
    for t in tickers[:2]:  # the third market never trades
        await trade_some(maker, taker, t)
    end = int(time.time()) + 60
    trades = {t: (await taker.client.get_trades(ticker=t, limit=1000)).trades for t in tickers}

    batch = await taker.client.batch_get_market_candlesticks(market_tickers=",".join(tickers), start_ts=start,
                                                             end_ts=end, period_interval=1)
    assert isinstance(batch, BatchGetMarketCandlesticksResponse)
    assert [m.market_ticker for m in batch.markets] == tickers
    for m in batch.markets:
        assert_candles(m.candlesticks, expected(trades[m.market_ticker], 60))
    assert batch.markets[2].candlesticks == []

    # Hourly: the period holding the trades ends within the next hour (a candle ends on or before end_ts).
    ev = await taker.client.get_market_candlesticks_by_event(ticker=event, series_ticker=series, start_ts=start,
                                                             end_ts=end + 3600, period_interval=60)
    assert isinstance(ev, GetEventCandlesticksResponse)
    assert ev.market_tickers == sorted(tickers) and ev.adjusted_end_ts == end + 3600
    for t, candles in zip(ev.market_tickers, ev.market_candlesticks):
        assert_candles(candles, expected(trades[t], 3600))
    # 3 markets x 5000 minutes is over the cap: the range ends earlier, and says where.
    capped = await taker.client.get_market_candlesticks_by_event(ticker=event, series_ticker=series, start_ts=start,
                                                                 end_ts=start + 5000 * 60, period_interval=1)
    assert capped.adjusted_end_ts == -(-start // 60) * 60 + (5000 // 3 - 1) * 60


def _error(err) -> tuple[int, str]:
    return err.value.status, json.loads(err.value.body)["error"]["code"]


async def test_candlestick_bad_input_in_kalshi_shape(make_trader, make_market):
    ticker = await make_market()
    t = await make_trader(cents=0)
    series = await series_of(t.client, ticker)
    c = t.client
    cases = [
        (c.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=0, end_ts=60, period_interval=5),
         (400, "invalid_parameters")),
        (c.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=100, end_ts=50, period_interval=1),
         (400, "invalid_parameters")),
        (c.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=0, end_ts=60 * 5001,
                                   period_interval=1), (400, "invalid_parameters")),
        (c.get_market_candlesticks(series_ticker=series, ticker="NOPE-NOT-HERE", start_ts=0, end_ts=60,
                                   period_interval=1), (404, "market_not_found")),
        (c.get_market_candlesticks(series_ticker="NOT-ITS-SERIES", ticker=ticker, start_ts=0, end_ts=60,
                                   period_interval=1), (404, "market_not_found")),
        (c.batch_get_market_candlesticks(market_tickers=",".join(f"M{i}" for i in range(101)), start_ts=0, end_ts=60,
                                         period_interval=1), (400, "invalid_parameters")),
        (c.batch_get_market_candlesticks(market_tickers=f"{ticker},NOPE-NOT-HERE", start_ts=0, end_ts=60,
                                         period_interval=1), (404, "market_not_found")),
        (c.batch_get_market_candlesticks(market_tickers=ticker, start_ts=-1, end_ts=60, period_interval=1),
         (400, "invalid_parameters")),
        (c.get_market_candlesticks_by_event(ticker="NOPE-EVENT", series_ticker=series, start_ts=0, end_ts=60,
                                            period_interval=1), (404, "event_not_found")),
    ]
    for call, want in cases:
        with pytest.raises(ApiException) as err:
            await call
        assert _error(err) == want
