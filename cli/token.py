"""`termsvc token issue|revoke|list`: opaque bearer tokens for a single machine, without an OAuth server.
The token is printed once; the store keeps only its sha256."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from termsvc.errors import TermsvcError

app = typer.Typer(help="Issue, list and revoke local bearer tokens (SMART system scopes).",
                  no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _engine() -> Engine:
    # imported here: cli.main imports this module to register it
    from termsvc.cli.main import _ensure_schema, state
    from termsvc.store.engine import make_engine

    _ensure_schema()
    return make_engine(state.settings.database_url, pool_size=1)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@app.command("issue")
def issue(
    name: Annotated[str, typer.Option("--name", help="Who the token is for (shown in the audit trail).")],
    scope: Annotated[str, typer.Option("--scope", help='Space-separated SMART scopes, e.g. "system/*.cud".')],
    expires_in: Annotated[float | None, typer.Option("--expires-in", help="Days until it expires.")] = None,
) -> None:
    """Issue a token and print it (once: it cannot be shown again)."""
    from termsvc.auth import tokens

    engine = _engine()
    try:
        token = tokens.issue(engine, name, scope, expires_in_days=expires_in)
    except TermsvcError as exc:
        raise _fail(exc.message) from None
    finally:
        engine.dispose()
    err_console.print(f"token for {name!r} (shown once; send as 'Authorization: Bearer <token>'):")
    print(token)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    from termsvc.auth import tokens

    engine = _engine()
    try:
        tokens.revoke(engine, name)
    except TermsvcError as exc:
        raise _fail(exc.message) from None
    finally:
        engine.dispose()
    console.print(f"revoked {name!r}")


@app.command("list")
def list_tokens() -> None:
    """List tokens (names, scopes, dates, state; never the tokens themselves)."""
    from termsvc.auth import tokens

    engine = _engine()
    try:
        found = tokens.list_tokens(engine)
    finally:
        engine.dispose()
    table = Table("name", "scopes", "created", "expires", "state")
    for info in found:
        table.add_row(info.name, " ".join(info.scopes), f"{info.created_at:%Y-%m-%d %H:%M}",
                      f"{info.expires_at:%Y-%m-%d %H:%M}" if info.expires_at else "never", info.state)
    console.print(table)
