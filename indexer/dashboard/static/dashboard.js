// The operator dashboard: reads the indexer's JSON (DESIGN.md, "Indexer, reconciliation, dashboard"),
// follows its live push, and draws every panel. No framework: one state object, one render per update.
"use strict";
(() => {
  const POLL_MS = 2000;       // the fallback when a push is missing or the stream is down
  const STALE_MS = 10000;     // no reconciliation for this long: say so instead of showing green
  const HISTORY_MAX = 900;    // samples kept for the charts (15 min at one a second)
  const RATE_WINDOW_S = 60;   // the landed rate is averaged over this window

  const state = {
    recon: null, reconAt: 0, bridge: null, wallet: null, proof: null,
    pushed: {},               // event name -> Date.now() of its last push
    feed: "connecting", samples: [], openBreaks: new Map(), cleared: [],
  };

  // ---------- small helpers ----------
  const $ = (id) => document.getElementById(id);
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const big = (v) => (v === null || v === undefined ? null : BigInt(v));
  // Base units -> a decimal string, exact (BigInt): two decimals unless finer digits are set.
  function units(v) {
    if (v === null || v === undefined) return "–";
    let n = BigInt(v);
    const neg = n < 0n; if (neg) n = -n;
    const whole = (n / 1000000n).toLocaleString("en-US");
    let frac = (n % 1000000n).toString().padStart(6, "0").replace(/0+$/, "");
    if (frac.length < 2) frac = frac.padEnd(2, "0");
    return (neg ? "−" : "") + whole + "." + frac;
  }
  const dollars = (v) => (v === null || v === undefined ? "–" : "$" + units(v));
  const num = (v) => (v === null || v === undefined ? null : Number(v) / 1e6);   // null: a gap in the chart
  function age(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return "–";
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  async function getJSON(path) {
    const r = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    if (r.status === 404) return undefined;   // an endpoint not served (yet): its panel says so
    if (r.status === 503) return null;        // served, but nothing computed yet
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  // ---------- which gauge a break belongs to ----------
  // The indexer's break kinds (indexer/reconcile) and the cell of a market's row each belongs to;
  // a kind this page does not know marks the whole row.
  const KIND_CELL = {
    supply: "supply", vault: "vault",                                   // invariant 1
    custody_yes: "custody_yes", custody_no: "custody_no",               // invariant 2
    seq_missing: "seqs", seq_duplicate: "seqs", seq_unknown: "seqs",    // invariant 3
    bridge_lag: "seqs",
    wallet_limit: "wallet",                                             // invariant 5
    cash: "cash",                                                       // cash backing
  };
  const cellOf = (kind) => KIND_CELL[kind] || "market";
  // Where a break is: its market, or for a null ticker the cash account / the exchange's own stream.
  const where = (b) => b.ticker ?? (b.kind === "cash" ? "cash" : "exchange stream");
  const describe = (b) => (b.ticker ? `${b.kind} on ${b.ticker}` : b.kind === "cash" ? "cash backing short" : `${b.kind} on the exchange stream`);
  const breakKey = (b) => `${b.kind}|${b.ticker ?? ""}|${b.first_slot}`;
  const breaksOf = (ticker, cell) => (state.recon?.breaks || []).filter(
    (b) => (b.ticker ?? null) === ticker && (cell === undefined || cellOf(b.kind) === cell || cellOf(b.kind) === "market"));

  // ---------- gauges ----------
  // A chip (the verdict, in words) and one bar per quantity, scaled to the largest of them.
  function gauge(verdict, chipText, rows, fmt = units) {
    const max = rows.reduce((m, r) => { const v = big(r.value); return v !== null && v > m ? v : m; }, 0n);
    const bars = el("div", { class: "bars" });
    rows.forEach((r, i) => {
      const v = big(r.value);
      const pct = v === null || max === 0n ? 0 : Number((v * 1000n) / max) / 10;
      bars.append(
        el("span", { class: "lbl", text: r.label }),
        el("span", { class: "bar" + (i % 2 ? " b2" : ""), "aria-hidden": "true" }, el("span", { style: `width:${pct}%` })),
        el("span", { class: "val", "data-field": r.field, "data-value": r.value ?? "", text: fmt(r.value) }));
    });
    return el("div", { class: "cell-gauge" }, el("span", { class: "chip " + verdict, "data-verdict": verdict, text: chipText }), bars);
  }
  function cell(name, ticker, build) {
    const bad = breaksOf(ticker, name).filter((b) => cellOf(b.kind) === name);
    const td = build(bad);
    td.dataset.cell = name;
    if (bad.length) { td.classList.add("is-bad"); td.dataset.state = "bad"; td.title = bad.map((b) => `${b.kind}: ${b.detail}`).join("\n"); }
    return td;
  }
  const breakChip = (bad) => "✗ " + bad.map((b) => b.kind).join(", ");

  function marketRow(m) {
    const t = m.ticker;
    const lag = Number(big(m.outbox_seq ?? 0) - big(m.applied_seq ?? 0));
    const rowBreaks = breaksOf(t);
    const tr = el("tr", { "data-ticker": t, class: rowBreaks.length ? "row-bad" : null },
      el("th", { scope: "row" }, t, rowBreaks.length ? el("div", { class: "chip bad", text: `${rowBreaks.length} break${rowBreaks.length > 1 ? "s" : ""}` }) : null));

    tr.append(cell("supply", t, (bad) => {
      const same = big(m.yes_supply) === big(m.no_supply) && big(m.no_supply) === big(m.sets);
      const [v, txt] = bad.length ? ["bad", breakChip(bad)] : same ? ["ok", "✓ equal"] : ["wait", "≠ differs"];
      return el("td", {}, gauge(v, txt, [
        { label: "YES", field: "yes_supply", value: m.yes_supply },
        { label: "NO", field: "no_supply", value: m.no_supply },
        { label: "sets", field: "sets", value: m.sets }]));
    }));
    tr.append(cell("vault", t, (bad) => {
      const ok = big(m.vault) >= big(m.sets);
      const [v, txt] = bad.length ? ["bad", breakChip(bad)] : ok ? ["ok", "✓ backed"] : ["wait", "< short"];
      return el("td", {}, gauge(v, txt, [
        { label: "vault $", field: "vault", value: m.vault },
        { label: "sets", field: "sets", value: m.sets }]));
    }));
    for (const side of ["yes", "no"]) {
      const name = "custody_" + side;
      tr.append(cell(name, t, (bad) => {
        const c = big(m[name]), l = big(m["ledger_" + side]);
        let v, txt;
        if (bad.length) [v, txt] = ["bad", breakChip(bad)];
        else if (c === l) [v, txt] = ["ok", "✓ agree"];
        else if (lag > 0) [v, txt] = ["wait", `… bridge ${lag} behind`];
        else if (c > l) [v, txt] = ["idle", "excess +" + units(c - l)];   // unattributed excess: shown, not a failure
        else [v, txt] = ["wait", "≠ " + units(c - l)];
        return el("td", {}, gauge(v, txt, [
          { label: "custody", field: name, value: m[name] },
          { label: "ledger", field: "ledger_" + side, value: m["ledger_" + side] }]));
      }));
    }
    tr.append(cell("seqs", t, (bad) => {
      const [v, txt] = bad.length ? ["bad", breakChip(bad)] : lag === 0 ? ["ok", "✓ all applied"] : ["wait", `… ${lag} pending`];
      return el("td", {}, gauge(v, txt, [
        { label: "outbox", field: "outbox_seq", value: m.outbox_seq },
        { label: "applied", field: "applied_seq", value: m.applied_seq }], (x) => (x === null || x === undefined ? "–" : String(x))));
    }));
    tr.append(cell("wallet", t, (bad) => el("td", {}, el("div", { class: "cell-gauge" },
      el("span", { class: "chip " + (bad.length ? "bad" : "ok"), "data-verdict": bad.length ? "bad" : "ok",
        text: bad.length ? breakChip(bad) : "✓ within limits" })))));
    return tr;
  }

  // ---------- panels ----------
  function renderStatus() {
    const box = $("status"), r = state.recon, now = Date.now();
    let s, icon, text, detail;
    if (!r) [s, icon, text, detail] = state.reconPending
      ? ["wait", "…", "Waiting for the first reconciliation…", "the indexer is up and catching up with the chain"]
      : ["wait", "…", "Connecting to the indexer…", ""];
    else if (now - state.reconAt > STALE_MS) [s, icon, text, detail] = ["wait", "?", "No reconciliation for " + age(now - state.reconAt), "the numbers below may be out of date"];
    else if (r.breaks.length || !r.ok) {
      const n = r.breaks.length;
      s = "bad"; icon = "✗"; text = n ? `${n} break${n > 1 ? "s" : ""}` : "Books disagree";
      detail = r.breaks.slice(0, 3).map((b) => `${describe(b)} since slot ${b.first_slot}`).join(" · ")
        + (n > 3 ? ` · and ${n - 3} more` : "");
    } else {
      s = "ok"; icon = "✓"; text = "All books agree";
      detail = `${r.markets.length} market${r.markets.length === 1 ? "" : "s"} reconciled · cash backed`;
    }
    box.className = "status is-" + s; box.dataset.state = s;
    box.querySelector(".status-icon").textContent = icon;
    // Only what changed is written: the box is a live region, and a screen reader reads each change.
    if ($("status-text").textContent !== text) $("status-text").textContent = text;
    if ($("status-detail").textContent !== detail) $("status-detail").textContent = detail;
    document.title = (s === "ok" ? "✓ " : s === "bad" ? `✗ ${text} · ` : "… ") + "Tandem dashboard";
    $("meta-slot").textContent = r ? r.slot : "–";
    $("meta-age").textContent = r ? age(now - state.reconAt) + " ago" : "–";
    $("meta-feed").textContent = state.feed;
  }

  function renderMarkets() {
    const body = $("markets-body"), r = state.recon;
    const rows = (r.markets || []).map(marketRow);
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 7, text: "no markets yet" }))]));
    $("panel-markets").classList.toggle("has-break", r.breaks.some((b) => b.ticker !== null && b.ticker !== undefined));
  }

  function renderCash() {
    const c = state.recon.cash || {}, bad = breaksOf(null).filter((b) => cellOf(b.kind) === "cash");
    const backed = big(c.custody) !== null && big(c.custody) >= big(c.ledger);
    const [v, txt] = bad.length ? ["bad", breakChip(bad)] : backed ? ["ok", "✓ backed"] : ["wait", "< short"];
    const g = gauge(v, txt, [{ label: "custody", field: "cash_custody", value: c.custody },
      { label: "ledger", field: "cash_ledger", value: c.ledger }], dollars);
    const box = $("cash-gauge");
    box.replaceChildren(g);
    box.classList.toggle("is-bad", bad.length > 0);
    $("panel-cash").classList.toggle("has-break", bad.length > 0);
  }

  function renderBreaks() {
    const list = state.recon.breaks || [];
    const rows = list.map((b) => el("tr", { "data-kind": b.kind, "data-ticker": b.ticker ?? "" },
      el("td", {}, el("span", { class: "chip bad", text: b.kind })),
      el("td", { text: where(b) }), el("td", { text: b.first_slot }),
      el("td", { class: "detail", text: typeof b.detail === "string" ? b.detail : JSON.stringify(b.detail) })));
    $("breaks-body").replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 4, text: "none open" }))]));
    const count = $("breaks-count");
    count.textContent = list.length; count.classList.toggle("bad", list.length > 0);
    $("panel-breaks").classList.toggle("has-break", list.length > 0);
    // Breaks that went away (the indexer's history, its `break` events, or what this page saw go).
    const now = new Map(list.map((b) => [breakKey(b), b]));
    for (const [k, b] of state.openBreaks) if (!now.has(k)) noteCleared({ ...b, cleared_slot: state.recon.slot });
    state.openBreaks = now;
    renderCleared();
  }
  function noteCleared(b) {
    if (state.cleared.some((c) => breakKey(c) === breakKey(b))) return;
    state.cleared.unshift(b);
    state.cleared = state.cleared.slice(0, 50);
  }
  function renderCleared() {
    $("cleared-count").textContent = state.cleared.length;
    $("cleared-list").replaceChildren(...state.cleared.map((b) =>
      el("li", { text: `${describe(b)}: slots ${b.first_slot}–${b.cleared_slot ?? "?"}` })));
  }

  function lagStreams() {
    if (state.bridge && Array.isArray(state.bridge.streams)) return state.bridge.streams;
    return (state.recon?.markets || []).map((m) => ({ stream: m.ticker, outbox_seq: m.outbox_seq, applied_seq: m.applied_seq,
      lag: Number(m.outbox_seq) - Number(m.applied_seq), oldest_pending_ms: null }));
  }
  function renderLag() {
    const streams = lagStreams(), now = Date.now();
    const total = streams.reduce((s, x) => s + Number(x.lag ?? (x.outbox_seq - x.applied_seq)), 0);
    const oldest = streams.map((x) => x.oldest_pending_ms).filter((x) => x !== null && x !== undefined);
    $("lag-total").textContent = total;
    $("lag-total").classList.toggle("bad", (state.recon?.breaks || []).some((b) => cellOf(b.kind) === "seqs"));
    $("lag-age").textContent = oldest.length ? age(now - Math.min(...oldest)) : total === 0 ? "none" : "–";
    $("lag-body").replaceChildren(...streams.map((x) => el("tr", { "data-stream": x.stream },
      el("th", { scope: "row", text: x.stream }), el("td", { text: x.outbox_seq }), el("td", { text: x.applied_seq }),
      el("td", { "data-field": "lag", text: x.lag ?? x.outbox_seq - x.applied_seq }),
      el("td", { text: x.oldest_pending_ms ? age(now - x.oldest_pending_ms) : "–" }))));
    $("panel-lag").classList.toggle("has-break", (state.recon?.breaks || []).some((b) => cellOf(b.kind) === "seqs"));
  }

  function landedTotal() {
    if (state.bridge && state.bridge.landed_total !== undefined) return Number(state.bridge.landed_total);
    // Without the bridge endpoint: every applied seq is one sequenced instruction landed on chain.
    return (state.recon?.markets || []).reduce((s, m) => s + Number(m.applied_seq || 0), 0);
  }
  function rateAt(i) {
    const s = state.samples, cur = s[i];
    let j = i;
    while (j > 0 && cur.t - s[j - 1].t <= RATE_WINDOW_S) j--;
    const dt = cur.t - s[j].t;
    return dt > 0 ? ((cur.landed - s[j].landed) / dt) * 60 : 0;
  }
  function renderLanded() {
    const n = state.samples.length;
    $("landed-rate").textContent = n ? rateAt(n - 1).toFixed(1) : "–";
    $("landed-total").textContent = n ? state.samples[n - 1].landed : "–";
  }

  function renderWallet() {
    const w = state.wallet;
    const box = $("wallet-states");
    if (w === undefined || w === null) {
      box.replaceChildren(el("p", { class: "hint", text: "the indexer serves no wallet orders yet" }));
      return;
    }
    const counts = w.counts || {};
    const names = ["pending", "open", "cancel_requested", "filled", "closed"];
    for (const k of Object.keys(counts)) if (!names.includes(k)) names.push(k);
    const max = Math.max(1, ...names.map((k) => counts[k] || 0));
    box.replaceChildren(...names.flatMap((k) => [
      el("span", { text: k.replace("_", " ") }),
      el("span", { class: "bar", "aria-hidden": "true" }, el("span", { style: `width:${(100 * (counts[k] || 0)) / max}%` })),
      el("span", { class: "mono", "data-state": k, text: counts[k] || 0 })]));
    const waiting = (w.orders || []).filter((o) => o.status === "cancel_requested");
    const rows = waiting.map((o) => {
      const left = o.force_close_slot === null || o.force_close_slot === undefined ? null : Number(o.force_close_slot) - Number(w.slot);
      const frac = left === null ? 1 : Math.max(0, Math.min(1, left / Math.max(1, Number(w.force_close_slots))));
      const cls = left !== null && left <= 0 ? "deadline past" : frac < 0.25 ? "deadline near" : "deadline";
      return el("tr", { "data-order": o.order },
        el("td", { title: o.order }, el("div", { class: "mono", text: String(o.order).slice(0, 10) + "…" }),
          el("div", { class: "hint", text: o.ticker })),
        el("td", { text: o.cancel_requested_slot }),
        el("td", {}, el("div", { class: cls }, el("span", { class: "bar", "aria-hidden": "true" }, el("span", { style: `width:${frac * 100}%` })),
          el("span", { title: "after the deadline the wallet may force-close the order and take its escrow back",
            text: left === null ? "–" : left <= 0 ? "past deadline" : `${left} slots left` }))));
    });
    $("wallet-body").replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 3, text: "none waiting" }))]));
    $("panel-wallet").classList.toggle("has-break", (state.recon?.breaks || []).some((b) => cellOf(b.kind) === "wallet"));
  }

  function renderProof() {
    const p = state.proof;
    if (!p) { $("proof-summary").textContent = "no proof epoch yet"; $("proof-body").replaceChildren(); return; }   // 404 before the first
    const when = p.time_ms ? new Date(p.time_ms).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
    $("proof-summary").textContent = `epoch ${p.epoch} at slot ${p.slot}${when ? " · " + when : ""}`;
    $("proof-body").replaceChildren(...(p.roots || []).map((r) => {
      const cash = r.asset === "cash";
      const backed = big(r.sum) <= big(r.custody_balance);
      return el("article", { class: "tree" + (backed ? "" : " is-bad"), "data-tree": `${r.ticker ?? "cash"}:${r.asset}`,
        title: "held against custody account " + r.custody_account },
        el("h3", { text: cash ? "cash" : `${r.ticker} · ${String(r.asset).toUpperCase()}` }),
        el("div", { class: "mono", title: r.hash, text: "root " + String(r.hash).slice(0, 16) + "… · " + (r.leaves ?? "?") + " leaves" }),
        // The RPC may not serve balances at a past slot: then the current balance stood in, and we say so.
        r.custody_balance_historical === false ? el("div", { class: "hint", text: "custody read now, not at the epoch's slot" }) : null,
        gauge(backed ? "ok" : "bad", backed ? "✓ sum ≤ custody" : "✗ sum > custody", [
          { label: "root sum", field: "sum", value: r.sum },
          { label: "custody", field: "custody_balance", value: r.custody_balance }], cash ? dollars : units));
    }));
    $("panel-proof").classList.toggle("has-break", (p.roots || []).some((r) => big(r.sum) > big(r.custody_balance)));
  }

  // ---------- charts (uPlot) ----------
  const charts = {};
  function chartOpts(id, series, height) {
    const box = $(id);
    return { width: Math.max(280, box.clientWidth), height, series: [{}, ...series],
      // whole seconds at least on the time axis (uPlot would otherwise tick at 0.5 s on a young page)
      axes: [{ incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400] }, { size: 60 }], legend: { live: false }, cursor: { drag: { x: false, y: false } } };
  }
  function makeChart(key, id, series, height) {
    if (charts[key]) charts[key].destroy();
    charts[key] = new uPlot(chartOpts(id, series, height), [[]].concat(series.map(() => [])), $(id));
  }
  const line = (label, stroke, dash) => ({ label, stroke, width: 2, dash, points: { show: false } });
  function setupCharts() {
    const sel = $("history-select").value;
    makeChart("history", "chart-history", sel === ""
      ? [line("custody $", "#2457c5"), line("ledger $", "#8a5cc2", [6, 4])]
      : [line("custody YES", "#2457c5"), line("ledger YES", "#8a5cc2", [6, 4]),
         line("custody NO", "#146c2e"), line("ledger NO", "#d08b00", [6, 4])], 240);
    if (!charts.lag) makeChart("lag", "chart-lag", [line("seqs behind", "#a4161a")], 150);
    if (!charts.landed) makeChart("landed", "chart-landed", [line("landed / min", "#3a7d8c")], 150);
  }
  function drawCharts() {
    const s = state.samples, sel = $("history-select").value, t = s.map((x) => x.t);
    if (sel === "") charts.history.setData([t, s.map((x) => num(x.cash?.custody)), s.map((x) => num(x.cash?.ledger))]);
    else {
      const m = (x) => x.markets[sel] || {};
      charts.history.setData([t, s.map((x) => num(m(x).custody_yes)), s.map((x) => num(m(x).ledger_yes)),
        s.map((x) => num(m(x).custody_no)), s.map((x) => num(m(x).ledger_no))]);
    }
    charts.lag.setData([t, s.map((x) => x.lag)]);
    charts.landed.setData([t, s.map((_, i) => rateAt(i))]);
  }
  function syncSelect() {
    const sel = $("history-select"), have = new Set([...sel.options].map((o) => o.value));
    for (const m of state.recon?.markets || []) if (!have.has(m.ticker)) sel.append(el("option", { value: m.ticker, text: m.ticker }));
  }

  // ---------- data in ----------
  function sampleOf(r, tMs, landed) {
    const markets = {};
    for (const m of r.markets || []) markets[m.ticker] = m;
    const lag = (r.markets || []).reduce((s, m) => s + Number(m.outbox_seq ?? 0) - Number(m.applied_seq ?? 0), 0);
    return { t: tMs / 1000, slot: r.slot, cash: r.cash, markets, lag, landed };
  }
  function pushSample(smp) {
    const s = state.samples, last = s[s.length - 1];
    if (last && smp.t <= last.t) return;
    s.push(smp);
    if (s.length > HISTORY_MAX) s.splice(0, s.length - HISTORY_MAX);
  }
  function applyRecon(r) {
    if (!r || !Array.isArray(r.markets)) return;
    state.recon = { ...r, breaks: r.breaks || [] };
    state.reconAt = Date.now();
    pushSample(sampleOf(state.recon, state.reconAt, landedTotal()));
    syncSelect();
    renderAll();
  }
  function renderAll() {
    renderStatus();
    if (!state.recon) return;
    renderMarkets(); renderCash(); renderBreaks(); renderLag(); renderLanded(); renderWallet(); renderProof();
    drawCharts();
    document.body.dataset.slot = state.recon.slot;   // lets a test wait for a given slot
  }

  async function loadHistory() {
    try {
      const h = await getJSON("/v1/breaks?limit=50");
      for (const b of (h?.breaks || []).slice().reverse()) if (b.cleared_slot !== null && b.cleared_slot !== undefined) noteCleared(b);
    } catch (e) { console.warn("breaks:", e); }
    try {
      const h = await getJSON("/v1/reconciliation/history?limit=" + HISTORY_MAX);
      for (const x of h?.samples || []) {
        const landed = x.landed_total ?? (x.markets || []).reduce((s, m) => s + Number(m.applied_seq || 0), 0);
        pushSample(sampleOf(x, x.time_ms, landed));
      }
    } catch (e) { console.warn("history:", e); }
  }

  const OTHERS = { bridge: "/v1/bridge", wallet_orders: "/v1/wallet_orders", proof_epoch: "/v1/proof/latest" };
  const SET = { bridge: (v) => (state.bridge = v), wallet_orders: (v) => (state.wallet = v), proof_epoch: (v) => (state.proof = v) };
  async function poll() {
    const now = Date.now();
    const jobs = Object.entries(OTHERS).filter(([name]) => !(now - (state.pushed[name] || 0) < POLL_MS * 2))
      .map(async ([name, path]) => { try { SET[name](await getJSON(path)); } catch (e) { console.warn(e); } });
    if (!(now - (state.pushed.reconciliation || 0) < POLL_MS * 2)) {
      jobs.push((async () => {
        try { const r = await getJSON("/v1/reconciliation"); state.reconPending = r === null; applyRecon(r); } catch (e) { console.warn(e); }
      })());
    }
    await Promise.all(jobs);
    renderAll();
  }

  function follow() {
    if (!window.EventSource) { state.feed = "polling"; return; }
    const es = new EventSource("/v1/stream");
    es.onopen = () => { state.feed = "live"; renderStatus(); };
    es.onerror = () => { state.feed = "polling (stream down)"; renderStatus(); };
    const on = (name, fn) => es.addEventListener(name, (ev) => {
      state.pushed[name] = Date.now();
      try { fn(JSON.parse(ev.data)); } catch (e) { console.warn(name, e); }
    });
    on("reconciliation", applyRecon);
    for (const name of Object.keys(OTHERS)) on(name, (v) => { SET[name](v); renderAll(); });
    on("break", (b) => { if (b.state === "cleared") { noteCleared({ ...b, cleared_slot: b.slot }); renderCleared(); } });
  }

  async function main() {
    setupCharts();
    $("history-select").addEventListener("change", () => { setupCharts(); drawCharts(); });
    window.addEventListener("resize", () => { for (const c of Object.values(charts)) c.setSize({ width: Math.max(280, c.root.parentNode.clientWidth), height: c.height }); });
    await loadHistory();
    await poll();
    follow();
    setInterval(poll, POLL_MS);
    setInterval(renderStatus, 1000);   // ages and staleness move even when no data does
  }
  window.tandemDashboard = { state, charts };   // for a debugging console and the browser test
  document.addEventListener("DOMContentLoaded", main);
})();
