"""`termsvc demo`: the newcomer's first command. Loads every bundled sample in data-samples/ into the
store (SQLite by default), prints an example request, then serves the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import text

from termsvc.errors import LoadError, TermsvcError

# Loaded in this order; each folder of data-samples/ named after a loader kind is loaded with it.
SAMPLE_KINDS = ("icd10cm", "fhir", "loinc", "snomed", "rxnorm")

EXAMPLES = (
    "curl -s 'http://{host}:{port}/fhir/CodeSystem/$lookup?system=http://hl7.org/fhir/sid/icd-10-cm&code=E11.9'",
    "curl -s 'http://{host}:{port}/fhir/CodeSystem/$validate-code?url=http://hl7.org/fhir/sid/icd-10-cm"
    "&code=E11.9&display=Type%202%20diabetes%20mellitus%20without%20complications'",
    "curl -s -H 'Accept: application/fhir+xml' 'http://{host}:{port}/fhir/metadata'",
)


def load_samples(database_url: str, samples: Path) -> list[tuple[str, str, str]]:
    """Load each sample folder (replacing what an earlier demo loaded); return (kind, path, outcome) rows."""
    from termsvc.loaders.registry import LOADERS
    from termsvc.ops.loading import run_load
    from termsvc.store.engine import make_engine

    engine = make_engine(database_url, pool_size=1)
    results: list[tuple[str, str, str]] = []
    try:
        for kind in SAMPLE_KINDS:
            folder = samples / kind
            if kind not in LOADERS or not folder.is_dir():
                continue
            try:
                summary = run_load(engine, kind, folder, replace=True)
            except (LoadError, TermsvcError, ImportError) as exc:
                results.append((kind, str(folder), f"not loaded: {exc}"))
                continue
            concepts = sum(n for name, n in summary.counts.items() if not name.startswith("rows:")
                           and name not in ("ValueSet", "ConceptMap"))
            results.append((kind, str(folder), f"loaded ({concepts:,} concepts)"))
    finally:
        engine.dispose()
    return results


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        samples: Annotated[Path, typer.Option(help="The folder of sample releases.")] = Path("data-samples"),
        host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
        port: Annotated[int | None, typer.Option(help="Port.")] = None,
        serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server afterwards.")] = True,
    ) -> None:
        """Load data-samples/ into the store, print example requests, and serve the API."""
        from termsvc.cli.main import _ensure_schema, console, fail, state
        from termsvc.cli.main import serve as serve_command
        from termsvc.store.engine import make_engine

        if not samples.is_dir():
            raise fail(f"no sample folder at {samples} (run this from the repository, or pass --samples)")
        _ensure_schema()
        console.print(f"store: {state.settings.database_url}")
        for kind, folder, outcome in load_samples(state.settings.database_url, samples):
            console.print(f"  {kind:<8} {folder:<28} {outcome}")
        engine = make_engine(state.settings.database_url, pool_size=1)
        with engine.connect() as conn:
            systems = conn.execute(text("SELECT url, version, concept_count FROM code_system WHERE is_current "
                                        "ORDER BY url")).all()
        engine.dispose()
        console.print(f"{len(systems)} code systems are current in the store.")
        shown_host, shown_port = host or state.settings.host, port or state.settings.port
        console.print("\nTry:")
        for example in EXAMPLES:
            console.print("  " + example.format(host=shown_host, port=shown_port), highlight=False, soft_wrap=True)
        if serve:
            serve_command(host=host, port=port, workers=1)
