"""Market data through the official SDK, unchanged: every response validates in its models."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from kalshi_python_async import ApiException, Configuration, KalshiClient
from kalshi_python_async.models import ExchangeStatus, GetMarketOrderbookResponse, GetMarketsResponse

from tests.api.conftest import unique


async def test_exchange_status_and_schedule(make_trader):
    t = await make_trader(cents=0)
    status = await t.client.get_exchange_status()
    assert isinstance(status, ExchangeStatus) and status.exchange_active and status.trading_active
    schedule = await t.client.get_exchange_schedule()
    assert schedule.schedule.standard_hours[0].monday[0].open_time == "00:00"
    assert schedule.schedule.maintenance_windows == []
    stamp = await t.client.get_user_data_timestamp()
    assert stamp.as_of_time.year >= 2024


async def test_market_data_needs_no_signature(server, make_market):
    ticker = await make_market()
    async with KalshiClient(Configuration(host=server.host)) as anonymous:
        market = (await anonymous.get_market(ticker)).market
    assert market.ticker == ticker and market.status == "active"


async def test_series_events_markets_and_filters(operator, make_trader):
    t = await make_trader(cents=0)
    series = unique("SER")
    r = await operator.post("/operator/series", json={"ticker": series, "title": "Weather", "category": "Climate",
                                                     "tags": ["rain"]})
    assert r.status_code == 201, r.text
    event = unique("EVT")
    r = await operator.post("/operator/events", json={"event_ticker": event, "series_ticker": series, "title": "NYC rain",
                                                     "mutually_exclusive": True})
    assert r.status_code == 201, r.text
    tickers = sorted(f"{event}-{i}" for i in range(5))
    for ticker in tickers:
        r = await operator.post("/operator/markets", json={"ticker": ticker, "event_ticker": event, "title": ticker,
                                                          "close_time": "2099-01-01T00:00:00Z", "tick_size_dollars": "0.001"})
        assert r.status_code == 201, r.text

    got = (await t.client.get_series(series_ticker=series)).series
    assert (got.ticker, got.title, got.category, got.tags) == (series, "Weather", "Climate", ["rain"])
    listed = (await t.client.get_series_list(category="Climate")).series
    assert series in [s.ticker for s in listed]
    assert series not in [s.ticker for s in (await t.client.get_series_list(category="Sports")).series]

    ev = await t.client.get_event(event_ticker=event)
    assert ev.event.series_ticker == series and ev.event.mutually_exclusive
    assert sorted(m.ticker for m in ev.markets) == tickers
    nested = await t.client.get_event(event_ticker=event, with_nested_markets=True)
    assert sorted(m.ticker for m in nested.event.markets) == tickers
    events = await t.client.get_events(series_ticker=series, with_nested_markets=True)
    assert [e.event_ticker for e in events.events] == [event] and len(events.events[0].markets) == 5

    # Cursor pagination walks every market of the event exactly once, in pages of 2.
    seen, cursor = [], None
    while True:
        page = await t.client.get_markets(event_ticker=event, limit=2, cursor=cursor)
        assert isinstance(page, GetMarketsResponse) and len(page.markets) <= 2
        seen += [m.ticker for m in page.markets]
        cursor = page.cursor
        if not cursor:
            break
    assert seen == tickers
    by_series = await t.client.get_markets(series_ticker=series, status="open")
    assert sorted(m.ticker for m in by_series.markets) == tickers
    assert (await t.client.get_markets(series_ticker=series, status="closed")).markets == []
    two = await t.client.get_markets(tickers=",".join(tickers[:2]))
    assert sorted(m.ticker for m in two.markets) == tickers[:2]
    market = (await t.client.get_market(ticker=tickers[0])).market
    assert market.price_ranges[0].step == "0.0010" and market.price_level_structure == "deci_cent"


async def test_time_filters_and_event_filters_are_in_the_query(operator, make_trader):
    """created/updated/settled filters on markets; tickers, min_close_ts and min_updated_ts on
    events — all applied in the query, so a page is full and the cursor walks the rest."""
    t = await make_trader(cents=0)
    series = unique("TSER")
    assert (await operator.post("/operator/series", json={"ticker": series, "title": "t"})).status_code == 201
    events = sorted(unique("TEVT") for _ in range(3))
    for i, event in enumerate(events):
        r = await operator.post("/operator/events", json={"event_ticker": event, "series_ticker": series, "title": event})
        assert r.status_code == 201, r.text
        r = await operator.post("/operator/markets", json={"ticker": f"{event}-M", "event_ticker": event,
                                                          "close_time": f"20{90 + i}-01-01T00:00:00Z"})
        assert r.status_code == 201, r.text
    first, second, third = (f"{e}-M" for e in events)
    created = {m.ticker: m.created_time for m in (await t.client.get_markets(series_ticker=series)).markets}
    await asyncio.sleep(1.1)  # Kalshi's filters are in whole seconds
    mark = int(time.time())
    # `second` changes after `mark`: halted, then resumed; `third` is determined and finalized (settled).
    for path in (f"/operator/markets/{second}/halt", f"/operator/markets/{second}/resume",
                 f"/operator/markets/{third}/determine"):
        body = {"result": "yes"} if path.endswith("determine") else None
        assert (await operator.post(path, json=body)).status_code == 200
    assert (await operator.post(f"/operator/markets/{third}/finalize")).status_code == 200

    async def tickers(**filters) -> list[str]:
        return sorted(m.ticker for m in (await t.client.get_markets(series_ticker=series, **filters)).markets)

    assert await tickers(min_updated_ts=mark) == [second, third]
    assert await tickers(max_updated_ts=mark - 1) == [first]
    assert await tickers(min_created_ts=mark) == []
    assert await tickers(max_created_ts=int(max(created.values()).timestamp())) == [first, second, third]
    assert await tickers(min_settled_ts=mark) == [third]
    assert await tickers(max_settled_ts=mark - 1) == []
    second_market = (await t.client.get_market(ticker=second)).market
    assert second_market.updated_time > second_market.created_time

    # Events: the filters run before the page is cut, so a page of one is never empty while more match.
    assert [e.event_ticker for e in (await t.client.get_events(series_ticker=series, limit=1,
                                                               tickers=events[2])).events] == [events[2]]
    late = await t.client.get_events(series_ticker=series, min_close_ts=int(datetime(2091, 6, 1, tzinfo=timezone.utc).timestamp()), limit=1)
    assert [e.event_ticker for e in late.events] == [events[2]] and not late.cursor
    updated = await t.client.get_events(series_ticker=series, min_updated_ts=mark, limit=1)
    assert [e.event_ticker for e in updated.events] == [events[1]] and updated.cursor
    rest = await t.client.get_events(series_ticker=series, min_updated_ts=mark, limit=1, cursor=updated.cursor)
    assert [e.event_ticker for e in rest.events] == [events[2]]


async def test_orderbook_and_trades(make_trader, make_market):
    ticker = await make_market()
    maker, taker = await make_trader(), await make_trader()
    await maker.client.create_order_v2(ticker=ticker, side="bid", count="10.00", price="0.4000",
                                       time_in_force="good_till_canceled", self_trade_prevention_type="taker_at_cross")
    await maker.client.create_order_v2(ticker=ticker, side="bid", count="5.00", price="0.4200",
                                       time_in_force="good_till_canceled", self_trade_prevention_type="taker_at_cross")
    await maker.client.create_order_v2(ticker=ticker, side="ask", count="7.50", price="0.4500",
                                       time_in_force="good_till_canceled", self_trade_prevention_type="taker_at_cross")
    book = await taker.client.get_market_orderbook(ticker=ticker)
    assert isinstance(book, GetMarketOrderbookResponse)
    assert book.orderbook_fp.yes_dollars == [["0.4000", "10.00"], ["0.4200", "5.00"]]
    assert book.orderbook_fp.no_dollars == [["0.5500", "7.50"]]  # an ask at 0.45 is a NO bid at 0.55
    top = await taker.client.get_market_orderbook(ticker=ticker, depth=1)
    assert top.orderbook_fp.yes_dollars == [["0.4200", "5.00"]]

    # A taker sells 3 YES into the 0.42 bid: one trade at the maker's price.
    await taker.client.create_order_v2(ticker=ticker, side="ask", count="3.00", price="0.4100",
                                       time_in_force="immediate_or_cancel", self_trade_prevention_type="taker_at_cross")
    trades = (await taker.client.get_trades(ticker=ticker)).trades
    assert len(trades) == 1
    assert (trades[0].yes_price_dollars, trades[0].no_price_dollars, trades[0].count_fp) == ("0.4200", "0.5800", "3.00")
    assert trades[0].taker_book_side.value == "ask" and trades[0].taker_outcome_side == "no"
    market = (await taker.client.get_market(ticker=ticker)).market
    assert (market.yes_bid_dollars, market.yes_bid_size_fp, market.yes_ask_dollars) == ("0.4200", "2.00", "0.4500")
    assert Decimal(market.last_price_dollars) == Decimal("0.42") and market.volume_fp == "3.00"
    many = await taker.client.get_market_orderbooks(tickers=[ticker])
    assert many.orderbooks[0].ticker == ticker


async def test_unknown_market_is_404_in_kalshi_shape(make_trader):
    t = await make_trader(cents=0)
    with pytest.raises(ApiException) as err:
        await t.client.get_market(ticker="NOPE-NOT-HERE")
    assert err.value.status == 404
    import json

    body = json.loads(err.value.body)
    assert body["error"]["code"] == "market_not_found" and "NOPE-NOT-HERE" in body["error"]["message"]


async def test_openapi_docs_are_served(server):
    import httpx

    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/docs")).status_code == 200
        paths = (await http.get("/openapi.json")).json()["paths"]
    for path in ("/trade-api/v2/markets", "/trade-api/v2/portfolio/events/orders", "/trade-api/v2/portfolio/orders",
                 "/trade-api/v2/portfolio/order_groups/create", "/operator/markets"):
        assert path in paths
