"""`tandem`: the one command line operators and scripts rely on (DESIGN.md, Command line).

Each command is a thin shell over the part that owns the work; parts register
their commands here as they land.
"""
from __future__ import annotations

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


if __name__ == "__main__":  # pragma: no cover
    app()
