"""`tandem up`: start every part on the embedded defaults and keep them running until Ctrl-C.

Each part runs as its own `tandem <part>` process (the same commands an operator
would run by hand), so `up` is only a supervisor: start in dependency order,
wait until each is ready, stop them all when one dies or on Ctrl-C.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
from rich.console import Console

from tandem.settings import Settings


@dataclass
class Part:
    name: str
    args: list[str]
    ready_url: str | None = None  # polled until it answers; None: ready when started
    ready_json: dict | None = None  # POSTed to ready_url (JSON-RPC health check)
    essential: bool = True  # when it exits, everything stops (the demo traffic is not)
    to_log_file: bool = False  # its output goes to TANDEM_HOME/logs/NAME.log, not the console
    proc: subprocess.Popen | None = field(default=None, repr=False)


def _tandem(*args: str) -> list[str]:
    return [sys.executable, "-m", "tandem.cli", *args]


UP_FIX_PORT = 8230  # `up` always serves FIX (DESIGN.md, Command line); TANDEM_FIX_PORT moves it


def fix_port(settings: Settings) -> int:
    return settings.fix_port or UP_FIX_PORT


def parts(settings: Settings, *, demo: bool = True) -> list[Part]:
    """What `up` runs, in start order. The demo market is created in the exchange; the bridge
    mirrors it onto the chain, the indexer follows and reconciles both, `demo` trades in it."""
    rpc = f"http://127.0.0.1:{settings.localnet_port}"
    running = [
        # The native program's msg! lines go to localnet's stdout, one per instruction: to a file.
        Part("localnet", _tandem("localnet", "--port", str(settings.localnet_port)), rpc,
             {"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, to_log_file=True),
        Part("api", _tandem("api", "--port", str(settings.api_port), "--fix-port", str(fix_port(settings))),
             f"http://{settings.api_host}:{settings.api_port}/trade-api/v2/exchange/status"),
        Part("bridge", _tandem("bridge")),
        Part("indexer", _tandem("indexer", "--port", str(settings.indexer_port)),
             f"http://{settings.indexer_host}:{settings.indexer_port}/"),
    ]
    if demo:
        running.append(Part("demo", _tandem("demo", "--loop"), essential=False))
    return running


def _wait_ready(part: Part, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if part.proc is not None and part.proc.poll() is not None:
            raise RuntimeError(f"{part.name} exited with code {part.proc.returncode} while starting")
        if part.ready_url is None:
            return
        try:
            if part.ready_json is not None:
                response = httpx.post(part.ready_url, json=part.ready_json, timeout=1.0)
            else:
                response = httpx.get(part.ready_url, timeout=1.0)
            if response.status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{part.name} not ready after {timeout_s:.0f} s ({part.ready_url})")


def _ensure_exchange_market(ticker: str, env: dict[str, str]) -> None:
    """The demo market on the custodial side too, before the API loads its books."""
    close = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))
    done = subprocess.run(_tandem("market", "create", ticker, "--title", "Demo market", "--close", close),
                          env=env, capture_output=True, text=True)
    if done.returncode != 0 and "already exists" not in done.stderr:
        raise RuntimeError(f"creating the demo market failed: {done.stderr.strip()}")


def _stop(running: list[Part]) -> None:
    """Stop the parts in reverse start order, each before the next, so none logs the loss of
    one it depends on (the indexer its chain, the bridge its API)."""
    for part in reversed(running):
        if part.proc is None or part.proc.poll() is not None:
            continue
        part.proc.send_signal(signal.SIGINT)
        try:
            part.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            part.proc.kill()
            part.proc.wait()


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _child_signals() -> None:
    """In each part: SIGINT back to its default (a shell's background job inherits it ignored,
    and then Python would never turn it into KeyboardInterrupt for a clean stop)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(settings: Settings, console: Console, demo_ticker: str = "DEMO-YES", *, demo: bool = True) -> int:
    # Ctrl-C, and SIGTERM from a service manager or `kill`, both stop every part before `up` exits.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = {**os.environ, "RPC_URL": f"http://127.0.0.1:{settings.localnet_port}"}
    running: list[Part] = []
    try:
        for part in parts(settings, demo=demo):
            console.print(f"[bold]starting {part.name}[/]: {' '.join(part.args[2:])}")
            output = None
            if part.to_log_file:
                logs = settings.tandem_home / "logs"
                logs.mkdir(parents=True, exist_ok=True)
                output = (logs / f"{part.name}.log").open("ab")
                console.print(f"  its output: {logs / (part.name + '.log')}")
            part.proc = subprocess.Popen(part.args, env=env, stdout=output, stderr=subprocess.STDOUT if output else None,
                                         preexec_fn=_child_signals)
            running.append(part)
            # localnet may have to be compiled first on a fresh machine.
            _wait_ready(part, timeout_s=1800 if part.name == "localnet" else 120)
            if part.name == "localnet":
                # The exchange on chain (collateral mint, authorities); the demo market is the
                # exchange's, and reaches the chain through the bridge like any other.
                subprocess.run(_tandem("chain", "init", "--no-demo"), env=env, check=True)
                _ensure_exchange_market(demo_ticker, env)
        console.print("[green]Tandem is up.[/] Ctrl-C stops everything.")
        console.print(f"  Solana JSON-RPC  http://127.0.0.1:{settings.localnet_port}")
        console.print(f"  Kalshi API       http://{settings.api_host}:{settings.api_port}/trade-api/v2  (docs: /docs)")
        console.print(f"  FIX (TLS)        {settings.fix_host}:{fix_port(settings)}  (TargetCompID KalshiRT, KalshiNR, KalshiMD)")
        console.print(f"  Dashboard        [bold]http://{settings.indexer_host}:{settings.indexer_port}/[/]  "
                      f"(reconciliation: /v1/reconciliation)")
        essential = [p for p in running if p.essential]
        told: set[str] = set()
        while all(p.proc is not None and p.proc.poll() is None for p in essential):
            for p in running:
                if not p.essential and p.name not in told and p.proc is not None and p.proc.poll() is not None:
                    console.print(f"[yellow]{p.name} exited with code {p.proc.returncode}; the rest keeps running[/]")
                    told.add(p.name)
            time.sleep(0.5)
        dead = next(p for p in essential if p.proc is not None and p.proc.poll() is not None)
        console.print(f"[red]{dead.name} exited with code {dead.proc.returncode}; stopping the rest[/]")
        return 1
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    finally:
        _stop(running)
