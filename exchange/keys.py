"""The one check of an API key's public half (pure): Kalshi-style keys are RSA, sent as PEM."""
from __future__ import annotations

from exchange.errors import InvalidRequest


def check_rsa_public_key(pem: object, field: str = "public_key") -> str:
    """`pem` if it is an RSA public key in PEM; else InvalidRequest (400)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        if not isinstance(pem, str) or not isinstance(load_pem_public_key(pem.encode()), rsa.RSAPublicKey):
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidRequest(f"{field} is not an RSA public key in PEM", code="invalid_parameters") from None
    return pem
