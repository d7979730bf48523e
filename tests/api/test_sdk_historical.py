"""Kalshi's historical archive through the official SDK: the live rows before the cut-off.
The operator moves the cut-off past "now" so this test's rows become historical, and back."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from kalshi_python_async import ApiException
from kalshi_python_async.models import GetHistoricalCutoffResponse, GetMarketCandlesticksHistoricalResponse

GTC = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}
IOC = {"time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross"}


def _code(err) -> tuple[int, str]:
    return err.value.status, json.loads(err.value.body)["error"]["code"]


async def test_historical_is_the_live_data_before_the_cutoff(operator, make_trader, make_market):
    ticker, still_open = await make_market(), await make_market()
    maker, taker = await make_trader(), await make_trader()
    start = int(time.time()) - 1
    await maker.client.create_order_v2(ticker=ticker, side="ask", count="5.00", price="0.3000", **GTC)
    gone = await maker.client.create_order_v2(ticker=ticker, side="bid", count="1.00", price="0.1000", **GTC)
    await maker.client.cancel_order_v2(order_id=gone.order_id)
    await taker.client.create_order_v2(ticker=ticker, side="bid", count="3.00", price="0.3000", **IOC)
    resting = await maker.client.create_order_v2(ticker=still_open, side="bid", count="1.00", price="0.2000", **GTC)
    for step, body in (("close", {}), ("determine", {"result": "yes"}), ("finalize", {})):
        r = await operator.post(f"/operator/markets/{ticker}/{step}", json=body)
        assert r.status_code == 200, r.text
    live_trades = (await taker.client.get_trades(ticker=ticker)).trades
    assert len(live_trades) == 1

    # The rolling default: 90 days back, so nothing made now is historical. (The server is shared:
    # another test, schemathesis's among them, may have fixed a cut-off; return to the default.)
    r = await operator.put("/operator/historical/cutoff", json={"cutoff_ts": None})
    assert r.status_code == 200, r.text
    cutoff = await taker.client.get_historical_cutoff()
    assert isinstance(cutoff, GetHistoricalCutoffResponse)
    assert abs(cutoff.trades_created_ts.timestamp() - (time.time() - 90 * 86400)) < 60
    assert (await taker.client.get_trades_historical(ticker=ticker)).trades == []
    with pytest.raises(ApiException) as err:
        await taker.client.get_historical_market(ticker=ticker)
    assert _code(err) == (404, "market_not_found")

    later = int(time.time()) + 60
    r = await operator.put("/operator/historical/cutoff", json={"cutoff_ts": later})
    assert r.status_code == 200 and r.json() == {"cutoff_ts": later}, r.text
    try:
        cutoff = await taker.client.get_historical_cutoff()
        assert cutoff.market_settled_ts == cutoff.orders_updated_ts == datetime.fromtimestamp(later, timezone.utc)
        hist = (await taker.client.get_trades_historical(ticker=ticker)).trades
        assert [t.trade_id for t in hist] == [t.trade_id for t in live_trades]
        assert (await taker.client.get_historical_market(ticker=ticker)).market.ticker == ticker
        assert [m.ticker for m in (await taker.client.get_historical_markets(tickers=f"{ticker},{still_open}")).markets] \
            == [ticker]  # the open market is not settled
        with pytest.raises(ApiException) as err:
            await taker.client.get_historical_market(ticker=still_open)
        assert _code(err) == (404, "market_not_found")

        fills = (await taker.client.get_fills_historical(ticker=ticker)).fills
        assert [f.fill_id for f in fills] == [f.fill_id for f in (await taker.client.get_fills(ticker=ticker)).fills]
        assert len(fills) == 1
        # Finished orders only: the maker's cancelled and executed ones, not the one still resting.
        orders = (await maker.client.get_historical_orders()).orders
        ids = {o.order_id: o.status.value for o in orders}
        assert ids.get(gone.order_id) == "canceled" and resting.order_id not in ids
        assert {o.ticker for o in orders} == {ticker}
        positions = (await taker.client.get_historical_positions(ticker=ticker)).market_positions
        live = (await taker.client.get_positions(ticker=ticker, settlement_status="settled")).market_positions
        assert [(p.ticker, p.realized_pnl_dollars) for p in positions] == [(p.ticker, p.realized_pnl_dollars) for p in live]
        assert (await maker.client.get_historical_positions(ticker=still_open)).market_positions == []

        series = (await taker.client.get_event(
            event_ticker=(await taker.client.get_market(ticker=ticker)).market.event_ticker)).event.series_ticker
        end = int(time.time()) + 86400
        candles = await taker.client.get_market_candlesticks_historical(ticker=ticker, start_ts=start, end_ts=end,
                                                                        period_interval=1440)
        assert isinstance(candles, GetMarketCandlesticksHistoricalResponse)
        live_candles = (await taker.client.get_market_candlesticks(series_ticker=series, ticker=ticker, start_ts=start,
                                                                    end_ts=end, period_interval=1440)).candlesticks
        assert [(c.end_period_ts, c.price.close, c.yes_ask.close, c.volume, c.open_interest) for c in candles.candlesticks] \
            == [(c.end_period_ts, c.price.close_dollars, c.yes_ask.close_dollars, c.volume_fp, c.open_interest_fp)
                for c in live_candles]
        assert len(live_candles) == 1 and candles.candlesticks[0].price.close == "0.3000"
        with pytest.raises(ApiException) as err:
            await taker.client.get_market_candlesticks_historical(ticker=still_open, start_ts=start, end_ts=end,
                                                                  period_interval=1440)
        assert _code(err) == (404, "market_not_found")
        with pytest.raises(ApiException) as err:
            await taker.client.get_fills_historical(subaccount=3)
        assert _code(err) == (404, "subaccount_not_found")
    finally:
        r = await operator.put("/operator/historical/cutoff", json={"cutoff_ts": None})
        assert r.status_code == 200, r.text
    assert (await taker.client.get_trades_historical(ticker=ticker)).trades == []
    r = await operator.put("/operator/historical/cutoff", json={"cutoff_ts": -5})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameters"
