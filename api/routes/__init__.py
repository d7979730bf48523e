"""Thin routes, one module per resource: parse -> ExchangeService -> wire shape."""
