"""Which operations of Kalshi's official SDK (kalshi-python-async) Tandem serves, and why each
of the others is not. The SDK's own generated clients are the source of the operation list,
so an SDK upgrade that adds an operation fails here until it is served or given a reason, and
an operation that becomes served fails here until its reason is struck."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import kalshi_python_async

from api.app import create_app
from tandem.settings import Settings

PREFIX = "/trade-api/v2"

_FCM = "for FCM members trading for their customers (subtraders); Tandem has no FCMs"
_LIVE = "sports/weather live data from Kalshi's data partners; Tandem has no such feed"
_MVE = "multivariate (combo) event collections; Tandem lists no multivariate markets"
_INSTANCES = "transfers between Kalshi exchange instances; Tandem is one instance"

NOT_SERVED: dict[str, str] = {
    "get_account_api_usage_level_volume_progress": "usage tiers are set by the operator (PUT /operator/users/{id}/api_tier), not earned by volume",
    "upgrade_account_api_usage_level": "usage tiers are set by the operator, not self-upgraded",
    "accept_block_trade_proposal": "block trades: not built yet",
    "get_block_trade_proposals": "block trades: not built yet",
    "propose_block_trade": "block trades: not built yet",
    "get_event_fee_changes": "Tandem's fees are fixed per venue (exchange/fees.py); there is no fee-change schedule to list",
    "get_series_fee_changes": "as get_event_fee_changes",
    "get_event_forecast_percentiles_history": "Kalshi's forecast percentiles come from its data team; Tandem has none",
    "get_event_metadata": "event images, competitors and settlement sources: Tandem's events carry no such metadata",
    "get_multivariate_events": _MVE,
    "create_fcm_position_transfer": _FCM, "create_fcm_subtrader": _FCM,
    "delete_fcm_event_contract_daily_cap": _FCM, "get_fcm_event_contract_daily_cap": _FCM,
    "get_fcm_fills": _FCM, "get_fcm_orders": _FCM, "get_fcm_positions": _FCM,
    "get_fcm_subtrader_blocked_categories": _FCM, "list_fcm_subtraders": _FCM,
    "update_fcm_event_contract_daily_cap": _FCM, "update_fcm_subtrader_blocked_categories": _FCM,
    "get_incentive_programs": "Tandem runs no liquidity incentive programs",
    "get_event_live_data": _LIVE, "get_game_stats": _LIVE, "get_live_data": _LIVE,
    "get_live_data_by_milestone": _LIVE, "get_live_datas": _LIVE, "get_weather_index": _LIVE,
    "get_weather_index_calibrations": _LIVE,
    "get_milestone": "milestones (sports fixtures) belong to the live-data feed Tandem has not",
    "get_milestones": "as get_milestone",
    "create_market_in_multivariate_event_collection": _MVE,
    "get_multivariate_event_collection": _MVE, "get_multivariate_event_collections": _MVE,
    "get_intra_exchange_instance_transfer": _INSTANCES, "get_intra_exchange_instance_transfers": _INSTANCES,
    "intra_exchange_instance_transfer": _INSTANCES,
    "get_subaccount_netting": "Tandem always nets YES against NO in every subaccount (DESIGN.md); there is no per-subaccount switch",
    "update_subaccount_netting": "as get_subaccount_netting",
    "get_target_balance_allocation": "Kalshi's automatic cash sweep between subaccounts; Tandem moves cash only by explicit transfers",
    "set_target_balance_allocation": "as get_target_balance_allocation",
    "get_filters_for_sports": "search filters for Kalshi's sports catalogue; Tandem has no sports catalogue",
    "get_tags_for_series_categories": "Tandem's series carry no category tags",
    "get_structured_target": "structured targets (players, teams) belong to the live-data feed Tandem has not",
    "get_structured_targets": "as get_structured_target",
}


def sdk_operations() -> dict[str, tuple[str, str]]:
    """Every operation of the SDK's generated API classes: name -> (HTTP method, path)."""
    found: dict[str, tuple[str, str]] = {}
    for source in sorted((Path(kalshi_python_async.__file__).parent / "api").glob("*_api.py")):
        text = source.read_text()
        for m in re.finditer(r"def _(\w+)_serialize\(.*?method='(\w+)',\s*resource_path='([^']+)'", text, re.S):
            found[m.group(1)] = (m.group(2), m.group(3))
    return found


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def served_operations() -> set[tuple[str, str]]:
    paths = create_app(Settings()).openapi()["paths"]
    return {(method.upper(), _shape(path[len(PREFIX):])) for path, item in paths.items()
            if path.startswith(PREFIX) for method in item}


def test_every_sdk_operation_is_served_or_has_a_reason():
    operations = sdk_operations()
    assert len(operations) >= 118, "the SDK's API classes were not parsed"
    served = served_operations()
    unserved = {name for name, (method, path) in operations.items() if (method, _shape(path)) not in served}
    assert unserved - NOT_SERVED.keys() == set(), "served by neither Tandem nor a reason in NOT_SERVED"
    assert NOT_SERVED.keys() - unserved == set(), "served now (or gone from the SDK): strike its reason"


def test_an_unserved_operation_answers_kalshis_error_shape(server):
    operations = sdk_operations()
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for name in sorted(NOT_SERVED):
            method, path = operations[name]
            r = client.request(method, PREFIX + re.sub(r"\{[^}]+\}", "X", path))
            assert r.status_code in (404, 405), (name, r.status_code, r.text)  # not served, not "unauthorised"
            body = r.json()
            assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), (name, body)
