"""Kalshi Trade API v2 compatible REST + WebSocket, operator and wallet endpoints (FastAPI)."""
