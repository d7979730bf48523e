"""Property: no WebSocket message, however malformed, breaks the connection. Hypothesis sends
arbitrary JSON, near-valid commands (the real command names and parameter keys with values
of any type) and raw text; after each, the same connection must still answer a
`list_subscriptions` probe, and every error it sent must be in Kalshi's shape."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

PROBE_ID = 987_654_321
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)
COMMANDS = st.fixed_dictionaries(
    {"id": JSON, "cmd": st.sampled_from(["subscribe", "unsubscribe", "update_subscription", "list_subscriptions"])
     | st.text(max_size=12),
     "params": st.dictionaries(st.sampled_from(["channels", "market_ticker", "market_tickers", "sids", "sid", "action"]),
                               JSON | st.lists(st.sampled_from(["ticker", "trade", "orderbook_delta", "fill", "x"])),
                               max_size=4) | JSON})
MESSAGES = COMMANDS.map(json.dumps) | JSON.map(json.dumps) | st.text(max_size=40)


@given(messages=st.lists(MESSAGES, min_size=1, max_size=5))
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
def test_malformed_messages_never_break_the_connection(server, messages):
    with connect(server.ws_url, open_timeout=10) as ws:
        for message in messages:
            ws.send(message)
        ws.send(json.dumps({"id": PROBE_ID, "cmd": "list_subscriptions"}))
        while True:
            reply = json.loads(ws.recv(timeout=10))
            if reply.get("type") == "error":
                assert isinstance(reply["msg"]["code"], int) and isinstance(reply["msg"]["msg"], str), reply
            if reply.get("id") == PROBE_ID:
                assert reply["type"] == "ok", reply
                break
