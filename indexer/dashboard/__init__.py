"""The operator dashboard (DESIGN.md, "Indexer, reconciliation, dashboard").

A static page served at `/` of the indexer's port: it reads the indexer's JSON endpoints and
live push from the browser, so this module has no logic and does no I/O at import. The one
charting library (uPlot, npm) is vendored under static/vendor with its licence: a fresh clone
serves the page without npm or a network (`make dashboard-vendor` refreshes it from
indexer/dashboard/package.json).
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS_PATH = "/dashboard"


def install(app: FastAPI) -> None:
    """Serve the page at `/` and its assets under `/dashboard/` of `app`."""
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="dashboard")

    @app.get("/", include_in_schema=False)
    def dashboard_page() -> FileResponse:
        # no-cache: an operator reloading after an upgrade gets the new page, not a stale one.
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
