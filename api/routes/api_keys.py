"""A user's API keys: register a public key, or have the exchange generate a pair."""
from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, Request

from exchange.errors import NotFound

from api.auth import Principal, current_user
from api.routes._common import no_content, ok, service
from api.schemas import requests as rq
from api.schemas import wire

router = APIRouter(tags=["api keys"])


@router.get("/api_keys", summary="The user's API keys")
async def get_api_keys(request: Request, fcm_subtrader_id: str | None = None, user: Principal = Depends(current_user)):
    return ok({"api_keys": [wire.api_key(k) for k in service(request).list_api_keys(user.user_id)]})


@router.post("/api_keys", status_code=201, summary="Register an RSA public key (PEM)")
async def create_api_key(request: Request, body: rq.CreateApiKey, user: Principal = Depends(current_user)):
    rq.check_subaccount(body.subaccount)
    key_id = service(request).create_api_key(user.user_id, body.public_key, name=body.name, scopes=rq.scopes(body.scopes))
    return ok({"api_key_id": key_id}, 201)


@router.post("/api_keys/generate", status_code=201, summary="Generate an RSA key pair; the private key is shown once")
async def generate_api_key(request: Request, body: rq.GenerateApiKey, user: Principal = Depends(current_user)):
    rq.check_subaccount(body.subaccount)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key_id = service(request).create_api_key(user.user_id, public_pem, name=body.name, scopes=rq.scopes(body.scopes))
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    return ok({"api_key_id": key_id, "key_type": "rsa", "private_key": private_pem}, 201)


@router.delete("/api_keys/{api_key}", status_code=204, summary="Delete one of the user's API keys")
async def delete_api_key(request: Request, api_key: str, user: Principal = Depends(current_user)):
    svc = service(request)
    if svc.get_api_key(api_key) is None:
        raise NotFound(f"API key {api_key} not found", code="api_key_not_found")
    svc.delete_api_key(user.user_id, api_key)
    request.app.state.auth.forget(api_key)
    return no_content()
