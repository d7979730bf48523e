"""The dashboard's files as the indexer serves them: the page at `/`, every asset it names under
`/dashboard/`, nothing from another host, and the vendored uPlot is the version package.json pins,
with its licence beside it."""
from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from indexer.dashboard import STATIC, install

PACKAGE = Path(__file__).resolve().parents[2] / "indexer" / "dashboard" / "package.json"


def client() -> TestClient:
    app = FastAPI()
    install(app)
    return TestClient(app)


def test_page_and_every_asset_it_names_are_served_locally():
    c = client()
    page = c.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    refs = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    assets = [r for r in refs if r.startswith("/dashboard/")]
    assert {"/dashboard/vendor/uPlot.iife.min.js", "/dashboard/vendor/uPlot.min.css", "/dashboard/dashboard.js",
            "/dashboard/dashboard.css"} <= set(assets)
    for ref in assets:
        assert c.get(ref).status_code == 200, ref
    assert not [r for r in refs if re.match(r"^(https?:)?//", r)], "the page must not load anything from another host"
    assert c.get("/dashboard/nope.js").status_code == 404


def test_vendored_uplot_is_the_pinned_version_with_its_licence():
    pinned = json.loads(PACKAGE.read_text())["dependencies"]["uplot"]
    assert (STATIC / "vendor" / "VERSION").read_text().split() == ["uplot", pinned]
    assert "MIT License" in (STATIC / "vendor" / "LICENSE").read_text()
    assert (STATIC / "vendor" / "uPlot.iife.min.js").read_text().startswith(f"/*! https://github.com/leeoniya/uPlot (v{pinned}) */")
