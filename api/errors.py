"""Kalshi's error shape for every refusal: `{"error": {"code", "message", "details"}}`.

Exchange errors carry their own code and HTTP status (`exchange.errors`); request
validation failures are 400 `invalid_parameters` (Kalshi answers 400, not 422), and so is a
value the database refuses as data (SQLSTATE class 22: a NUL byte in PostgreSQL text, say),
whose transaction has rolled back; unknown paths 404; anything unexpected 500
`internal_error` without internals.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange.db import DATA_ERRORS
from exchange.errors import ExchangeError

log = logging.getLogger(__name__)

_DEFAULT_CODES = {400: "bad_request", 401: "authentication_error", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 409: "conflict", 413: "request_too_large", 429: "too_many_requests",
                  500: "internal_error", 503: "service_unavailable"}


class ApiError(Exception):
    """An API-level refusal (auth, rate limit, bad request shape) in Kalshi's error shape."""

    def __init__(self, status: int, message: str, *, code: str | None = None, details: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _DEFAULT_CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


def error_body(code: str, message: str, details: str = "") -> dict:
    return {"error": {"code": code, "message": message, "details": details, "service": "tandem"}}


def error_item(exc: ExchangeError | ApiError) -> dict:
    """The inner object, as batch responses carry it per item."""
    return {"code": exc.code, "message": exc.message, "details": exc.details}


def error_response(status: int, code: str, message: str, details: str = "", headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _validation_message(errors) -> tuple[str, str]:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header"))
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts[:5]), "; ".join(parts)


REFUSALS: tuple[type[Exception], ...] = (ExchangeError, ApiError, RequestValidationError, ValidationError, *DATA_ERRORS)


def refusal(exc: Exception) -> tuple[int, dict, dict | None]:
    """Kalshi's answer to a refused request (one of REFUSALS): status, body, extra headers.
    FastAPI's handlers and the fast lane (api/fast_lane.py) both answer through it."""
    if isinstance(exc, ExchangeError):
        if exc.status >= 500:
            log.error("exchange error %s: %s", exc.code, exc.message)
        return exc.status, error_body(exc.code, exc.message, exc.details), None
    if isinstance(exc, ApiError):
        return exc.status, error_body(exc.code, exc.message, exc.details), exc.headers
    if isinstance(exc, (RequestValidationError, ValidationError)):
        message, details = _validation_message(exc.errors())
        return 400, error_body("invalid_parameters", message, details), None
    # A value the database refused as data. Logged: a value our own code built would land here too.
    reason = (str(getattr(exc, "orig", None) or exc).splitlines() or ["refused by the database"])[0]
    log.warning("request value refused by the database: %s", reason)
    return 400, error_body("invalid_parameters", "a value in the request cannot be stored", reason), None


def install(app: FastAPI) -> None:
    async def _refused(_request: Request, exc: Exception) -> JSONResponse:
        status, body, headers = refusal(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    for kind in REFUSALS:
        app.add_exception_handler(kind, _refused)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        message = exc.detail if isinstance(exc.detail, str) else _DEFAULT_CODES.get(status, "error")
        return error_response(status, _DEFAULT_CODES.get(status, "error"), message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")
