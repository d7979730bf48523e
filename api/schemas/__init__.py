"""Kalshi wire shapes: request bodies (`requests`), view -> JSON builders (`wire`), unit conversions (`convert`)."""
