"""termsvc: load terminologies, serve the FHIR API, manage the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from termsvc.cli import demo, token, workbench
from termsvc.errors import LoadError, TermsvcError
from termsvc.settings import BadSetting, Settings

app = typer.Typer(
    name="termsvc",
    help="A FHIR R4 terminology mapping and validation service.\n\n"
         "Load LOINC, SNOMED CT, RxNorm, ICD-10-CM and FHIR packages into a store (SQLite by default, "
         "PostgreSQL by URL) and serve $lookup, $validate-code, $translate and $expand over FHIR R4.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token.app, name="token")
app.add_typer(workbench.app, name="workbench")

console = Console()
err_console = Console(stderr=True)


# loaders whose `strict` option can be turned off from the command line
LENIENT_KINDS = ("snomed", "rxnorm", "fhir")
# options only some loaders take: flag -> (the loader's option, the kinds that take it)
KIND_OPTIONS = {"--order-file": ("order_file", ("icd10cm",)), "--module": ("module", ("snomed",)),
                "--version-date": ("effective_time", ("snomed",)), "--experimental": ("experimental", ("snomed",)),
                "--base": ("base", ("snomed",))}


class State:
    settings: Settings = Settings.defaults()


state = State()


@app.callback()
def main_options(
    db: Annotated[str | None, typer.Option("--db", envvar="TERMSVC_DATABASE_URL",
                                           help="Database URL: sqlite:///path.db or postgresql://user@host/db. "
                                                "Default: a SQLite file in your user data directory.")] = None,
) -> None:
    state.settings = Settings.from_env(database_url=db)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the store or bring its schema up to date (Alembic migrations)."""
    from termsvc.store.schema import upgrade

    upgrade(state.settings.database_url)
    console.print(f"store is up to date: {state.settings.database_url}")


def _ensure_schema() -> None:
    from termsvc.store.engine import make_engine
    from termsvc.store.schema import is_up_to_date, upgrade

    engine = make_engine(state.settings.database_url, pool_size=1)
    try:
        if not is_up_to_date(engine):
            upgrade(state.settings.database_url)
    finally:
        engine.dispose()


@app.command()
def load(
    kind: Annotated[str, typer.Argument(help="What to load: icd10cm, loinc, snomed, rxnorm or fhir.")],
    path: Annotated[Path, typer.Argument(help="The release file, folder, zip or FHIR package (.tgz).",
                                         exists=True)],
    replace: Annotated[bool, typer.Option("--replace", help="Replace a version that is already loaded "
                                                             "(otherwise reloading it is refused).")] = False,
    current: Annotated[bool | None, typer.Option("--current/--not-current",
                                                 help="Make this version current (default: the latest "
                                                      "version becomes current).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    version: Annotated[str | None, typer.Option("--version", help="The release's version, for releases whose "
                                                                  "files and name do not say (LOINC); snomed: a "
                                                                  "version URI http://snomed.info/sct/{module}/"
                                                                  "version/{YYYYMMDD} (xsct: experimental) or "
                                                                  "a version date.")] = None,
    module: Annotated[str | None, typer.Option("--module", help="snomed: the edition's module id (default: the "
                                               "extension's main module, else International "
                                               "900000000000207008).")] = None,
    version_date: Annotated[str | None, typer.Option("--version-date", help="snomed: the version date YYYYMMDD "
                                                     "(default: the date in the release's file names).")] = None,
    experimental: Annotated[bool, typer.Option("--experimental", help="snomed: test or pre-release content, "
                                               "versioned http://snomed.info/xsct/{module}/version/{date}."
                                               )] = False,
    base: Annotated[list[Path] | None, typer.Option("--base", exists=True, help="snomed: the edition an "
                                                    "extension depends on (repeatable); its packages load into "
                                                    "the extension's version.")] = None,
    order_file: Annotated[Path | None, typer.Option("--order-file", exists=True, help="icd10cm: cross-check the "
                                                    "tabular XML against this CMS order file and report "
                                                    "disagreements.")] = None,
    lenient: Annotated[bool, typer.Option("--lenient", help="snomed, rxnorm, fhir: skip and count rows that "
                                          "name unknown concepts (subset releases, test fixtures) instead of "
                                          "failing the load.")] = False,
) -> None:
    """Load a release into the store, atomically: on any error the store stays as it was."""
    from termsvc.cli.progress import RichProgress
    from termsvc.loaders.base import NullProgress
    from termsvc.loaders.registry import LOADERS
    from termsvc.ops.loading import run_load
    from termsvc.store.engine import make_engine

    if kind not in LOADERS:
        raise fail(f"unknown kind {kind!r}; choose one of: {', '.join(LOADERS)}", 2)
    given = {"--order-file": order_file, "--module": module, "--version-date": version_date,
             "--experimental": experimental or None, "--base": base or None}
    options: dict[str, object] = {} if current is None else {"current": current}
    for flag, value in given.items():
        if value is None:
            continue
        name, kinds = KIND_OPTIONS[flag]
        if kind not in kinds:
            raise fail(f"{flag} applies to {', '.join(kinds)}, not {kind}", 2)
        options[name] = value
    if version is not None:
        options["version"] = version
    if lenient:
        if kind not in LENIENT_KINDS:
            raise fail(f"--lenient applies to {', '.join(LENIENT_KINDS)}, not {kind}", 2)
        options["strict"] = False
    _ensure_schema()
    engine = make_engine(state.settings.database_url, pool_size=1)
    try:
        if quiet:
            summary = run_load(engine, kind, path, replace=replace, progress=NullProgress(), **options)
        else:
            with RichProgress(err_console) as progress:
                summary = run_load(engine, kind, path, replace=replace, progress=progress, **options)
    except LoadError as exc:
        raise fail(f"load failed, store unchanged: {exc}") from None
    except TermsvcError as exc:
        raise fail(f"load refused, store unchanged: {exc.message}") from None
    finally:
        engine.dispose()
    console.print(f"[green]loaded[/] {kind} from {path} (load {summary.load_id}) in "
                  f"{summary.timings.get('total', 0):.1f}s")
    for name, count in summary.counts.items():
        if not name.startswith("rows:"):
            console.print(f"  {name}: {count:,}")


@app.command("loads")
def list_loads(
    load_id: Annotated[int | None, typer.Argument(help="Show one load record in full.")] = None,
) -> None:
    """The load records: when, what, source checksums, counts and timings."""
    from termsvc.store.engine import make_engine

    _ensure_schema()
    engine = make_engine(state.settings.database_url, pool_size=1)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT load_id, kind, source, status, started_at, finished_at, checksums_json, "
                                 "counts_json, timings_json FROM load_run ORDER BY load_id")).all()
    engine.dispose()
    if load_id is not None:
        row = next((r for r in rows if r.load_id == load_id), None)
        if row is None:
            raise fail(f"no load {load_id}")
        console.print_json(json.dumps({
            "load_id": row.load_id, "kind": row.kind, "source": row.source, "status": row.status,
            "started_at": str(row.started_at), "finished_at": str(row.finished_at),
            "checksums": json.loads(row.checksums_json or "{}"), "counts": json.loads(row.counts_json or "{}"),
            "timings": json.loads(row.timings_json or "{}")}))
        return
    table = Table("load", "kind", "source", "status", "finished", "seconds")
    for row in rows:
        timings = json.loads(row.timings_json or "{}")
        table.add_row(str(row.load_id), row.kind, row.source, row.status, str(row.finished_at or ""),
                      f"{timings.get('total', 0):.1f}")
    console.print(table)


# uvloop where it exists (not on Windows); httptools everywhere (both are dependencies)
_LOOP = "asyncio" if sys.platform == "win32" else "uvloop"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (TERMSVC_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TERMSVC_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes, each with its own caches (kept correct by the "
                                             "store generation) and up to 32 store connections. On 2 cores, 2 "
                                             "served up to twice the small uncached-path requests of 1 and the "
                                             "same cached large expansions (bench/README.md).")] = 1,
) -> None:
    """Serve the FHIR R4 terminology API at http://HOST:PORT/fhir."""
    import os

    import uvicorn

    settings = Settings.from_env(database_url=state.settings.database_url, host=host, port=port)
    _ensure_schema()
    os.environ["TERMSVC_DATABASE_URL"] = settings.database_url
    console.print(f"serving FHIR R4 at http://{settings.host}:{settings.port}/fhir "
                  f"(store: {settings.database_url})")
    # proxy_headers off: which proxies to believe is TERMSVC_TRUSTED_PROXIES' decision, judged by the proxy's own
    # address (uvicorn's middleware, trusting 127.0.0.1, put the forwarded client address in its place)
    uvicorn.run("termsvc.api.asgi:app", host=settings.host, port=settings.port, workers=workers,
                log_level="warning", access_log=False, http="httptools", loop=_LOOP, proxy_headers=False)


demo.register(app)


def main() -> None:
    try:
        app()
    except BadSetting as exc:
        # a bad TERMSVC_* value (or flag) is one line naming it, not a traceback
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    # Run as a script, this module is __main__ with its own `state`; the sub-commands read
    # termsvc.cli.main's, so hand over to that module.
    from termsvc.cli.main import main as package_main

    package_main()
