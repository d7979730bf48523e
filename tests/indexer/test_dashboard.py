"""The operator dashboard in a real headless browser (Debian's chromium driven by Playwright, no
browser download) against the real indexer on localnet with a real database (`indexer_stack`):
the page loads with no request leaving the machine, every panel shows live numbers that match
`GET /v1/reconciliation`, a ledger row changed behind the service's back shows as a break on the
right market and gauge, healing it clears the break, and with the indexer stopped the page
stops showing green. Screenshots are saved (docs/ when
TANDEM_SCREENSHOT_DIR=docs, as the README's picture is made).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, async_playwright
from solana.rpc.commitment import Finalized

from chain import instructions as ix
from chain import pdas

REPO = Path(__file__).resolve().parents[2]
PANELS = ["panel-markets", "panel-breaks", "panel-cash", "panel-history", "panel-lag", "panel-landed",
          "panel-wallet", "panel-proof"]
MARKET_FIELDS = ["yes_supply", "no_supply", "sets", "vault", "custody_yes", "custody_no", "ledger_yes", "ledger_no",
                 "outbox_seq", "applied_seq"]
ONE = 1_000_000  # base units in a contract
TAMPER = 7 * ONE  # seven contracts of YES added to one custodial user's ledger row


def chromium_path() -> str:
    """Debian's chromium: from `make py-test` (TANDEM_TEST_CHROMIUM), else installed now by the same script."""
    path = os.environ.get("TANDEM_TEST_CHROMIUM") or shutil.which("chromium")
    if not path:
        path = subprocess.run(["bash", str(REPO / "scripts" / "ensure-chromium.sh")], check=True,
                              capture_output=True, text=True).stdout.strip()
    return path


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory) -> Path:
    wanted = os.environ.get("TANDEM_SCREENSHOT_DIR")
    path = (REPO / wanted) if wanted and not os.path.isabs(wanted) else Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
async def browser():
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser, indexer_stack):
    """A page that may only talk to the indexer (a CDN request would be refused and recorded)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = await context.new_page()
    pg.foreign, pg.errors = [], []
    own = urlsplit(indexer_stack.url).netloc

    async def only_local(route):
        if urlsplit(route.request.url).netloc == own:
            await route.continue_()
        else:
            pg.foreign.append(route.request.url)
            await route.abort()

    await pg.route("**/*", only_local)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    try:
        yield pg
    finally:
        await context.close()


async def get_json(url: str, path: str = "/v1/reconciliation") -> dict:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{url}{path}")
        r.raise_for_status()
        return r.json()


async def settle_and_finalize(stack) -> None:
    """Everything applied on chain (the stack's applier), then reported finalized once the chain has
    finalized it, as the bridge reports it (`mark_finalized`)."""
    await stack.settle()
    reader = stack.applier.reader
    applied = {stream: [r for r in reader.records(stream) if r.status == "applied"] for stream in reader.streams()}
    last = max((r.slot or 0 for recs in applied.values() for r in recs), default=0)
    while (await stack.client.rpc.get_slot(commitment=Finalized)).value < last:
        await asyncio.sleep(0.05)
    for stream, recs in applied.items():
        reader.mark_finalized(stream, [r.seq for r in recs])


async def wallet_orders_on_chain(stack, wallet):
    """Two wallet orders placed by the wallet itself; a cancel requested on the second. Returns its PDA."""
    kp, collateral = wallet
    c = stack.client
    market = ix.market_of(c, stack.ticker).market
    for nonce in (11, 12):
        await ix.place_order(c, kp, stack.ticker, nonce=nonce, side=ix.OrderSide.BUY_YES, limit_price=400_000, size=2 * ONE,
                             max_fee=20_000, collateral_mint=stack.collateral_mint, source=collateral)
    waiting = pdas.wallet_order(c.program_id, market, kp.pubkey(), 12)
    await ix.request_cancel(c, kp, waiting)
    await stack.wait_for(lambda b: b["counts"].get("open", 0) >= 1 and any(
        o["order"] == str(waiting) and o["status"] == "cancel_requested" for o in b["orders"]),
        "one order open, one cancel_requested", path="/v1/wallet_orders")
    return waiting


async def assert_wallet_orders_shown(page: Page, url: str, waiting: str) -> None:
    """The page's counts by state are /v1/wallet_orders', and the waiting order stands against its deadline."""
    body = await get_json(url, "/v1/wallet_orders")
    await page.wait_for_selector(f'#wallet-body tr[data-order="{waiting}"]', timeout=10_000)
    shown = await page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("#wallet-states [data-state]")]
        .map((n) => [n.dataset.state, Number(n.textContent)]))""")
    assert shown == body["counts"] and shown["cancel_requested"] >= 1 and shown["open"] >= 1
    order = next(o for o in body["orders"] if o["order"] == waiting)
    deadline = await page.locator(f'#wallet-body tr[data-order="{waiting}"]').inner_text()
    assert str(order["cancel_requested_slot"]) in deadline
    assert "past deadline" in deadline or "slots left" in deadline


def contracts(base_units: int) -> str:
    """How the page writes an amount: exact, thousands separated, two decimals unless finer digits are set."""
    frac = f"{base_units % 1_000_000:06d}".rstrip("0").ljust(2, "0")
    return f"{base_units // 1_000_000:,}.{frac}"


async def page_numbers(page: Page, ticker: str) -> dict:
    """What the page shows, as the raw base-unit integers its gauges carry (data-value)."""
    return await page.evaluate(
        """(ticker) => {
            const row = document.querySelector(`#markets-body tr[data-ticker="${CSS.escape(ticker)}"]`);
            const out = { slot: Number(document.body.dataset.slot), market: {}, cash: {} };
            out.text = {};
            if (row) for (const n of row.querySelectorAll("[data-field]")) {
                out.market[n.dataset.field] = n.dataset.value;
                out.text[n.dataset.field] = n.textContent;
            }
            for (const n of document.querySelectorAll("#cash-gauge [data-field]")) out.cash[n.dataset.field] = n.dataset.value;
            out.breaks = [...document.querySelectorAll("#breaks-body tr[data-kind]")].map((r) => [r.dataset.kind, r.dataset.ticker]);
            return out;
        }""", ticker)


async def assert_page_matches(page: Page, url: str, ticker: str, timeout: float = 20.0) -> dict:
    """The page's numbers equal those of /v1/reconciliation, read independently at the same slot.

    Both move with the chain, so we wait for a moment when the page shows the slot the API
    answers for (page read before and after the request) and then compare strictly.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = await page_numbers(page, ticker)
        recon = await get_json(url)
        shown = await page_numbers(page, ticker)
        if not before["slot"] == recon["slot"] == shown["slot"]:
            await asyncio.sleep(0.1)
            continue
        market = next(m for m in recon["markets"] if m["ticker"] == ticker)
        assert shown["market"] == {f: str(market[f]) for f in MARKET_FIELDS}
        for f in ["yes_supply", "custody_yes", "ledger_yes", "custody_no", "ledger_no"]:  # shown in contracts
            assert shown["text"][f] == contracts(market[f]), f
        assert shown["cash"] == {"cash_custody": str(recon["cash"]["custody"]), "cash_ledger": str(recon["cash"]["ledger"])}
        assert sorted(shown["breaks"]) == sorted([b["kind"], b["ticker"] or ""] for b in recon["breaks"])
        return recon
    raise AssertionError(f"the page never showed the slot the API answered for (last: page {shown['slot']}, API {recon['slot']})")


async def assert_proof_shown(page: Page, url: str, timeout: float = 60.0) -> None:
    """The latest proof epoch's roots are on the page, each with its root sum and custody balance."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while (r := await client.get(f"{url}/v1/proof/latest")).status_code == 404 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
    assert r.status_code == 200, f"no proof epoch within {timeout} s: {r.text}"
    while time.monotonic() < deadline:  # the page polls it: wait until it shows the epoch the API answers with
        latest = await get_json(url, "/v1/proof/latest")
        shown = await page.evaluate("""() => ({
            epoch: tandemDashboard.state.proof && tandemDashboard.state.proof.epoch,
            trees: Object.fromEntries([...document.querySelectorAll("#proof-body [data-tree]")].map(
                (t) => [t.dataset.tree, [...t.querySelectorAll("[data-field]")].map((n) => n.dataset.value)])),
            summary: document.getElementById("proof-summary").textContent })""")
        if shown["epoch"] == latest["epoch"]:
            want = {f"{x['ticker'] or 'cash'}:{x['asset']}": [str(x["sum"]), str(x["custody_balance"])]
                    for x in latest["roots"]}
            assert want and shown["trees"] == want
            assert f"epoch {latest['epoch']} at slot {latest['slot']}" in shown["summary"]
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"the page never showed proof epoch {latest['epoch']} (it shows {shown['epoch']})")


async def test_dashboard_live_numbers_break_and_heal(page, indexer_stack, wallet, screenshot_dir):
    url, ticker = indexer_stack.url, indexer_stack.ticker
    await page.goto(f"{url}/")

    # Loads, all well, and is fed live (the slot it shows moves on without a reload).
    await page.wait_for_selector('#status[data-state="ok"]', timeout=60_000)
    assert await page.locator("#status-text").inner_text() == "All books agree"
    first_slot = int(await page.evaluate("document.body.dataset.slot"))
    await page.wait_for_function("(s) => Number(document.body.dataset.slot) > s", arg=first_slot, timeout=20_000)
    assert await page.locator("#meta-feed").inner_text() == "live"

    # Trading moves the books: new sets minted through the exchange, applied on chain; the page follows.
    sets_before = next(m for m in (await get_json(url))["markets"] if m["ticker"] == ticker)["sets"]
    for _ in range(3):
        indexer_stack.mint_sets(ticker, 2)
        await indexer_stack.applier.apply_all()
        await asyncio.sleep(0.5)
    await settle_and_finalize(indexer_stack)  # what a proof epoch waits for

    # A wallet's two orders on chain: one open, one whose cancel was requested (its deadline runs).
    waiting = await wallet_orders_on_chain(indexer_stack, wallet)

    # Every panel is there with numbers, and they are /v1/reconciliation's.
    for panel in PANELS:
        assert await page.locator(f"#{panel}").is_visible(), panel
    recon = await assert_page_matches(page, url, ticker)
    assert recon["ok"] is True and recon["breaks"] == []
    assert next(m for m in recon["markets"] if m["ticker"] == ticker)["sets"] == sets_before + 6 * ONE
    row = page.locator(f'#markets-body tr[data-ticker="{ticker}"]')
    assert await row.locator("[data-verdict]").count() == 6  # one gauge per invariant column
    assert await row.locator('[data-cell="custody_yes"] [data-verdict]').get_attribute("data-verdict") == "ok"
    for chart in ["history", "lag", "landed"]:  # each chart drawn, with more than one point of history
        assert await page.locator(f"#chart-{chart} canvas").count() == 1, chart
        await page.wait_for_function("(c) => tandemDashboard.charts[c].data[0].length > 1", arg=chart, timeout=10_000)
    async with httpx.AsyncClient(timeout=10) as client:  # landed total: between the API's before and after
        before = (await client.get(f"{url}/v1/bridge")).json()["landed_total"]
        await asyncio.sleep(1.0)  # the page's copy comes with the next push
        shown = int(await page.locator("#landed-total").inner_text())
        after = (await client.get(f"{url}/v1/bridge")).json()["landed_total"]
    assert before <= shown <= after
    await page.select_option("#history-select", ticker)  # the market's own YES/NO custody vs ledger
    await page.wait_for_function("""(t) => { const d = tandemDashboard, h = d.charts.history, last = d.state.samples.at(-1);
        return h.series.length === 5 && h.data[1].length > 1 && h.data[1].at(-1) === Number(last.markets[t].custody_yes) / 1e6; }""",
                                 arg=ticker, timeout=10_000)
    assert await page.locator(f'#lag-body tr[data-stream="{ticker}"]').count() == 1
    await assert_wallet_orders_shown(page, url, str(waiting))
    await assert_proof_shown(page, url)
    await page.screenshot(path=str(screenshot_dir / "dashboard.png"), full_page=True)

    # A ledger row changed behind the service's back: the page says so, on that market and gauge.
    indexer_stack.tamper_ledger(TAMPER)
    try:
        await page.wait_for_selector('#status[data-state="bad"]', timeout=30_000)
        assert await page.locator("#status-text").inner_text() == "1 break"
        await page.wait_for_selector(f'#markets-body tr.row-bad[data-ticker="{ticker}"] td[data-cell="custody_yes"].is-bad')
        assert await page.locator(f'#breaks-body tr[data-kind="custody_yes"][data-ticker="{ticker}"]').count() == 1
        assert ticker in await page.locator("#status-detail").inner_text()
        recon = await assert_page_matches(page, url, ticker)
        market = next(m for m in recon["markets"] if m["ticker"] == ticker)
        assert market["ledger_yes"] == market["custody_yes"] + TAMPER
        assert [b["kind"] for b in recon["breaks"]] == ["custody_yes"]
        await page.screenshot(path=str(screenshot_dir / "dashboard-break.png"), full_page=True)
    finally:
        indexer_stack.heal_ledger(TAMPER)

    # Healed: green again, and the break is listed as cleared.
    await page.wait_for_selector('#status[data-state="ok"]', timeout=30_000)
    assert "custody_yes" in await page.locator("#cleared-list").text_content()  # inside a closed <details>
    await assert_page_matches(page, url, ticker)

    # Custodial cash claimed beyond custody's collateral: a break with no market, on the cash gauge.
    indexer_stack.tamper_ledger(TAMPER, asset="USD")
    try:
        await page.wait_for_selector('#panel-cash.has-break #cash-gauge.is-bad', timeout=30_000)
        assert await page.locator("#status-text").inner_text() == "1 break"
        assert "cash backing short since slot" in await page.locator("#status-detail").inner_text()
        assert await page.locator('#breaks-body tr[data-kind="cash"][data-ticker=""]').count() == 1
        assert await page.locator("#markets-body tr.row-bad").count() == 0  # no market is blamed
        await assert_page_matches(page, url, ticker)
    finally:
        indexer_stack.heal_ledger(TAMPER, asset="USD")
    await page.wait_for_selector('#status[data-state="ok"]', timeout=30_000)

    # The indexer gone: the page must not keep showing green on old numbers.
    indexer_stack.indexer.stop()
    await page.wait_for_selector('#status[data-state="wait"]', timeout=30_000)
    assert (await page.locator("#status-text").inner_text()).startswith("No reconciliation for")

    assert page.errors == []
    assert page.foreign == []  # every asset (uPlot included) came from the indexer itself
