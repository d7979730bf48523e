"""Property: no request makes the server fail. Schemathesis generates requests for every
operation of the served OpenAPI document (valid ones, and ones that break its constraints),
signs them as a Kalshi client would (the operator token rides along for /operator routes),
and asserts the answer is never a 5xx. It found the out-of-range numbers that
test_errors_and_isolation now pins down."""
from __future__ import annotations

import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.auth import sign
from tests.api.conftest import OPERATOR_TOKEN, new_private_key, public_pem

EXAMPLES = 30  # per operation; `st run` against `tandem api` explores further (README)
# Issue 13's operations (candlesticks, cash history, the historical archive, API access, subaccounts).
NEW_IN_ISSUE_13 = {
    "GET /trade-api/v2/series/{series_ticker}/markets/{ticker}/candlesticks",
    "GET /trade-api/v2/markets/candlesticks",
    "GET /trade-api/v2/series/{series_ticker}/events/{ticker}/candlesticks",
    "GET /trade-api/v2/portfolio/deposits", "GET /trade-api/v2/portfolio/withdrawals",
    "GET /v1/custody/deposits", "GET /v1/custody/withdrawals",
    "GET /trade-api/v2/historical/cutoff", "GET /trade-api/v2/historical/markets",
    "GET /trade-api/v2/historical/markets/{ticker}", "GET /trade-api/v2/historical/markets/{ticker}/candlesticks",
    "GET /trade-api/v2/historical/trades", "GET /trade-api/v2/historical/fills", "GET /trade-api/v2/historical/orders",
    "GET /trade-api/v2/historical/positions", "PUT /operator/historical/cutoff",
    "PUT /operator/api_keys/{key_id}/builder", "PUT /operator/users/{user_id}/api_tier",
    "GET /trade-api/v2/account/limits", "GET /trade-api/v2/account/endpoint_costs",
    "POST /trade-api/v2/portfolio/subaccounts", "GET /trade-api/v2/portfolio/subaccounts/balances",
    "POST /trade-api/v2/portfolio/subaccounts/transfer", "GET /trade-api/v2/portfolio/subaccounts/transfers",
    # RFQs and quotes (communications)
    "GET /trade-api/v2/communications/id", "POST /trade-api/v2/communications/rfqs", "GET /trade-api/v2/communications/rfqs",
    "GET /trade-api/v2/communications/rfqs/{rfq_id}", "DELETE /trade-api/v2/communications/rfqs/{rfq_id}",
    "POST /trade-api/v2/communications/quotes", "GET /trade-api/v2/communications/quotes",
    "GET /trade-api/v2/communications/quotes/{quote_id}", "DELETE /trade-api/v2/communications/quotes/{quote_id}",
    "PUT /trade-api/v2/communications/quotes/{quote_id}/accept", "PUT /trade-api/v2/communications/quotes/{quote_id}/confirm",
    "GET /trade-api/v2/communications/rfqs/{rfq_id}/quotes/{quote_id}",
    "DELETE /trade-api/v2/communications/rfqs/{rfq_id}/quotes/{quote_id}",
    "PUT /trade-api/v2/communications/rfqs/{rfq_id}/quotes/{quote_id}/accept",
    "PUT /trade-api/v2/communications/rfqs/{rfq_id}/quotes/{quote_id}/confirm",
}


@pytest.fixture(scope="session")
def fuzz_identity(server):
    """A funded user with a key, and a market, so generated requests reach past the 404s."""
    key = new_private_key()
    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}) as op:
        op.post("/operator/markets", json={"ticker": "FUZZ", "close_time": "2099-01-01T00:00:00Z"})
        r = op.post("/operator/users", json={"name": f"fuzz-{time.monotonic_ns()}", "public_key": public_pem(key)})
        r.raise_for_status()
        op.post(f"/operator/users/{r.json()['user_id']}/fund", json={"cents": 100_000}).raise_for_status()
    return r.json()["api_key_id"], key


def test_no_request_makes_a_server_error(server, fuzz_identity):
    key_id, key = fuzz_identity
    schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # every route is in the document
    labels = {op.label for op in operations}
    assert NEW_IN_ISSUE_13 <= labels, NEW_IN_ISSUE_13 - labels  # fuzzed like the rest

    failures: list[str] = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            headers = {"KALSHI-ACCESS-KEY": key_id, "Authorization": f"Bearer {OPERATOR_TOKEN}",
                       **sign(key, int(time.time() * 1000), case.method, case.formatted_path)}
            case.call_and_validate(base_url=server.base, headers=headers, checks=[not_a_server_error])

        try:
            call()
        except Exception as exc:  # one report per operation, then the next operation
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
