"""What the bridge is doing, without flooding: on a terminal one status line refreshed in place
(Rich), otherwise (a log file, `tandem up`'s pipe) one line every few seconds, and only when
something changed."""
from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.live import Live
from rich.text import Text


def summary(rows: list[dict]) -> str:
    """'pending 12 · in flight 3 tx/40 · landed 812 tx/9,214 · DEMO-YES 0/2/1,000 · …'"""
    pending = sum(r["pending"] for r in rows)
    txs = sum(r["in_flight_txs"] for r in rows)
    seqs = sum(r["in_flight_seqs"] for r in rows)
    landed_txs = sum(r["landed_txs"] for r in rows)
    landed = sum(r["landed_seqs"] for r in rows)
    parts = [f"bridge: {len(rows)} streams", f"pending {pending:,}", f"in flight {txs} tx/{seqs:,}",
             f"landed {landed_txs:,} tx/{landed:,}"]
    expired = sum(r["expired"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    reverted = sum(r["reverted"] for r in rows)
    if expired or failed or reverted:
        parts.append(f"expired {expired} failed {failed} reverted {reverted}")
    busiest = sorted(rows, key=lambda r: -(r["pending"] + r["in_flight_seqs"]))[:3]
    for r in busiest:
        if r["pending"] or r["in_flight_seqs"]:
            parts.append(f"{r['stream']} {r['pending']}/{r['in_flight_seqs']}@{r['applied_seq']}")
    errors = [r for r in rows if r["last_error"] and r["blocked"]]
    if errors:
        parts.append(f"[{errors[0]['stream']}: {errors[0]['last_error'][:80]}]")
    return " · ".join(parts)


async def run_console(bridge, *, every: float = 0.5, log_every: float = 5.0) -> None:
    out = Console(stderr=True)
    if sys.stderr.isatty():
        with Live(Text(""), console=out, refresh_per_second=4, transient=False) as live:
            while True:
                live.update(Text(summary(bridge.status())))
                await asyncio.sleep(every)
    last = None
    while True:
        line = summary(bridge.status())
        if line != last:
            out.print(line, highlight=False, soft_wrap=True)
            last = line
        await asyncio.sleep(log_every)
