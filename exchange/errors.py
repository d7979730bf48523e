"""Errors the service raises; the API maps each to Kalshi's error shape and its HTTP status.

Every error is raised before anything is written (or inside the transaction, which then
rolls back): a refused command leaves no trace.
"""
from __future__ import annotations


class ExchangeError(Exception):
    """`code` is the Kalshi-style error code, `status` the HTTP status it maps to."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class InvalidRequest(ExchangeError):
    code = "invalid_parameters"
    status = 400


class NotFound(ExchangeError):
    code = "not_found"
    status = 404


class Conflict(ExchangeError):
    code = "conflict"
    status = 409


class InsufficientBalance(ExchangeError):
    code = "insufficient_balance"
    status = 400


class MarketNotOpen(ExchangeError):
    code = "market_closed"
    status = 400


class Forbidden(ExchangeError):
    code = "forbidden"
    status = 403
