"""`tandem`: the one command line operators and scripts rely on (DESIGN.md, Command line).

Each command is a thin shell over the part that owns the work; parts register
their commands here as they land.
"""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Tandem: a hybrid prediction-market venue.", no_args_is_help=True)
user_app = typer.Typer(help="Custodial users.", no_args_is_help=True)
key_app = typer.Typer(help="Kalshi-style API keys.", no_args_is_help=True)
market_app = typer.Typer(help="Markets.", no_args_is_help=True)
chain_app = typer.Typer(help="The Solana side: collateral mint, exchange, demo market.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
app.add_typer(market_app, name="market")
app.add_typer(chain_app, name="chain")

console = Console()
err = Console(stderr=True)


@app.command()
def version() -> None:
    """Print the version."""
    from importlib.metadata import version as v

    console.print(v("tandem"))


# -- custodial exchange (tandem/admin.py does the work) ---------------------------------
def _exchange(action):
    """Run an operator action; exchange errors become a one-line message and exit code 1."""
    from exchange import errors
    from tandem import admin

    svc = admin.service()
    try:
        return action(admin, svc)
    except errors.ExchangeError as exc:
        err.print(f"error: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        svc.close()


@user_app.command("create")
def user_create(name: str) -> None:
    """Create a custodial user; prints its id."""
    typer.echo(_exchange(lambda admin, svc: svc.create_user(name).id))


@key_app.command("create")
def key_create(user: str = typer.Option(..., "--user"), out: Path = typer.Option(..., "--out")) -> None:
    """Create a Kalshi-style API key: writes the RSA private key to OUT, prints the key id."""
    typer.echo(_exchange(lambda admin, svc: admin.create_key(svc, user, out)))


@app.command()
def fund(user: str = typer.Option(..., "--user"), cents: int = typer.Option(..., "--cents")) -> None:
    """An operator cash deposit to a custodial user; prints the new balance in cents."""
    balance = _exchange(lambda admin, svc: svc.fund(admin.user_id(svc, user), cents=cents))
    typer.echo(balance.cash // 10_000)


@market_app.command("create")
def market_create(ticker: str, title: str = typer.Option(..., "--title"), close: str = typer.Option(..., "--close")) -> None:
    """Create a market (and its event and series, named after it)."""
    view = _exchange(lambda admin, svc: svc.create_market(ticker, title=title, close_ms=admin.parse_close(close)))
    typer.echo(view.ticker)


# -- the exchange API (api/ does the work) --------------------------------------------------
@app.command()
def api(
    port: int = typer.Option(None, "--port", help="Port (default TANDEM_API_PORT or 8000)."),
    host: str = typer.Option(None, "--host", help="Interface (default TANDEM_API_HOST or 127.0.0.1)."),
    fix_port: int = typer.Option(None, "--fix-port", help="Also serve FIX (TLS) on this port (default TANDEM_FIX_PORT; unset: no FIX)."),
    cert: Path = typer.Option(None, "--cert", help="FIX TLS certificate, PEM (default TANDEM_FIX_CERT, else one generated under TANDEM_HOME/fix)."),
    key: Path = typer.Option(None, "--key", help="FIX TLS private key, PEM (default TANDEM_FIX_KEY)."),
) -> None:
    """The exchange API: REST under /trade-api/v2, WebSocket at /trade-api/ws/v2, docs at /docs; FIX with --fix-port."""
    import uvicorn

    from api.app import create_app
    from indexer.epochs import latest_proof
    from tandem.settings import get_settings

    settings = get_settings()
    companions = []
    fix_port = fix_port or settings.fix_port
    if fix_port:
        from tandem.fix_gateway import companion

        cert, key = cert or settings.fix_cert, key or settings.fix_key
        if (cert is None) != (key is None):
            err.print("error: give both --cert and --key (or neither: a self-signed pair is generated)")
            raise typer.Exit(2)
        companions.append(companion(settings.fix_host, fix_port, settings.tandem_home, settings.api_auth_window_ms,
                                    cert, key))
    # One process: it owns the in-memory books of the exchange (exchange/service.py). The
    # API serves clients directly (no proxy headers to trust) and says nothing of its server.
    uvicorn.run(create_app(settings, proof_reader=latest_proof, companions=companions),
                host=host or settings.api_host, port=port or settings.api_port,
                log_level="warning", access_log=False, proxy_headers=False, server_header=False)


# -- the chain (chain/ does the work) ------------------------------------------------------
@app.command()
def localnet(
    port: int = typer.Option(None, "--port", help="JSON-RPC port (default TANDEM_LOCALNET_PORT or 8899)."),
    slot_ms: int = typer.Option(None, "--slot-ms", help="Slot duration in milliseconds."),
    finality_lag: int = typer.Option(None, "--finality-lag", help="Slots by which finalized trails confirmed."),
    upgrade_authority: str = typer.Option(
        None, "--upgrade-authority",
        help="The program's upgrade authority, the only key that may initialize the exchange (default: TANDEM_HOME's admin key).",
    ),
) -> None:
    """The local chain: outcome_market in a real Solana runtime, Solana JSON-RPC on 127.0.0.1."""
    import os

    from chain import localnet as ln
    from chain.keys import load_or_create
    from tandem.settings import get_settings

    try:
        binary = ln.ensure_binary()
    except ln.LocalnetError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    settings = get_settings()
    # as `anchor localnet` deploys with the provider wallet: the admin who will run `tandem chain init`
    authority = upgrade_authority or load_or_create(settings.keys_dir, "admin").pubkey()
    cmd = ln.command(binary, port or settings.localnet_port, slot_ms, finality_lag, authority)
    os.execv(cmd[0], cmd)  # the chain becomes this process: Ctrl-C and signals reach it directly


@chain_app.command("init")
def chain_init(
    demo_ticker: str = typer.Option("DEMO-YES", "--demo-ticker", help="Ticker of the demo market."),
    no_demo: bool = typer.Option(False, "--no-demo", help="Skip the demo market."),
) -> None:
    """Create the collateral mint (localnet), the exchange and a demo market; safe to run again."""
    import asyncio

    from rich.progress import Progress, SpinnerColumn, TextColumn
    from solana.exceptions import SolanaRpcException

    from chain.errors import ChainError
    from chain.setup import init_from_settings
    from tandem.settings import get_settings

    settings = get_settings()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as progress:
        task = progress.add_task(f"chain init on {settings.rpc_url}", total=None)

        def on_step(name: str, outcome: str) -> None:
            mark = "[green]created[/]" if outcome == "created" else "[dim]exists[/]"
            progress.console.print(f"  {name}: {mark}")

        try:
            setup = asyncio.run(init_from_settings(settings, demo_ticker=None if no_demo else demo_ticker, on_step=on_step))
        except (ChainError, ValueError) as exc:
            err.print(f"error: {exc}", soft_wrap=True)
            raise typer.Exit(1) from None
        except SolanaRpcException as exc:  # solana-py's wrapper of transport errors
            cause = exc.__cause__ or exc.__context__
            err.print(f"error: cannot reach RPC_URL {settings.rpc_url} ({type(cause).__name__ if cause else exc}); is `tandem localnet` running?", soft_wrap=True)
            raise typer.Exit(1) from None
        progress.update(task, description="chain init done")
    for label, key in [
        ("admin", setup.keys.admin.pubkey()), ("bridge", setup.keys.bridge.pubkey()), ("resolver", setup.keys.resolver.pubkey()),
        ("collateral mint", setup.collateral_mint), ("treasury", setup.treasury),
    ]:
        console.print(f"{label:>15} {key}", soft_wrap=True)


# -- the bridge (bridge/ does the work) --------------------------------------------------
@app.command()
def bridge(
    lookup_tables: bool = typer.Option(None, "--lookup-tables/--no-lookup-tables",
                                       help="v0 transactions with a lookup table per market (default TANDEM_BRIDGE_LOOKUP_TABLES)."),
) -> None:
    """Mirror the outbox onto Solana exactly once (and run the relays plugged into the bridge)."""
    import asyncio
    import logging

    from bridge.relay import RelayConfig, api_reverter, relay_task
    from bridge.runner import BridgeConfig, run_bridge
    from exchange.outbox_reader import OutboxReader
    from tandem.settings import get_settings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    overrides = {} if lookup_tables is None else {"lookup_tables": lookup_tables}
    settings = get_settings()
    api = RelayConfig.from_settings(settings)  # the API process owns the books: ledger changes go through it
    relay = relay_task(api)  # chain -> CLOB: wallet orders, deposits
    reader = OutboxReader.open(settings.db_url, reverter=api_reverter(api))
    try:
        asyncio.run(run_bridge(BridgeConfig.from_settings(settings, **overrides), tasks=[relay], reader=reader))
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()


# -- the indexer (indexer/ does the work) ---------------------------------------------------
@app.command()
def indexer(
    port: int = typer.Option(None, "--port", help="HTTP port (default TANDEM_INDEXER_PORT or 8001); serves the dashboard at /."),
    host: str = typer.Option(None, "--host", help="Interface (default TANDEM_INDEXER_HOST or 127.0.0.1)."),
) -> None:
    """Follow the program, reconcile it with the ledger every finalized slot, serve /v1/reconciliation and the dashboard."""
    import logging

    from indexer.app import run_indexer
    from indexer.service import IndexerConfig
    from tandem.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per RPC call otherwise
    try:
        run_indexer(IndexerConfig.from_settings(get_settings(), port=port, host=host))
    except KeyboardInterrupt:
        pass


# -- proof of backing (indexer/verify.py does the work) ----------------------------------
@app.command("verify-proof")
def verify_proof(
    file: Path,
    rpc_url: str = typer.Option(None, "--rpc-url", help="Solana JSON-RPC (default RPC_URL)."),
    offline: bool = typer.Option(False, "--offline", help="Check the proof's path only; do not read the chain."),
) -> None:
    """Check a proof of backing: its path to the root offline, then root.sum against custody's balance on chain."""
    from indexer import verify
    from tandem.settings import get_settings

    settings = get_settings()
    report = verify.run(file, rpc_url=None if offline else (rpc_url or settings.rpc_url),
                        program_id=verify.default_program_id(settings.program_id))
    verify.render(report, file, console)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def up(
    demo_ticker: str = typer.Option("DEMO-YES", "--demo-ticker", help="Ticker of the demo market."),
    demo: bool = typer.Option(True, "--demo/--no-demo", help="Run `tandem demo --loop` once everything is up."),
) -> None:
    """Everything `make run` starts: localnet, API, bridge, indexer with the dashboard, a demo market
    (and demo traffic); Ctrl-C stops all."""
    from tandem import up as supervisor
    from tandem.settings import get_settings

    raise typer.Exit(supervisor.run(get_settings(), console, demo_ticker=demo_ticker, demo=demo))


@app.command("demo")
def demo_traffic(
    ticker: str = typer.Option("DEMO-YES", "--ticker", help="The market to trade in."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Rounds of trading (without --loop)."),
    loop: bool = typer.Option(False, "--loop", help="Trade until stopped."),
    pause: float = typer.Option(3.0, "--pause", help="Seconds between rounds."),
) -> None:
    """Scripted traffic against a running `tandem up`: custodial traders (Kalshi SDK), a wallet trader,
    a deposit and a withdrawal."""
    import asyncio

    from tandem import demo
    from tandem.settings import get_settings

    try:
        raise typer.Exit(asyncio.run(demo.run(get_settings(), console, ticker=ticker, rounds=rounds, loop=loop, pause_s=pause)))
    except KeyboardInterrupt:
        pass
    except (RuntimeError, OSError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None


if __name__ == "__main__":  # pragma: no cover
    app()
