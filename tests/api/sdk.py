"""Driving the legacy endpoints that `kalshi-python-async` 3.34 has models for but no methods
(POST/DELETE /portfolio/orders...): the SDK's own ApiClient signs, serialises the SDK's
request model and deserialises into its response model, exactly as its generated methods do."""
from __future__ import annotations


async def call(client, method: str, path: str, body=None, types: dict[str, str | None] | None = None,
               query: list | None = None):
    params = client.param_serialize(method=method, resource_path=path, body=body, query_params=query or [],
                                    header_params={"Content-Type": "application/json", "Accept": "application/json"},
                                    auth_settings=[])
    response = await client.call_api(*params)
    await response.read()
    return client.response_deserialize(response_data=response, response_types_map=types or {}).data
